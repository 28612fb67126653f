"""Load mode plays a seeded, open-loop stream of visits on worker threads, finishes every
visit it starts, counts every call once and keeps its latencies in bounded reservoirs."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from ccare.core.db import Database
from ccare.sim import agents, api, cast, load, world
from ccare.sim.api import Actor, Api
from tests import factories as f


def people_only(seed: int, consumers: int = 16) -> world.World:
    """A world's people without a platform: the schedule needs only who they are."""
    drawn = cast.draw(seed, merchants=2, consumers=consumers)
    people = [world.Person(spec, i + 1, Actor(f"c{i}")) for i, spec in enumerate(drawn.consumers)]
    return world.World(drawn, Actor("op"), [], people)


def test_a_seed_draws_the_same_arrivals() -> None:
    built = people_only(7)
    first = list(load.arrivals(built, rate=20, seconds=2, seed=3))
    assert first == list(load.arrivals(built, rate=20, seconds=2, seed=3))
    assert first != list(load.arrivals(built, rate=20, seconds=2, seed=4))
    assert [a.seq for a in first] == list(range(len(first)))
    assert [a.at for a in first] == sorted(a.at for a in first)
    assert first[0].at > 0
    assert first[-1].at < 2
    ring = {i for i, p in enumerate(built.people) if p.spec.ring is not None}
    assert len(ring) == 4
    assert not ring & {a.person for a in first}  # scalpers come only for raids
    # Poisson at 20/s: over a long window the count is close to rate x seconds.
    assert 9_700 < sum(1 for _ in load.arrivals(built, rate=20, seconds=500, seed=3)) < 10_300


def test_no_rate_no_visitors_no_arrivals() -> None:
    assert list(load.arrivals(people_only(7), rate=0, seconds=2, seed=1)) == []
    assert list(load.arrivals(people_only(7, consumers=4), rate=20, seconds=2, seed=1)) == []


def test_a_short_run(client: TestClient, db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(api, "RESERVOIR", 8)
    op = f.make_operator(db)
    setup = Api(client)
    built = world.build(setup, cast.draw(5, merchants=2, consumers=12), op.email, op.password)
    for shop in built.shops:
        if shop.spec.drops_coupons:
            agents.merchant_drop(setup, shop, 0, built.now())
    expected = list(load.arrivals(built, rate=20, seconds=2, seed=9))

    report = load.run([client, client, client], built, rate=20, seconds=2, seed=9)

    assert report.scheduled == len(expected) > 8
    assert report.started == report.finished == report.scheduled
    assert (report.failed, report.crashed, report.dropped, report.errors) == (0, 0, 0, 0)
    assert report.first_crash == ""
    stats = report.stats
    assert stats is not setup.stats  # the world's building is not part of the load
    assert report.calls == sum(stats.seen.values()) == sum(stats.calls.values())
    assert report.calls == stats.overall.seen["all"] == sum(c.count for c in report.table())
    # Every visit opens the home feed and one storefront.
    assert stats.seen["ads.decide"] == stats.seen["storefront.open"] == report.finished
    assert report.lag.seen["lag"] == report.started
    # However many calls, the reservoirs hold at most RESERVOIR latencies each.
    assert stats.seen["ads.decide"] > 8
    assert all(len(sample) <= 8 for sample in stats.latencies.values())
    assert len(stats.latencies["ads.decide"]) == 8
    assert len(stats.overall.latencies["all"]) == len(report.lag.latencies["lag"]) == 8
    assert report.wall_seconds >= max(a.at for a in expected)
    assert report.overall(0.5) <= report.overall(0.99)
    assert report.lines()[-3].startswith(f"visits: {report.scheduled} scheduled at 20/s")
