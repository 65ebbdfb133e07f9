import pytest

from chalicelib.domain.profile import (
    REGIONS,
    STATES,
    UNION_TERRITORIES,
    normalise_name,
    normalise_phone,
    normalise_state,
)
from chalicelib.errors import ValidationFailed


def test_28_states_and_8_union_territories():
    assert len(STATES) == 28 and len(UNION_TERRITORIES) == 8 and len(REGIONS) == 36


@pytest.mark.parametrize(
    ("raw", "stored"),
    [("+919876543210", "+919876543210"), ("+91 98765 43210", "+919876543210"),
     ("+91-6000000000", "+916000000000"), ("+917999999999", "+917999999999")],
)  # fmt: skip
def test_valid_phones(raw, stored):
    assert normalise_phone(raw) == stored


@pytest.mark.parametrize(
    "raw", ["9876543210", "+915876543210", "+91987654321", "+9198765432100", "+449876543210", "",
            "+91abcdefghij", "+910876543210"],
)  # fmt: skip
def test_invalid_phones_name_the_field(raw):
    with pytest.raises(ValidationFailed) as error:
        normalise_phone(raw, field="phone")
    assert error.value.field == "phone"


def test_states_are_canonicalised():
    assert normalise_state(" tamil nadu ") == "Tamil Nadu"
    assert normalise_state("LADAKH") == "Ladakh"
    with pytest.raises(ValidationFailed):
        normalise_state("Bombay")


def test_names():
    assert normalise_name("  Asha   Rao ") == "Asha Rao"
    with pytest.raises(ValidationFailed):
        normalise_name("   ")
    with pytest.raises(ValidationFailed):
        normalise_name("x" * 101)
