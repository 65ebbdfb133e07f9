"""What the simulated exchange raises at a dialect, which words it in its broker's error body.

``OrderRefused`` is a request that never became an order (bad quantity, freeze limit, off-tick
price, unprotected MARKET, duplicate tag, unknown instrument); RMS and exchange checks instead
acknowledge an order and show it REJECTED (``sim.admission``). ``UnknownOrder`` is an order id
the account does not have.
"""

from __future__ import annotations


class OrderRefused(Exception):
    """A request that never became an order; ``code`` says why, ``message`` as a broker words it."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class UnknownOrder(KeyError):
    """No such order on this account."""
