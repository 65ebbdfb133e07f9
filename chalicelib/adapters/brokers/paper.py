"""Paper trading: the Kite dialect against the simulated exchange's fake Kite server.

Paper mode must run the same code path as live trading, so it is not a separate in-process
engine: ``sim/`` (the simulated exchange) is not packaged into the Lambdas and must never be
imported from ``chalicelib``. Instead the paper adapter IS the Kite adapter, pointed at the sim's
Kite-dialect server over HTTP (``python -m sim.servers``, loopback for ``make run``; any host the
deployment can reach on AWS). Orders, fills, partial fills, rejections and 429s then exercise
the real mapping, retry and recovery code. The only differences are the name (so sessions and
limiter keys stay separate from a real Zerodha account) and that there is no default host: the
sim's URL must be configured.
"""

from __future__ import annotations

from collections.abc import Mapping

from chalicelib.adapters.brokers.kite import KiteBroker


class PaperBroker(KiteBroker):
    name = "paper"
    default_hosts: Mapping[str, str] = {}
