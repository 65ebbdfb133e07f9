"""A placement request as data: what a dialect builds, and the bytes prepared before T.

``HttpBroker.place`` sends a ``PlaceCall`` through httpx; the firer's fast path
(``wire.py``) sends a ``PreparedPlace``'s bytes on a socket opened ahead of time. Both come from
the same dialect code (``_place_call``), so the two paths cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from chalicelib.ports.broker import OrderRequest


@dataclass(frozen=True)
class PlaceCall:
    """A dialect's placement request before it is sent: what ``_call`` takes."""

    method: str
    host: str
    path: str
    kwargs: dict[str, Any]


@dataclass(frozen=True)
class PreparedPlace:
    """A placement serialised ahead of time: the request, httpx's request, the wire bytes."""

    request: OrderRequest
    http: httpx.Request
    wire: bytes


def wire_bytes(http: httpx.Request) -> bytes:
    """``http`` as HTTP/1.1 bytes (request line, the headers httpx would send, body)."""
    head = b"%s %s HTTP/1.1\r\n" % (http.method.encode(), http.url.raw_path)
    lines = b"".join(b"%s: %s\r\n" % (k, v) for k, v in http.headers.raw)
    return head + lines + b"\r\n" + http.read()
