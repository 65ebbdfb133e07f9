"""The limit sender: the least a client can do to put N orders at the fake brokers at T.

Request bytes are built before T by the adapters themselves (``HttpBroker.prepare_place``, the
same dialect code as ``place``); one keep-alive socket per account is opened before T; at T one
event loop (a bare selector, no limiter, no staleness check, no bookkeeping) writes each
account's first request, and each reply's arrival writes that account's next one (one request in
flight per account). Replies are framed by Content-Length only (the fakes always send it). What
is left between this and the firer is what the firer's safety costs at T.
"""

from __future__ import annotations

import gc
import selectors
import socket
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Account:
    sock: socket.socket
    wires: list[bytes]
    sent: int = 0
    buffer: bytearray = field(default_factory=bytearray)
    answered: int = 0


def open_accounts(prepared: list[list[Any]]) -> list[Account]:
    """One socket per account (``prepared``: each account's PreparedPlace list), before T."""
    accounts = []
    for places in prepared:
        url = places[0].http.url
        sock = socket.create_connection((url.host, url.port or 80), timeout=3)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        accounts.append(Account(sock, [p.wire for p in places]))
    return accounts


def send_at(accounts: list[Account], t_mono: float) -> dict[str, float]:
    """Wait (sleep, then spin the last 3 ms) for ``t_mono``, send everything; CPU and wall."""
    while (left := t_mono - time.monotonic()) > 0.003:
        time.sleep(left - 0.003)
    while time.monotonic() < t_mono:
        pass
    collecting = gc.isenabled()
    gc.disable()  # as the firer's loop does
    cpu0, wall0 = time.thread_time(), time.monotonic()
    selector = selectors.DefaultSelector()
    pending = 0
    for account in accounts:
        selector.register(account.sock, selectors.EVENT_READ, account)
        account.sock.send(account.wires[0])
        account.sent = 1
        pending += len(account.wires)
    while pending:
        for key, _ in selector.select(5.0):
            account = key.data
            account.buffer += account.sock.recv(65536)
            while (end := account.buffer.find(b"\r\n\r\n")) >= 0:
                length = _content_length(account.buffer[:end])
                if len(account.buffer) < end + 4 + length:
                    break
                del account.buffer[: end + 4 + length]
                account.answered += 1
                pending -= 1
                if account.sent < len(account.wires):
                    account.sock.send(account.wires[account.sent])
                    account.sent += 1
    cpu = time.thread_time() - cpu0
    wall = time.monotonic() - wall0
    if collecting:
        gc.enable()
    selector.close()
    for account in accounts:
        account.sock.close()
    return {"cpu_s": cpu, "wall_s": wall}


def _content_length(head: bytearray) -> int:
    for line in bytes(head).split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0
