"""The firer's wire path: placements serialised by the adapters before T, framed replies, and the
one-thread loop (one request in flight per account, rate slots, staleness, stop on ambiguity),
against a loopback server of raw sockets."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from chalicelib.adapters.brokers.kite import KiteBroker
from chalicelib.adapters.brokers.wire import Connection, Job, Lane, Loop, parse_reply, response_of
from chalicelib.ports import broker_errors as errors
from tests.unit.brokers.helpers import Script, build, ok, order, text

ROW_KITE = {
    "order_id": "9", "status": "OPEN", "tradingsymbol": "NIFTY26N1723950CE",
    "transaction_type": "BUY", "quantity": 130, "filled_quantity": 0, "average_price": 0,
    "tag": "S1L1E0",
}  # fmt: skip


def reply(body: bytes = b'{"status":"success","data":{"order_id":"1"}}', status: int = 200):
    head = b"HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
    return head % (status, len(body)) + body


# -- framing -----------------------------------------------------------------------------------
def test_a_reply_is_complete_only_with_its_whole_body():
    whole = reply(b'{"a":1}')
    assert parse_reply(bytearray(whole[:-1])) is None
    status, headers, body, used = parse_reply(bytearray(whole + b"HTTP/1.1"))
    assert (status, body, used) == (200, b'{"a":1}', len(whole))
    assert (b"Content-Type", b"application/json") in headers


def test_chunked_replies_are_joined_and_interim_replies_skipped():
    raw = (
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b'4\r\n{"a"\r\n3;x=y\r\n:1}\r\n0\r\n\r\n'
    )
    assert parse_reply(bytearray(raw[:-2])) is None
    status, headers, body, used = parse_reply(bytearray(raw))
    assert (status, body, used) == (200, b'{"a":1}', len(raw))
    assert all(k.lower() != b"transfer-encoding" for k, _ in headers)


def test_a_reply_without_a_length_cannot_be_framed_on_a_kept_connection():
    with pytest.raises(ValueError, match="without a length"):
        parse_reply(bytearray(b"HTTP/1.1 200 OK\r\n\r\n{}"))


# -- the adapters serialise and read their own placements --------------------------------------
def test_prepared_bytes_are_what_place_sends_and_the_reply_is_read_the_same_way():
    script = Script().on(
        "POST", "/orders/regular", ok({"status": "success", "data": {"order_id": "7"}})
    )
    adapter = build(KiteBroker, script)
    prepared = adapter.prepare_place(order(tag="T1"))
    assert adapter.place(order(tag="T1")).order_id == "7"
    sent = script.requests[0]
    head, _, body = prepared.wire.partition(b"\r\n\r\n")
    assert head.split(b"\r\n")[0] == b"POST /orders/regular HTTP/1.1"
    assert body == sent.content
    for name in ("authorization", "x-kite-version", "content-type", "host"):
        assert sent.headers[name].encode() in head
    job = Job(prepared.wire, status=200, body=b'{"status":"success","data":{"order_id":"8"}}')
    job.headers = [(b"Content-Type", b"application/json")]
    assert adapter.finish_place(prepared, response_of(job, prepared.http)).order_id == "8"


def test_a_refusal_read_from_the_wire_is_the_dialect_error():
    adapter = build(KiteBroker, Script())
    prepared = adapter.prepare_place(order())
    refusal = httpx.Response(
        400, json={"status": "error", "error_type": "OrderException", "message": "no margin"}
    )
    with pytest.raises(errors.Rejected):
        adapter.finish_place(prepared, refusal)
    with pytest.raises(errors.Unavailable) as unreadable:  # a 2xx without an order id
        adapter.finish_place(prepared, httpx.Response(200, json={"status": "success"}))
    assert unreadable.value.sent


def test_an_ambiguous_wire_attempt_is_looked_up_before_any_resend():
    found = Script().on("GET", "/orders", ok({"status": "success", "data": [ROW_KITE]}))
    adapter = build(KiteBroker, found)
    failed = errors.Unavailable("no reply", broker="zerodha", code="ReadTimeout", sent=True)
    ack = adapter.place(order(tag=ROW_KITE["tag"], quantity=ROW_KITE["quantity"]), failed=failed)
    assert ack.recovered and ack.order_id == ROW_KITE["order_id"]
    assert not found.calls("POST", "/orders/regular")  # found by tag: never resent

    absent = Script().on("GET", "/orders", ok({"status": "success", "data": []}))
    absent.on("POST", "/orders/regular", ok({"status": "success", "data": {"order_id": "11"}}))
    adapter = build(KiteBroker, absent)
    assert adapter.place(order(), failed=failed).order_id == "11"
    assert len(absent.calls("POST", "/orders/regular")) == 1  # at most one resend
    assert len(absent.calls("GET", "/orders")) == len(adapter.config.lookup_delays)

    still = Script().on("GET", "/orders", ok({"status": "success", "data": []}))
    still.on("POST", "/orders/regular", text(503, "down"))
    with pytest.raises(errors.Unavailable) as unknown:
        build(KiteBroker, still).place(order(), failed=failed)
    assert unknown.value.sent and len(still.calls("POST", "/orders/regular")) == 1


# -- the loop ----------------------------------------------------------------------------------
@dataclass
class Server:
    """Loopback HTTP/1.1: each request's arrival (monotonic) per connection; replies chosen by
    ``answer(connection, index)`` (bytes, or None to stay silent); ``delay`` before each."""

    answer: Callable[[int, int], bytes | None]
    delay: float = 0.0
    arrivals: list[tuple[int, int, float]] = field(default_factory=list)
    replied: list[tuple[int, int, float]] = field(default_factory=list)

    def start(self) -> int:
        self.listener = socket.create_server(("127.0.0.1", 0))
        threading.Thread(target=self._accept, daemon=True).start()
        return int(self.listener.getsockname()[1])

    def _accept(self) -> None:
        number = 0
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn, number), daemon=True).start()
            number += 1

    def _serve(self, conn: socket.socket, number: int) -> None:
        buffer, index = b"", 0
        with conn:
            while True:
                try:
                    chunk = conn.recv(65536)
                except OSError:
                    return
                if not chunk:
                    return
                buffer += chunk
                while b"\r\n\r\n" in buffer:
                    head, _, rest = buffer.partition(b"\r\n\r\n")
                    length = next(
                        (int(v) for k, _, v in (h.partition(b":") for h in head.split(b"\r\n"))
                         if k.strip().lower() == b"content-length"), 0,
                    )  # fmt: skip
                    if len(rest) < length:
                        break
                    buffer = rest[length:]
                    self.arrivals.append((number, index, time.monotonic()))
                    time.sleep(self.delay)
                    out = self.answer(number, index)
                    if out is not None:
                        self.replied.append((number, index, time.monotonic()))
                        conn.sendall(out)
                    index += 1

    def stop(self) -> None:
        self.listener.close()


@pytest.fixture
def server() -> Iterator[Callable[..., tuple[Server, httpx.URL]]]:
    made: list[Server] = []

    def start(answer: Callable[[int, int], bytes | None], delay: float = 0.0):
        made.append(Server(answer, delay))
        return made[-1], httpx.URL(f"http://127.0.0.1:{made[-1].start()}/orders")

    yield start
    for s in made:
        s.stop()


def wire(n: int) -> bytes:
    return b"POST /orders HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n%d" % (n % 10)


def lane(url: httpx.URL, jobs: int, book=lambda: 0.0, timeout: float = 5.0, **job) -> Lane:
    return Lane(
        Connection.open(url, 2.0), [Job(wire(i), **job) for i in range(jobs)], book, timeout
    )


def test_each_account_has_one_request_in_flight_and_all_go_out(server):
    srv, url = server(lambda c, i: reply(), delay=0.02)
    lanes = [lane(url, 3) for _ in range(4)]
    Loop(lanes).run()
    assert all(j.status == 200 and j.sent_at and j.answered_at for ln in lanes for j in ln.jobs)
    assert len(srv.arrivals) == 12
    for conn in range(4):  # the next leg arrives only after the previous leg's reply left
        arrived = [t for c, _, t in srv.arrivals if c == conn]
        answered = [t for c, _, t in srv.replied if c == conn]
        assert all(arrived[i + 1] >= answered[i] for i in range(2))
    # the accounts' first legs went out together, not one account after another
    firsts = sorted(t for _, i, t in srv.arrivals if i == 0)
    assert firsts[-1] - firsts[0] < 0.02 * 3


def test_a_leg_waits_for_its_rate_slot(server):
    delays = iter([0.0, 0.15, 0.15])
    srv, url = server(lambda c, i: reply())
    one = lane(url, 3, book=lambda: next(delays))
    Loop([one]).run()
    gaps = [b.sent_at - a.sent_at for a, b in zip(one.jobs, one.jobs[1:], strict=False)]
    assert all(g >= 0.15 for g in gaps) and len(srv.arrivals) == 3


def test_no_reply_in_time_makes_the_order_ambiguous_and_stops_the_account(server):
    srv, url = server(lambda c, i: None if i == 1 else reply())
    one = lane(url, 3, timeout=0.2)
    Loop([one]).run()
    first, second, third = one.jobs
    assert first.status == 200 and second.sent_at is not None and third.sent_at is None
    assert isinstance(second.error, errors.Unavailable) and second.error.sent
    assert one.stopped_at == 2  # the third leg waits for the lookup of the second
    assert len(srv.arrivals) == 2


def test_a_5xx_stops_the_account_before_its_next_leg(server):
    _srv, url = server(lambda c, i: reply(b"{}", 503) if c == 0 else reply())
    bad, good = lane(url, 3), lane(url, 3)
    Loop([bad, good]).run()
    assert bad.jobs[0].status == 503 and bad.stopped_at == 1 and bad.jobs[1].sent_at is None
    assert all(j.status == 200 for j in good.jobs) and good.stopped_at is None


def test_a_slot_only_the_table_can_grant_leaves_the_rest_to_the_adapter(server):
    books = iter([0.0, None])
    _srv, url = server(lambda c, i: reply())
    one = lane(url, 3, book=lambda: next(books))
    Loop([one]).run()
    assert one.jobs[0].status == 200 and one.stopped_at == 1
    assert [j.sent_at is None for j in one.jobs] == [False, True, True]


def test_an_entry_past_its_bound_is_not_sent(server):
    srv, url = server(lambda c, i: reply())
    one = lane(url, 2, deadline=time.monotonic() - 1)
    Loop([one]).run()
    assert all(j.missed and j.sent_at is None for j in one.jobs) and not srv.arrivals


def test_a_connection_closed_by_the_broker_is_ambiguous_for_the_leg_in_flight(server):
    def answer(c: int, i: int) -> bytes:
        return b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}"

    _srv, url = server(answer)
    one = lane(url, 2)
    Loop([one]).run()
    assert one.jobs[0].status == 200 and one.stopped_at == 1 and one.jobs[1].sent_at is None


def test_a_limiter_that_raises_stops_only_its_account(server):
    def broken() -> float:
        raise RuntimeError("ProvisionedThroughputExceededException in the limiter")

    srv, url = server(lambda c, i: reply())
    bad, good = lane(url, 2, book=broken), lane(url, 2)
    Loop([bad, good]).run()
    assert bad.stopped_at == 0 and all(j.sent_at is None for j in bad.jobs)
    assert all(j.status == 200 for j in good.jobs) and len(srv.arrivals) == 2
