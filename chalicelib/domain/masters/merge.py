"""Several brokers' masters as one: each contract once, carrying every broker's symbol and token.

Each dialect's master lists the same exchange contracts under its own names, so the market model
needs one index where a ``ContractKey`` answers with the Angel token, the Upstox key and the Dhan
security id alike. Contract facts (exchange, lot, tick) come from the first master that lists the
contract: callers pass the freshest master first, so a broker whose file is a day stale cannot
override today's lot-size revision. A disagreement is kept and reported rather than hidden, since
it means one of the files is wrong for that contract.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from chalicelib.domain.instrument import (
    Broker,
    BrokerRef,
    ContractKey,
    Instrument,
    InstrumentMaster,
)


@dataclass(frozen=True, slots=True)
class MergedMaster:
    """The combined master and what did not agree while combining."""

    master: InstrumentMaster
    conflicts: tuple[str, ...] = field(default=())


def merge_masters(masters: Iterable[InstrumentMaster], *, source: str = "") -> MergedMaster:
    """One master listing every contract of ``masters`` with the union of their broker refs.

    Earlier masters win: on lot size, tick size, exchange (a conflict is recorded) and on a broker
    reference two masters both carry (one master per dialect is the normal case). Freeze quantity
    is the first one given, since only some dialects (Upstox) print it.
    """
    facts: dict[ContractKey, Instrument] = {}
    refs: dict[ContractKey, dict[Broker, BrokerRef]] = {}
    freeze: dict[ContractKey, int | None] = {}
    conflicts: list[str] = []
    names = []
    for master in masters:
        names.append(master.source)
        for instrument in master:
            key = instrument.key
            first = facts.get(key)
            if first is None:
                facts[key] = instrument
                refs[key] = dict(instrument.refs)
                freeze[key] = instrument.freeze_qty
                continue
            conflicts.extend(_disagreements(first, instrument, master.source))
            known = refs[key]
            for broker, ref in instrument.refs.items():
                if broker not in known:
                    known[broker] = ref
                elif known[broker] != ref:
                    conflicts.append(
                        f"{key}: {broker} ref {ref} in {master.source} vs {known[broker]}"
                    )
            if freeze[key] is None:
                freeze[key] = instrument.freeze_qty
    merged = InstrumentMaster(
        (
            Instrument(
                key=key,
                exchange=first.exchange,
                lot_size=first.lot_size,
                tick_size=first.tick_size,
                refs=refs[key],
                freeze_qty=freeze[key],
            )
            for key, first in facts.items()
        ),
        source=source or "+".join(n for n in names if n),
    )
    return MergedMaster(merged, tuple(conflicts))


def _disagreements(kept: Instrument, other: Instrument, source: str) -> list[str]:
    found = []
    for name in ("exchange", "lot_size", "tick_size"):
        mine, theirs = getattr(kept, name), getattr(other, name)
        if mine != theirs:
            found.append(f"{kept.key}: {name} {theirs} in {source}, kept {mine}")
    return found
