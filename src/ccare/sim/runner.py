"""The simulated clock and the run: a day's schedule is drawn from the cast (each person's
visits from their rhythm, the merchants' morning drops, the rings' raids) and played in
simulated-time order, either as fast as the platform answers or compressed in wall time
(`speed` simulated seconds per second: 144 plays a day in ten minutes)."""

from __future__ import annotations

import heapq
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ccare.sim import agents, isv
from ccare.sim.api import Api, CallFailed
from ccare.sim.cast import RHYTHMS
from ccare.sim.world import World

DAY = 86_400
DROP_AT = 8 * 3_600  # merchants drop their coupons at 08:00
RAID_AT = DROP_AT + 60  # and the rings are there a minute later
ISV_AT = 9 * 3_600  # the ISV looks at its merchants' orders at 09:00


@dataclass(order=True, frozen=True)
class Event:
    at: int  # simulated seconds since the start of day 0
    seq: int
    kind: str = field(compare=False)  # visit, drop, raid, isv
    who: int = field(compare=False)  # person, shop or ring index


@dataclass
class Report:
    log: list[tuple[int, str, str]]  # (simulated minute, who, what)
    events: int
    wall_seconds: float
    errors: int

    def lines(self) -> list[str]:
        return [f"{minute:>6} {who:<12} {what}" for minute, who, what in self.log]


def poisson(rng: random.Random, mean: float) -> int:
    # Knuth: enough for the few visits a person makes in a day.
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def schedule(world: World, days: int) -> list[Event]:
    cast = world.cast
    rng = random.Random(f"schedule:{cast.seed}")
    events: list[Event] = []
    seq = 0
    for day in range(days):
        base = day * DAY
        for shop_index, shop in enumerate(world.shops):
            if shop.spec.drops_coupons:
                events.append(Event(base + DROP_AT, seq := seq + 1, "drop", shop_index))
        for ring in range(cast.rings):
            events.append(Event(base + RAID_AT, seq := seq + 1, "raid", ring))
        if world.isv is not None:
            events.append(Event(base + ISV_AT, seq := seq + 1, "isv", 0))
        for i, person in enumerate(world.people):
            if person.spec.ring is not None:
                continue
            hours = RHYTHMS[person.spec.rhythm]
            for _ in range(poisson(rng, person.spec.sessions_per_day)):
                hour = rng.choices(range(24), hours)[0]
                at = base + hour * 3_600 + rng.randrange(3_600)
                events.append(Event(at, seq := seq + 1, "visit", i))
    heapq.heapify(events)
    return [heapq.heappop(events) for _ in range(len(events))]


def run(
    api: Api,
    world: World,
    days: int = 1,
    *,
    speed: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    start: int = 0,
    clock: Callable[[int], None] | None = None,
    hourly: Callable[[], object] | None = None,
) -> Report:
    """Play `days` simulated days from `start` seconds into day 0 (what comes before is
    skipped); `speed` None: as fast as possible. `clock`, when the platform runs on a
    simulated clock (an in-process platform), is told each event's simulated second
    before the event plays, so the platform's days are the simulation's days; `hourly`
    runs the platform's worker when a simulated hour has passed (an in-process platform
    has no worker of its own)."""
    cast = world.cast
    rngs = {i: random.Random(f"person:{cast.seed}:{i}") for i in range(len(world.people))}
    ring_rng = random.Random(f"rings:{cast.seed}")
    log: list[tuple[int, str, str]] = []
    started = time.monotonic()
    errors = 0
    events = [e for e in schedule(world, days) if e.at >= start]
    hour = start // 3_600
    for event in events:
        if speed:
            wait = (event.at - start) / speed - (time.monotonic() - started)
            if wait > 0:
                sleep(wait)
        if clock is not None:
            clock(event.at)
        if hourly is not None and event.at // 3_600 > hour:
            hour = event.at // 3_600
            hourly()
        who, act = _action(api, world, event, rngs, ring_rng)
        try:
            what = act()
        except CallFailed as failed:
            if failed.status >= 500 or failed.status == 0:
                errors += 1
                what = f"error {failed.name} {failed.status}"
            else:
                what = f"refused {failed.name} {failed.code or failed.status}"
        log.append((event.at // 60, who, what))
    return Report(log, len(events), time.monotonic() - started, errors)


def _action(
    api: Api,
    world: World,
    event: Event,
    rngs: dict[int, random.Random],
    ring_rng: random.Random,
) -> tuple[str, Callable[[], str]]:
    day = event.at // DAY
    if event.kind == "drop":
        shop = world.shops[event.who]
        return shop.spec.slug, lambda: agents.merchant_drop(api, shop, day, world.now())
    if event.kind == "isv" and world.isv is not None:
        desk = world.isv
        return "isv", lambda: isv.morning(api, desk, world.operated(), day, world.now())
    if event.kind == "raid":
        ring = [p for p in world.people if p.spec.ring == event.who]
        return f"ring{event.who}", lambda: agents.scalper_raid(api, world, ring, ring_rng)
    person = world.people[event.who]
    rng = rngs[event.who]
    return f"c{person.spec.index}", lambda: agents.consumer_visit(api, world, person, rng)
