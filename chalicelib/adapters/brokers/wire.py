"""Pre-serialised placements on sockets opened before T, sent from one event loop at T.

Why: at T the cost that decides how late the last order leaves is interpreter time per order. An
httpx request costs about 0.5 ms of CPU (building, encoding, its pool's locks) and hundreds of
threads contend for the one interpreter lock; a prepared request costs one ``send`` and one
``recv``. So before T each account's placement requests are serialised by the adapters themselves
(``HttpBroker.prepare_place``) and one keep-alive connection per account is opened to the order
host (``Connection.open``); at T ``run`` writes them from one thread with one request in flight
per account (the next leg of an account leaves when the broker answered the previous one: BUY
legs before SELL legs stay ordered at the broker) and each write waits for its rate slot.

What this module decides is only where the bytes of a reply end: the reply is read by the
adapter afterwards (``HttpBroker.finish_place``). A lane stops at the first failure that makes
its order's fate ambiguous (no reply in time, the connection closed, a 5xx) or when its limiter
cannot book a slot from memory; its remaining orders go through the adapter's own ``place``
after the ambiguous one is resolved, as they would have without this path.
"""

from __future__ import annotations

import contextlib
import heapq
import selectors
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from chalicelib.ports.broker_errors import Unavailable

READ_SIZE = 65536
#: (account key) -> seconds until its next rate slot, or None when it cannot book from memory.
Book = Callable[[], float | None]


class Connection:
    """One keep-alive connection to an order host, opened (and its TLS handshake done) before T."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    @classmethod
    def open(cls, url: httpx.URL, connect_timeout: float) -> Connection:
        port = url.port or (443 if url.scheme == "https" else 80)
        sock = socket.create_connection((url.host, port), timeout=connect_timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if url.scheme == "https":
            sock = _tls_context().wrap_socket(sock, server_hostname=url.host)
        sock.setblocking(False)
        return cls(sock)

    def idle_and_open(self) -> bool:
        """True while the peer has not closed it (an idle connection has nothing to read)."""
        try:
            ready = selectors.DefaultSelector()
            with ready:
                ready.register(self.sock, selectors.EVENT_READ)
                return not ready.select(0)
        except (OSError, ValueError):
            return False

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


_TLS: list[ssl.SSLContext] = []


def _tls_context() -> ssl.SSLContext:
    if not _TLS:
        try:
            import certifi

            _TLS.append(ssl.create_default_context(cafile=certifi.where()))
        except ImportError:  # pragma: no cover - certifi comes with httpx
            _TLS.append(ssl.create_default_context())
    return _TLS[0]


@dataclass
class Job:
    """One prepared placement of a lane and what became of it (monotonic times)."""

    wire: bytes
    #: Not sent after this monotonic instant (an entry's staleness bound); None: no bound.
    deadline: float | None = None
    sent_at: float | None = None
    answered_at: float | None = None
    status: int = 0
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""
    #: Set when the reply never came complete: the order may exist (``sent``) or not.
    error: Unavailable | None = None
    missed: bool = False


@dataclass
class Lane:
    """One account: its connection, its jobs in order, at most one in flight."""

    connection: Connection
    jobs: list[Job]
    book: Book
    read_timeout: float
    broker: str = ""
    #: Index of the first job this loop did not handle (the adapter's ``place`` sends the rest).
    stopped_at: int | None = None
    _next: int = 0
    _booked: bool = False
    _inflight: Job | None = None
    _buffer: bytearray = field(default_factory=bytearray)
    _pending: bytes = b""
    _timer: int = 0

    @property
    def done(self) -> bool:
        return self.stopped_at is not None or (
            self._inflight is None and self._next >= len(self.jobs)
        )


class Loop:
    """The sending loop: a selector for replies and a heap of timers (rate slots, timeouts)."""

    def __init__(self, lanes: list[Lane], monotonic: Callable[[], float] = time.monotonic) -> None:
        self.lanes = lanes
        self.now = monotonic
        self.selector = selectors.DefaultSelector()
        self.timers: list[tuple[float, int, int, Lane]] = []
        self._seq = 0

    def run(self) -> None:
        for lane in self.lanes:
            self.selector.register(lane.connection.sock, selectors.EVENT_READ, lane)
        try:
            now = self.now()
            for lane in self.lanes:
                self._step(self._advance, lane, now)
                if lane.done:
                    self._forget(lane)
            left = sum(1 for lane in self.lanes if not lane.done)
            while left:
                wait = max(0.0, self.timers[0][0] - self.now()) if self.timers else None
                for key, mask in self.selector.select(wait):
                    lane = key.data
                    if lane.done:
                        continue
                    if mask & selectors.EVENT_WRITE:
                        self._step(self._write, lane, self.now())
                    if mask & selectors.EVENT_READ and not lane.done:
                        self._step(self._read, lane, self.now())
                    if lane.done:
                        left -= 1
                        self._forget(lane)
                now = self.now()
                while self.timers and self.timers[0][0] <= now:
                    _, _, token, lane = heapq.heappop(self.timers)
                    if lane.done or token != lane._timer:
                        continue
                    self._step(self._expire, lane, now)
                    if lane.done:
                        left -= 1
                        self._forget(lane)
        finally:
            self.selector.close()
            for lane in self.lanes:
                lane.connection.close()

    def _step(self, step: Callable[[Lane, float], None], lane: Lane, now: float) -> None:
        """One lane's step; whatever it raises (a limiter's storage error...) stops that lane
        only: its order in flight is ambiguous, the rest go through the adapter's own path."""
        try:
            step(lane, now)
        except Exception as exc:
            self._fail(lane, f"unexpected failure: {type(exc).__name__}: {exc}", "unexpected")

    # -- lane steps ---------------------------------------------------------------------------
    def _advance(self, lane: Lane, now: float) -> None:
        """Send the lane's next job, or arm the timer of its rate slot."""
        while lane._inflight is None and lane._next < len(lane.jobs):
            job = lane.jobs[lane._next]
            if not lane._booked:
                if job.deadline is not None and now > job.deadline:
                    job.missed = True
                    lane._next += 1
                    continue
                delay = lane.book()
                if delay is None:  # only the limiter's store can grant it: the adapter sends
                    self._stop(lane, lane._next)
                    return
                lane._booked = True
                if delay > 0:
                    self._arm(lane, now + delay)
                    return
            lane._booked = False
            try:
                written = lane.connection.sock.send(job.wire)
            except (ssl.SSLWantWriteError, ssl.SSLWantReadError, BlockingIOError):
                written = 0
            except OSError:  # nothing of it left: the adapter sends it again, normally
                self._stop(lane, lane._next)
                return
            job.sent_at = now
            lane._inflight, lane._next = job, lane._next + 1
            self._arm(lane, now + lane.read_timeout)
            if written < len(job.wire):
                lane._pending = job.wire[written:]
                self._want_write(lane, True)
            return

    def _write(self, lane: Lane, now: float) -> None:
        try:
            written = lane.connection.sock.send(lane._pending)
        except (ssl.SSLWantWriteError, ssl.SSLWantReadError, BlockingIOError):
            return
        except OSError as exc:
            self._fail(lane, f"connection failed while sending: {exc}", "WriteError")
            return
        lane._pending = lane._pending[written:]
        if not lane._pending:
            self._want_write(lane, False)

    def _read(self, lane: Lane, now: float) -> None:
        sock = lane.connection.sock
        try:
            while True:
                chunk = sock.recv(READ_SIZE)
                if not chunk:
                    self._fail(lane, "connection closed before the reply", "RemoteProtocolError")
                    return
                lane._buffer += chunk
                if not isinstance(sock, ssl.SSLSocket) or not sock.pending():
                    break
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
            pass
        except OSError as exc:
            self._fail(lane, f"connection failed: {exc}", "ReadError")
            return
        job = lane._inflight
        if job is None:  # bytes nobody asked for: the connection cannot be trusted
            self._stop(lane, lane._next)
            return
        try:
            reply = parse_reply(lane._buffer)
        except (ValueError, IndexError) as exc:
            self._fail(lane, f"unreadable reply: {exc}", "malformed_reply")
            return
        if reply is None:
            return
        job.status, job.headers, job.body, used = reply
        job.answered_at = now
        del lane._buffer[:used]
        lane._inflight = None
        lane._timer += 1  # the read timeout is void
        closing = any(k.lower() == b"connection" and v.lower() == b"close" for k, v in job.headers)
        if job.status >= 500 or closing or lane._buffer:
            self._stop(lane, lane._next)  # resolve before the account's next leg leaves
            return
        self._advance(lane, now)

    def _expire(self, lane: Lane, now: float) -> None:
        if lane._inflight is not None:
            self._fail(lane, "no reply within the read timeout", "ReadTimeout")
        else:
            self._advance(lane, now)

    def _fail(self, lane: Lane, message: str, code: str) -> None:
        job = lane._inflight
        if job is not None:
            job.error = Unavailable(message, broker=lane.broker, code=code, sent=True)
            lane._inflight = None
        self._stop(lane, lane._next)

    # -- bookkeeping ----------------------------------------------------------------------------
    def _stop(self, lane: Lane, at: int) -> None:
        lane.stopped_at = at
        lane._timer += 1

    def _arm(self, lane: Lane, when: float) -> None:
        lane._timer += 1
        self._seq += 1
        heapq.heappush(self.timers, (when, self._seq, lane._timer, lane))

    def _want_write(self, lane: Lane, on: bool) -> None:
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if on else 0)
        self.selector.modify(lane.connection.sock, events, lane)

    def _forget(self, lane: Lane) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(lane.connection.sock)
        if lane.stopped_at is not None:
            lane.connection.close()  # whatever is left goes through the adapter's own client


def parse_reply(buffer: bytearray) -> tuple[int, list[tuple[bytes, bytes]], bytes, int] | None:
    """(status, headers, body, bytes used) of the first complete HTTP/1.1 reply in ``buffer``;
    None while it is incomplete. Interim 1xx replies are skipped."""
    start = 0
    while True:
        end = buffer.find(b"\r\n\r\n", start)
        if end < 0:
            return None
        lines = bytes(buffer[start:end]).split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        headers = [_header(line) for line in lines[1:] if line]
        body_start = end + 4
        if 100 <= status < 200:
            start = body_start
            continue
        length, chunked = None, False
        for name, value in headers:
            low = name.lower()
            if low == b"content-length":
                length = int(value)
            elif low == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        if chunked:
            decoded = _dechunk(buffer, body_start)
            if decoded is None:
                return None
            body, used = decoded
            headers = [(k, v) for k, v in headers if k.lower() != b"transfer-encoding"]
            return status, headers, body, used
        if length is None:
            length = 0 if status in (204, 304) else None
        if length is None:  # delimited by the connection's end: never on a kept connection
            raise ValueError(f"HTTP {status} reply without a length")
        if len(buffer) - body_start < length:
            return None
        return status, headers, bytes(buffer[body_start : body_start + length]), body_start + length


def _header(line: bytes) -> tuple[bytes, bytes]:
    name, _, value = line.partition(b":")
    return name.strip(), value.strip()


def _dechunk(buffer: bytearray, at: int) -> tuple[bytes, int] | None:
    body = bytearray()
    while True:
        line_end = buffer.find(b"\r\n", at)
        if line_end < 0:
            return None
        size = int(bytes(buffer[at:line_end]).split(b";")[0], 16)
        at = line_end + 2
        if size == 0:
            trailer_end = buffer.find(b"\r\n", at)
            while trailer_end > at:  # trailer fields, up to the empty line
                at = trailer_end + 2
                trailer_end = buffer.find(b"\r\n", at)
            if trailer_end < 0:
                return None
            return bytes(body), trailer_end + 2
        if len(buffer) < at + size + 2:
            return None
        body += buffer[at : at + size]
        at += size + 2


def response_of(job: Job, request: httpx.Request) -> httpx.Response:
    """The job's reply as an httpx response (its body decoded as httpx would: gzip and so on)."""
    headers = [(k, v) for k, v in job.headers if k.lower() != b"content-length"]
    return httpx.Response(job.status, headers=headers, content=job.body, request=request)
