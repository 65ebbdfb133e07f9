"""The httpx client every adapter talks through, and how its replies and masters are read.

Timeouts are explicit (a hung broker must not eat the second we have to place an order in) and
redirects are off (a broker redirecting an order request is a failure, not a hint).
"""

from __future__ import annotations

import gzip
import io
import json
import zipfile
from typing import Any

import httpx

#: Connect fast or fail; reads may take a little longer (order book, quotes). Masters are big:
#: ``instruments()`` passes its own read timeout.
DEFAULT_TIMEOUT = httpx.Timeout(connect=3.0, read=5.0, write=5.0, pool=2.0)
MASTER_TIMEOUT = httpx.Timeout(60.0, connect=5.0)


def make_client(
    *,
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    transport: httpx.BaseTransport | None = None,
) -> httpx.Client:
    """An httpx client for one broker: explicit timeouts, no redirects, an uncapped keep-alive
    pool."""
    return httpx.Client(
        timeout=timeout,
        transport=transport,
        follow_redirects=False,
        # One client serves every account of a broker in a process: a cap below the account
        # count would queue one account's order behind another's at T.
        limits=httpx.Limits(max_connections=None, max_keepalive_connections=1024),
        headers={"User-Agent": "optexec-broker-adapter"},
    )


def decode_body(response: httpx.Response) -> Any:
    """JSON when the body is JSON, else the text (some gateways answer plain text or HTML)."""
    if not response.content:
        return None
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return response.text


def unpack(content: bytes) -> bytes:
    """Masters come as plain text, gzip (Upstox) or zip (Noren): return the plain bytes."""
    if content[:2] == b"\x1f\x8b":
        return gzip.decompress(content)
    if content[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            return archive.read(archive.namelist()[0])
    return content


def join_csv(first: bytes, second: bytes, *, header: bool = True) -> bytes:
    """Two CSV downloads as one file (the second's header dropped when ``header``)."""
    if header:
        second = second.partition(b"\n")[2]
    if first and not first.endswith(b"\n"):
        first += b"\n"
    return first + second
