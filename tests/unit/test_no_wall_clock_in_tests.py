"""Tests take "now" from the platform's clock, never the wall clock: a test that reads the wall
clock passes by day and fails at night, on a Sunday or on a holiday (main was red 00:00-06:00 IST
for that reason). The only wall-clock reads allowed are listed here, each with why."""

from __future__ import annotations

import re
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
WALL_CLOCK = re.compile(r"datetime\.now\(|date\.today\(|datetime\.utcnow\(|time\.time\(\)")
ALLOWED = {
    # JWT expiry is checked by PyJWT against real time; a forged token must be current in real time.
    "integration/test_isolation.py",
    # A Step Functions Wait state in the emulator waits until a real UTC instant.
    "integration/test_infra_apply.py",
    # This file names the patterns it forbids.
    "unit/test_no_wall_clock_in_tests.py",
}


def test_no_test_reads_the_wall_clock():
    offenders = [
        f"{path.relative_to(TESTS)}:{number}: {line.strip()}"
        for path in sorted(TESTS.rglob("*.py"))
        if str(path.relative_to(TESTS)) not in ALLOWED
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if WALL_CLOCK.search(line)
    ]
    assert offenders == [], "take now from platform_clock or the container:\n" + "\n".join(
        offenders
    )
