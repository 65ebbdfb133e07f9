"""A trader's profile: Indian mobile number and state or union territory."""

from __future__ import annotations

import re
from dataclasses import dataclass

from chalicelib.errors import ValidationFailed

# Indian mobile numbers: +91 then 10 digits, the first 6-9 (TRAI numbering plan).
_PHONE = re.compile(r"^\+91[6-9]\d{9}$")

STATES: tuple[str, ...] = (
    "Andhra Pradesh", "Arunachal Pradesh", "Assam", "Bihar", "Chhattisgarh", "Goa", "Gujarat",
    "Haryana", "Himachal Pradesh", "Jharkhand", "Karnataka", "Kerala", "Madhya Pradesh",
    "Maharashtra", "Manipur", "Meghalaya", "Mizoram", "Nagaland", "Odisha", "Punjab", "Rajasthan",
    "Sikkim", "Tamil Nadu", "Telangana", "Tripura", "Uttar Pradesh", "Uttarakhand", "West Bengal",
)  # fmt: skip
UNION_TERRITORIES: tuple[str, ...] = (
    "Andaman and Nicobar Islands", "Chandigarh", "Dadra and Nagar Haveli and Daman and Diu",
    "Delhi", "Jammu and Kashmir", "Ladakh", "Lakshadweep", "Puducherry",
)  # fmt: skip
REGIONS: frozenset[str] = frozenset(STATES + UNION_TERRITORIES)
_REGIONS_BY_FOLDED = {name.casefold(): name for name in REGIONS}


@dataclass(frozen=True)
class Profile:
    uid: str
    email: str
    name: str
    phone: str
    state: str


def normalise_phone(raw: str, field: str = "phone") -> str:
    """Accept common spellings (spaces, dashes) but store +91XXXXXXXXXX."""
    compact = re.sub(r"[\s-]", "", raw or "")
    if not _PHONE.match(compact):
        raise ValidationFailed(
            "phone must be an Indian mobile number: +91 followed by 10 digits starting 6-9",
            field=field,
        )
    return compact


def normalise_state(raw: str, field: str = "state") -> str:
    """Map to the canonical name of one of the 28 states or 8 union territories."""
    name = _REGIONS_BY_FOLDED.get((raw or "").strip().casefold())
    if name is None:
        raise ValidationFailed(
            "state must be one of India's 28 states or 8 union territories", field=field
        )
    return name


def normalise_name(raw: str, field: str = "name") -> str:
    name = " ".join((raw or "").split())
    if not 1 <= len(name) <= 100:
        raise ValidationFailed("name must have 1 to 100 characters", field=field)
    return name
