"""The ``rig`` fixture: one logged-in adapter against its fake broker, for every dialect."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.brokers.rigs import DIALECTS, Dialect, Rig, open_rig


@pytest.fixture(params=DIALECTS, ids=lambda d: d.fake)
def rig(request: pytest.FixtureRequest) -> Iterator[Rig]:
    dialect: Dialect = request.param
    with open_rig(dialect) as opened:
        yield opened
