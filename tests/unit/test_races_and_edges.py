"""Retrying a lost race, Chalice's own errors in the envelope, and ids that cannot be ids."""

import json

import pytest
from chalice import Response

from chalicelib.api.routing import MAX_PARAMETER, check_parameters, error_envelope
from chalicelib.errors import ConcurrentChange, Conflict, NotFound, ValidationFailed
from chalicelib.services.races import retry_races


def test_a_lost_race_is_retried_until_it_wins():
    attempts = []

    def operation():
        attempts.append(1)
        if len(attempts) < 3:
            raise ConcurrentChange("lost", code="version_conflict")
        return "won"

    assert retry_races(operation, sleep=lambda _: None) == "won"
    assert len(attempts) == 3


def test_a_race_lost_every_time_is_a_409_in_the_end():
    def operation():
        raise ConcurrentChange("lost", code="version_conflict")

    with pytest.raises(ConcurrentChange) as error:
        retry_races(operation, attempts=4, sleep=lambda _: None)
    assert error.value.status == 409


def test_a_stale_client_version_is_never_retried():
    attempts = []

    def operation():
        attempts.append(1)
        raise Conflict("stale", code="version_conflict")

    with pytest.raises(Conflict):
        retry_races(operation, sleep=lambda _: None)
    assert len(attempts) == 1


@pytest.mark.parametrize(
    ("status", "code"), [(405, "method_not_allowed"), (415, "unsupported_media_type")]
)
def test_chalice_errors_get_the_envelope_without_echoing_the_request(status, code):
    chalice_answer = Response(
        body={"Code": "X", "Message": "Unsupported: Bearer SECRET"},
        status_code=status,
        headers={"Allow": "GET, POST"},
    )
    answer = error_envelope({}, lambda event: chalice_answer)
    body = json.loads(answer.body)
    assert answer.status_code == status and body["error"]["code"] == code
    assert "SECRET" not in answer.body
    assert (answer.headers.get("Allow") == "GET, POST") is (status == 405)


def test_our_own_answers_pass_through_the_envelope_untouched():
    ours = Response(body='{"error": {}}', status_code=404)
    assert error_envelope({}, lambda event: ours) is ours


@pytest.mark.parametrize("value", ["x" * (MAX_PARAMETER + 1), "a\x00b", "a\ud800", "a\u202eb"])
def test_ids_that_cannot_be_ids_are_404_and_such_queries_400(value):
    with pytest.raises(NotFound) as error:
        check_parameters({"basket_id": value}, {})
    assert error.value.field == "basket_id"
    with pytest.raises(ValidationFailed) as error:
        check_parameters({}, {"date": value})
    assert error.value.field == "date"


def test_ordinary_ids_and_queries_pass():
    check_parameters({"strategy_id": "0123456789abcdef"}, {"date": "2026-11-25"})
