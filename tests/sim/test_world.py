"""The simulator acts on the platform through HTTP only, replays the same day for the
same seed, and what its log says happened is what the platform holds."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

from fastapi.testclient import TestClient

from ccare.core.db import Database
from ccare.sim import cast, runner, world
from ccare.sim.api import Api
from tests import factories as f
from tests.conftest import _wipe

SIM = Path(__file__).parents[2] / "src" / "ccare" / "sim"


def play(client: TestClient, db: Database, seed: int = 11) -> runner.Report:
    op = f.make_operator(db)
    api = Api(client)
    built = world.build(api, cast.draw(seed, merchants=4, consumers=16), op.email, op.password)
    return runner.run(api, built, days=1)


def test_a_seed_replays_the_same_day(client: TestClient, db: Database) -> None:
    first = play(client, db)
    _wipe(db)
    second = play(client, db)
    assert first.log == second.log
    assert first.errors == 0
    kinds = [what.split(" ")[0] for _, _, what in first.log]
    assert kinds.count("drop") == 2  # two of the four shops drop coupons, at 08:00
    assert kinds.count("raid") == 1
    assert [who for _, who, _ in first.log].count("isv") == 1  # the ISV's morning look
    assert kinds.count("ads") == first.events - 4  # every visit opens the home feed
    assert first.events > 10


def test_the_log_is_what_the_platform_holds(client: TestClient, db: Database) -> None:
    report = play(client, db, seed=5)
    paid_lines = (m for _, _, what in report.log for m in re.finditer(r"paid (\d+)", what))
    logged = [int(m.group(1)) for m in paid_lines]
    assert logged  # some people bought
    op = f.make_operator(db, email="auditor@ccare.test")
    api = Api(client)
    auditor = api.staff(op.email, op.password)
    orders = api.call(auditor, "GET", "/api/v1/orders", "orders.list", params={"limit": 200})
    paid = [o["payable_fen"] for o in orders["items"] if o["status"] == "paid"]
    assert sorted(paid) == sorted(logged)
    raid = next(what for _, who, what in report.log if who == "ring0")
    claimed = int(raid.split(" ")[1])
    issued = sum(
        a["issued"] for a in api.call(auditor, "GET", "/api/v1/coupon-activities", "coupons.list")
    )
    # A claim is idempotent per person and drop: a second claim returns the same coupon.
    claimers = {
        (who, re.search(r"open (\S+)", what).group(1))  # type: ignore[union-attr]
        for _, who, what in report.log
        if "claim ok" in what
    }
    assert issued == claimed + len(claimers)


def test_the_simulator_reaches_the_platform_only_through_http() -> None:
    # httpx for calls, the public client (and the ISV's own key) for signed ones.
    def allowed(name: str) -> bool:
        top = name.split(".")[0]
        return (
            top in sys.stdlib_module_names
            or top in ("httpx", "cryptography")
            or name.startswith(("ccare.sim", "ccare.client"))
        )

    sources = list(SIM.rglob("*.py"))
    assert len(sources) > 12
    for source in sources:
        tree = ast.parse(source.read_text())
        for node in ast.walk(tree):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            for name in names:
                assert allowed(name), (source.name, name)


def test_a_compressed_clock_waits_for_wall_time(client: TestClient, db: Database) -> None:
    op = f.make_operator(db)
    api = Api(client)
    built = world.build(api, cast.draw(3, merchants=2, consumers=6), op.email, op.password)
    waited: list[float] = []
    report = runner.run(api, built, days=1, speed=1_000_000.0, sleep=waited.append)
    last = runner.schedule(built, 1)[-1].at
    assert report.events == len(runner.schedule(built, 1))
    assert 0 < len(waited) <= report.events
    assert max(waited) <= last / 1_000_000.0


def test_a_run_can_start_later_in_the_day(client: TestClient, db: Database) -> None:
    op = f.make_operator(db)
    api = Api(client)
    built = world.build(api, cast.draw(3, merchants=2, consumers=6), op.email, op.password)
    noon = 12 * 3_600
    report = runner.run(api, built, days=1, start=noon)
    later = [e for e in runner.schedule(built, 1) if e.at >= noon]
    assert report.events == len(later)
    assert [m for m, _, _ in report.log] == [e.at // 60 for e in later]
