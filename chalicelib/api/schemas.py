"""Request schemas: the one source for request validation and for /openapi.json.

Shapes, types, enums and ranges are checked here; rules that need the market model or the caller's
accounts live in the domain. Unknown fields are refused, so a typo never silently drops a setting.
This module holds the ``Strict`` base every schema extends and the identity, account and basket
bodies; the strategy bodies are in ``strategy_schemas.py``.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, field_validator

from chalicelib.domain.brokers import BROKER_NAMES

BROKERS = BROKER_NAMES
Broker = Literal[BROKER_NAMES]  # type: ignore[valid-type]  # the catalogue's names, for the spec

Text = Annotated[str, Field(min_length=1, max_length=100)]
Identifier = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


# Dialect-specific secrets sealed with the API secret (Angel: mpin, totp_secret; Noren: vendor_code).
Secrets = Annotated[
    dict[
        Annotated[str, Field(pattern=r"^[a-z_]{1,32}$")],
        Annotated[str, Field(min_length=1, max_length=256)],
    ],
    Field(max_length=6),
]


# C0 controls except tab, DEL, C1 controls, the bidirectional embeddings, overrides and isolates
# (U+202A-202E, U+2066-2069) that make a name display as something else, and lone surrogates
# (valid in JSON escapes, not in UTF-8: DynamoDB would refuse the item).
_UNSAFE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
UNSAFE_TEXT = "must not contain control or bidirectional-override characters"


def _refuse_unsafe(value: object) -> None:
    if isinstance(value, str):
        if _UNSAFE.search(value):
            raise ValueError(UNSAFE_TEXT)
    elif isinstance(value, dict):
        for key, item in value.items():
            _refuse_unsafe(key)
            _refuse_unsafe(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _refuse_unsafe(item)


class Strict(BaseModel):
    """Unknown fields refused; no text field anywhere may carry control or bidi characters (they
    reach logs, notifications and the web app); ints and bools are never coerced from other
    JSON types (`lots: true` or `"2"` is a 400, not 1 or 2)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _safe_text(cls, value: object) -> object:
        _refuse_unsafe(value)
        return value


# ----- identity ----------------------------------------------------------------------------------
class SignupIn(Strict):
    email: Annotated[str, Field(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
    password: Annotated[str, Field(min_length=10, max_length=128)]
    name: Text
    phone: Annotated[str, Field(description="+91 followed by 10 digits starting 6-9")]
    state: Annotated[str, Field(description="one of the 28 states or 8 union territories")]


class ConfirmIn(Strict):
    email: Annotated[str, Field(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
    code: Annotated[str, Field(pattern=r"^[0-9]{4,10}$", description="the mailed digits")]


class LoginIn(Strict):
    email: Annotated[str, Field(max_length=254)]
    password: Annotated[str, Field(min_length=1, max_length=128)]


class RefreshIn(Strict):
    refresh_token: Annotated[
        str, Field(min_length=1, max_length=8192, description="from POST /auth/login")
    ]


class ProfilePatch(Strict):
    name: Text | None = None
    phone: str | None = None
    state: str | None = None


# ----- broker accounts ---------------------------------------------------------------------------
AccountRef = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


class AccountIn(Strict):
    broker: Broker
    client_id: Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")]
    label: Text
    api_key: Annotated[str, Field(min_length=1, max_length=256)] | None = None
    api_secret: Annotated[str, Field(min_length=1, max_length=256)] | None = None
    static_ip_note: Annotated[str, Field(max_length=200)] | None = None
    extra: Secrets | None = None
    quote_account_id: AccountRef | None = None

    def secrets(self) -> dict[str, str]:
        pairs = {"api_key": self.api_key, "api_secret": self.api_secret}
        return {**(self.extra or {}), **{k: v for k, v in pairs.items() if v}}


#: A day limit in rupees: positive, paise at most; null in a PATCH clears it.
DayLimit = Annotated[
    Decimal,
    Field(gt=0, le=Decimal("100000000"), decimal_places=2, allow_inf_nan=False,
          description="rupees; null clears the limit"),
]  # fmt: skip


class AccountPatch(Strict):
    label: Text | None = None
    api_key: Annotated[str, Field(min_length=1, max_length=256)] | None = None
    api_secret: Annotated[str, Field(min_length=1, max_length=256)] | None = None
    static_ip_note: Annotated[str, Field(max_length=200)] | None = None
    extra: Secrets | None = None
    # A paper account's quote source; "" goes back to the simulated exchange.
    quote_account_id: Annotated[str, Field(max_length=64, pattern=r"^[A-Za-z0-9_-]*$")] | None = (
        None
    )
    daily_loss_limit: DayLimit | None = None
    daily_profit_target: DayLimit | None = None
    version: StrictInt | None = None

    def secrets(self) -> dict[str, str]:
        pairs = {"api_key": self.api_key, "api_secret": self.api_secret}
        return {**(self.extra or {}), **{k: v for k, v in pairs.items() if v}}

    def day_limits(self) -> dict[str, Decimal | None]:
        """The day limits the request names (None clears one); absent ones are left alone."""
        names = ("daily_loss_limit", "daily_profit_target")
        return {name: getattr(self, name) for name in names if name in self.model_fields_set}


class SessionCodeIn(Strict):
    code: Annotated[str, Field(min_length=1, max_length=512)]


# ----- baskets -----------------------------------------------------------------------------------
class BasketIn(Strict):
    name: Text
    enabled: StrictBool = True


class BasketPatch(Strict):
    name: Text | None = None
    enabled: StrictBool | None = None
    version: StrictInt | None = None


# ----- optimistic locking ------------------------------------------------------------------------
class VersionIn(Strict):
    version: StrictInt | None = None
