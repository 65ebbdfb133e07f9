"""The shared classifier: how any dialect's table is read (rows in order, any condition of a row,
retryability, plain-text rows, the fallback, bodies the table does not own)."""

from __future__ import annotations

import httpx
import pytest

from chalicelib.adapters.brokers.conversions import pick
from chalicelib.adapters.brokers.error_table import (
    IP_REFUSED,
    SERVER_ERROR,
    ErrorTable,
    Fault,
    Rule,
    text_of,
)
from chalicelib.adapters.brokers.registry import ADAPTERS
from chalicelib.ports import broker_errors as errors

TABLE = ErrorTable(
    failed=lambda body: body.get("ok") is False,
    read=lambda body: Fault(text_of(body.get("msg")), text_of(body.get("code")) or None),
    text_rules=(Rule(errors.RateLimited, words=("slow down",)),),
    rules=(
        Rule(errors.RateLimited, statuses={429}, codes={"R1"}),
        IP_REFUSED,
        Rule(errors.AuthExpired, statuses={401}, words=("session",)),
        SERVER_ERROR,
        Rule(errors.Unavailable, codes={"U1"}, retryable=False),
        Rule(errors.Rejected, words=("rms",)),
    ),
    fallback=errors.InvalidOrder,
)


def classify(status: int, body: object) -> errors.BrokerError | None:
    if isinstance(body, str):
        return TABLE.classify("demo", httpx.Response(status, text=body), body)
    return TABLE.classify("demo", httpx.Response(status, json=body), body)


def test_a_success_or_a_body_the_table_does_not_own_is_left_alone():
    assert classify(200, {"ok": True, "msg": "RMS"}) is None
    assert classify(500, ["not", "a", "dict"]) is None
    assert classify(403, "a gateway's text") is None


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (200, {"ok": False, "code": "R1", "msg": "session rms"}, errors.RateLimited),
        (429, {"ok": False, "msg": "session"}, errors.RateLimited),
        (400, {"msg": "Your IP is not whitelisted", "code": "R2"}, errors.IpNotAllowed),
        (400, {"msg": "Session expired"}, errors.AuthExpired),
        (401, {"msg": "RMS: margin"}, errors.AuthExpired),
        (503, {"msg": "RMS: margin"}, errors.Unavailable),
        (400, {"msg": "RMS: margin"}, errors.Rejected),
        (400, {"msg": "bad field"}, errors.InvalidOrder),
    ],
)
def test_the_first_row_any_of_whose_conditions_holds_wins(status, body, expected):
    error = classify(status, body)
    assert type(error) is expected
    assert error.broker == "demo" and error.http_status == status


def test_the_broker_words_and_code_are_kept_and_a_missing_message_takes_the_reason():
    error = classify(400, {"ok": False, "code": "X9"})
    assert (error.message, error.code) == ("Bad Request", "X9")
    assert classify(400, {"msg": "bad field", "code": "X9"}).message == "bad field"


@pytest.mark.parametrize(("status", "retryable"), [(500, False), (502, True), (504, True)])
def test_a_server_row_is_retryable_only_for_gateway_statuses(status, retryable):
    error = classify(status, {"msg": "down"})
    assert isinstance(error, errors.Unavailable) and error.retryable is retryable


def test_an_unavailable_row_may_fix_retryability():
    error = classify(200, {"ok": False, "code": "U1", "msg": "busy"})
    assert isinstance(error, errors.Unavailable) and error.retryable is False


def test_text_rows_read_a_plain_text_body():
    error = classify(403, "  Please SLOW DOWN \n")
    assert type(error) is errors.RateLimited
    assert (error.message, error.code, error.http_status) == ("Please SLOW DOWN", None, 403)


def test_pick_takes_and_renames_fields_from_another_request():
    fields = {"a": 1, "b": "x", "c": 2.5}
    assert pick(fields, "a", "c", bee="b") == {"a": 1, "c": 2.5, "bee": "x"}
    with pytest.raises(KeyError):
        pick(fields, "missing")


@pytest.mark.parametrize("broker", sorted(ADAPTERS))
def test_every_catalogued_adapter_declares_its_error_table(broker):
    assert isinstance(ADAPTERS[broker].errors, ErrorTable)
