"""What the simulator's tests share: the platform's worker run to idle between steps, and
the platform on a simulated clock that the simulation moves."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import pytest

from ccare.campaigns import rounds
from ccare.core.db import Database
from ccare.core.time import BEIJING, SimulatedClock, use_clock, utcnow
from ccare.core.worker import InProcessTransport, drain
from ccare.messages import fanout, sending
from ccare.runtime import Runtime
from ccare.sim.api import Api
from ccare.sim.world import World

# A Monday, local midnight: day 0 of a simulation on the simulated clock.
DAY_ZERO = datetime(2026, 11, 2, tzinfo=BEIJING)


def run_worker(runtime: Runtime) -> int:
    """What the platform's worker does, until it has nothing left to do."""
    db: Database = runtime.db
    total = 0
    while True:
        done = drain(db, InProcessTransport(db, runtime.analytics))
        done += rounds.run_due(db, runtime.analytics)
        done += fanout.poll(db)
        with db.transaction() as s:
            done += sending.release_due(s, utcnow())
        if not done:
            return total
        total += done


@pytest.fixture
def advance(runtime: Runtime) -> Callable[[], int]:
    return lambda: run_worker(runtime)


@pytest.fixture
def platform_clock() -> Iterator[SimulatedClock]:
    """The platform's clock stands at DAY_ZERO until the test moves it (`move_to`,
    `advance`, or `runner.run(clock=...)` through `follow`)."""
    clock = SimulatedClock(DAY_ZERO)
    use_clock(clock)
    try:
        yield clock
    finally:
        use_clock(None)


def follow(clock: SimulatedClock) -> Callable[[int], None]:
    """A `runner.run` clock hook: the platform's time is day 0 plus the event's second."""
    return lambda second: clock.move_to(DAY_ZERO + timedelta(seconds=second))


def on_clock(world: World, clock: SimulatedClock, api: Api) -> World:
    """Agents date things, let time pass and renew their sessions on the platform's
    simulated clock."""
    api.now = clock
    world.now = clock
    world.wait = lambda seconds: clock.advance(timedelta(seconds=seconds))
    return world
