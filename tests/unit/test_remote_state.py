"""AWS stages keep Terraform state in S3 (locked, versioned), emulator stages under .run/: the
apply refuses any other combination, so `make clean` can never orphan real resources."""

from __future__ import annotations

import pytest

from localdev import remote_state, terraform


def test_an_aws_stage_without_the_s3_backend_is_refused(tmp_path):
    with pytest.raises(SystemExit, match="make bootstrap"):
        terraform._state_args(tmp_path, None, tmp_path / "work")


def test_an_emulator_stage_keeps_local_state_and_refuses_the_backend(tmp_path):
    work = tmp_path / "work"
    assert terraform._state_args(tmp_path, "http://127.0.0.1:4566", work) == [
        f"-state={work / 'terraform.tfstate'}"
    ]
    remote_state.write_backend(tmp_path, "b", "optexec", "dev", "ap-south-1")
    with pytest.raises(SystemExit, match="S3 state"):
        terraform._state_args(tmp_path, "http://127.0.0.1:4566", work)
    assert terraform._state_args(tmp_path, None, work) == []  # AWS: the backend, no -state
    remote_state.remove_backend(tmp_path)
    assert not (tmp_path / remote_state.BACKEND_FILE).exists()


def test_the_backend_is_per_stage_encrypted_and_locked():
    text = remote_state.backend_tf("optexec-tfstate-1-ap-south-1", "optexec", "prod", "ap-south-1")
    assert 'key          = "optexec/prod.tfstate"' in text
    assert "use_lockfile = true" in text and "encrypt      = true" in text
    assert (
        remote_state.bucket_name("optexec", "123", "ap-south-1") == "optexec-tfstate-123-ap-south-1"
    )


def test_the_platform_copy_never_carries_the_backend(tmp_path):
    source = tmp_path / "infra"
    source.mkdir()
    (source / "main.tf").write_text("# main\n")
    remote_state.write_backend(source, "b", "optexec", "dev", "ap-south-1")
    copied = terraform._platform_copy(source, tmp_path / "copy")
    assert sorted(p.name for p in copied.iterdir()) == ["main.tf"]
