"""Refusals in a broker's own words: one declaration per fake, one mapping for all of them.

Every fake refuses the same things (a bad or expired token, a request from an unregistered IP,
too many requests, a server fault, an unknown route, bad input, an order the exchange refuses,
an order id the account does not have); each broker words them in its own error body, status
and codes. A dialect declares that wording once with ``refusals()``; the base server answers
the shared checks with it, and runs every handler under ``Refusals.guard`` so a handler raises
``BadInput`` / ``OrderRefused`` / ``UnknownOrder`` instead of catching them itself.

``kind`` is token|ip|rate|server|input|order|not_found, plus whatever a dialect's own login
pages use (``login``, ``code``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from werkzeug.wrappers import Response

from sim.brokers.common import BadInput
from sim.brokers.wsgi import json_response
from sim.errors import OrderRefused, UnknownOrder

#: (kind, message) -> the dialect's error body.
Body = Callable[[str, str], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Refusals:
    """How one dialect words its refusals (build it with ``refusals()``)."""

    body: Body
    token_status: int
    token_message: str
    ip_message: str
    unknown_order: tuple[str, str, int]
    order_refused: str
    statuses: Mapping[str, int] = field(default_factory=dict)

    def reply(self, kind: str, message: str, status: int) -> Response:
        """The dialect's error reply (a kind it always answers with one status gets that)."""
        return json_response(self.body(kind, message), self.statuses.get(kind, status))

    def token(self) -> Response:
        """A missing, unknown or expired token."""
        return self.reply("token", self.token_message, self.token_status)

    def ip(self, address: str) -> Response:
        """An order from an IP the app did not register."""
        return self.reply("ip", self.ip_message.format(ip=address), 403)

    def rate(self) -> Response:
        """Over the requests-per-second window."""
        return self.reply("rate", "Too many requests", 429)

    def server(self, status: int, message: str) -> Response:
        """A fault on the broker's side."""
        return self.reply("server", message, status)

    def no_route(self, method: str, path: str) -> Response:
        """A path the dialect does not serve."""
        return self.reply("not_found", f"Route not found: {method} {path}", 404)

    def guard(self, call: Callable[[], Response], *, orders: bool) -> Response:
        """Run a handler, answering what it raises: bad input, an unknown order id, and an
        order the exchange refused (as ``order_refused`` on order endpoints, else as input)."""
        try:
            return call()
        except BadInput as exc:
            return self.reply("input", str(exc), 400)
        except UnknownOrder:
            kind, message, status = self.unknown_order
            return self.reply(kind, message, status)
        except OrderRefused as exc:
            return self.reply(self.order_refused if orders else "input", exc.message, 400)


def refusals(
    body: Body,
    *,
    token: tuple[int, str],
    ip: str,
    unknown_order: tuple[str, str, int],
    order_refused: str = "order",
    statuses: Mapping[str, int] | None = None,
) -> Refusals:
    """A dialect's wording: its error ``body``, the (status, message) of a bad token, the
    static-IP refusal (``{ip}`` is the caller's address), the (kind, message, status) of an
    unknown order id, the kind an order endpoint answers a refused order with, and kinds the
    broker always answers with one status (Noren words input errors in a 200)."""
    status, message = token
    return Refusals(body, status, message, ip, unknown_order, order_refused, dict(statuses or {}))
