"""The platform's clock: real by default, or a simulated one that a simulation runs fast,
moves forward, and never runs backwards."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ccare.core import time as clock
from ccare.core.time import SimulatedClock, local_date, use_clock, utcnow

ORIGIN = datetime(2026, 11, 2, 15, 30, tzinfo=UTC)  # 23:30 in Beijing


@pytest.fixture
def restore() -> Iterator[None]:
    yield
    use_clock(None)


def test_the_platform_reads_the_clock_in_use(
    restore: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    ticks = iter([100.0, 100.0, 130.0, 130.0])
    monkeypatch.setattr(clock.time, "monotonic", lambda: next(ticks))
    simulated = SimulatedClock(ORIGIN, speed=60.0)  # a minute a second
    use_clock(simulated)
    assert utcnow() == ORIGIN
    assert utcnow() == ORIGIN + timedelta(minutes=30)  # 30 s later
    assert local_date() == datetime(2026, 11, 3).date()  # past midnight in Beijing
    use_clock(None)
    assert abs(utcnow() - datetime.now(UTC)) < timedelta(seconds=5)


def test_a_standing_clock_moves_only_forward() -> None:
    simulated = SimulatedClock(ORIGIN)
    assert simulated() == simulated() == ORIGIN
    simulated.advance(timedelta(seconds=2.5))
    assert simulated() == ORIGIN + timedelta(seconds=2.5)
    simulated.move_to(ORIGIN)  # the past: stays where it is
    simulated.advance(timedelta(seconds=-10))
    assert simulated() == ORIGIN + timedelta(seconds=2.5)
    simulated.move_to(ORIGIN + timedelta(days=1))
    assert simulated() == ORIGIN + timedelta(days=1)


def test_the_platform_reads_the_time_only_through_core_time() -> None:
    # A simulation moves the platform's clock; a direct read would escape it.
    src = Path(__file__).parents[2] / "src" / "ccare"
    direct = re.compile(r"datetime\.now\(|datetime\.utcnow\(|date\.today\(")
    found = [
        str(path.relative_to(src))
        for path in src.rglob("*.py")
        if direct.search(path.read_text())
        and path.parent.name != "sim"
        and path.parent.parent.name != "sim"
    ]
    assert found == ["core/time.py"]
