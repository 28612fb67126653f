"""A scalper raid on a coupon drop, played through the API on two fresh platforms from one
seed: the anti-cheating filter off, then at the standard strictness. The rings empty the
stock when it is off and get a few coupons when it is on, no genuine customer is refused,
and what the simulator saw happen is what the platform reports."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from functools import partial

from fastapi.testclient import TestClient

from ccare.core.analytics import DuckDBAnalytics
from ccare.core.time import SimulatedClock
from ccare.runtime import Runtime
from ccare.sim.api import Api
from ccare.sim.scenarios import raid
from ccare.web.app import create_app
from tests import factories as f
from tests.conftest import _wipe
from tests.sim.conftest import DAY_ZERO, run_worker

SEED = 5
PLAN = raid.Plan(genuine=20, ring_size=16, stock=40)


def fresh_platform_play(
    runtime: Runtime, clock: SimulatedClock, strictness: str, weeks_later: int
) -> raid.Outcome:
    """The scenario on an empty platform that trusts the simulator as its proxy; its day 0
    is `weeks_later` weeks after DAY_ZERO, because the platform's clock never runs back."""
    _wipe(runtime.db)
    settings = runtime.settings.model_copy(update={"forwarded_allow_ips": "testclient"})
    platform = Runtime(settings=settings, db=runtime.db, analytics=DuckDBAnalytics(":memory:"))
    op = f.make_operator(platform.db)
    try:
        with TestClient(create_app(platform)) as client:
            api = Api(client)
            api.now = clock  # sessions renew by the platform's time
            origin = DAY_ZERO + timedelta(weeks=weeks_later)
            advance = partial(run_worker, platform)
            scenario = raid.Raid(
                api, SEED, PLAN, (op.email, op.password), origin, clock.move_to, advance
            )
            out = scenario.play(strictness)
    finally:
        platform.analytics.close()  # type: ignore[union-attr]
    assert api.stats.errors() == 0
    return out


def test_the_filter_keeps_the_drop_for_customers(
    runtime: Runtime, platform_clock: SimulatedClock
) -> None:
    off = fresh_platform_play(runtime, platform_clock, "off", 0)
    standard = fresh_platform_play(runtime, platform_clock, "standard", 8)

    # One world, played twice: the same people claim the drop at the same seconds.
    assert [(at, who) for at, who, _ in off.log] == [(at, who) for at, who, _ in standard.log]
    # Off: the rings take 32 of the 40 coupons in the first minute; 8 of the 16 customers
    # who want one get one, 8 find the stock gone.
    assert (off.taken, off.blocked, off.sold_out) == ((32, 8), (0, 0), 8)
    assert (off.issued, off.remaining, off.budget_saved_fen) == (40, 0, 0)
    assert off.decisions == {"pass": 40, "challenge": 0, "reject": 0}
    # Standard: a ring's first claims pass (a new account scores 25, a third or fourth one
    # on a phone 35) until the fifth account on a phone or the eleventh claim from the
    # ring's line reaches the challenge score, 40. Every customer gets a coupon.
    assert (standard.taken, standard.blocked, standard.sold_out) == ((15, 16), (17, 0), 0)
    assert (standard.issued, standard.remaining, standard.budget_saved_fen) == (31, 9, 17 * 500)
    assert standard.decisions == {"pass": 31, "challenge": 17, "reject": 0}
    assert standard.reported_genuine_blocked == 0
    for out in (off, standard):
        # What the simulator saw is what the platform holds: the coupons it was given are
        # in the claimers' own lists, the activity's count and the filter's passes.
        assert out.held == out.taken
        assert out.issued == sum(out.taken) == out.decisions["pass"]
        assert out.issued + out.remaining == PLAN.stock
        assert out.decisions["challenge"] + out.decisions["reject"] == sum(out.blocked)
        answers = Counter("coupon" if a.isdigit() else a for _, _, a in out.log)
        assert answers["coupon"] == out.issued


def test_the_cast_of_a_seed() -> None:
    people = raid.draw(SEED, PLAN)
    assert people == raid.draw(SEED, PLAN)
    genuine = [p for p in people if p.ring is None]
    rings = [p for p in people if p.ring is not None]
    assert (len(genuine), len(rings)) == (20, 32)
    for ring in (0, 1):
        members = [p for p in rings if p.ring == ring]
        assert {p.phone for p in members} == {f"ring{ring}-dev0", f"ring{ring}-dev1"}
        assert {p.home_ip for p in members} == {f"183.2.{ring}.9"}
    # Opened the night before, no past, all in the drop's first minute.
    assert all(raid.DROP_AT - 20 * raid.HOUR < p.opened < raid.DROP_AT for p in rings)
    assert all(p.habit == () for p in rings)
    assert all(raid.DROP_AT <= (p.drop_claim or 0) < raid.DROP_AT + 60 for p in rings)
    # The customers: one newcomer, four recent accounts, a family of four on a tablet,
    # four office workers; 54 past claims on other shops, 35 of them used; 16 want the drop.
    newcomers = [p for p in genuine if p.opened > raid.DROP_AT - raid.DAY]
    recent = [p for p in genuine if 0 < p.opened <= raid.DROP_AT - raid.DAY]
    assert (len(newcomers), len(recent), newcomers[0].habit) == (1, 4, ())
    assert Counter(p.tablet for p in genuine if p.tablet) == {"tablet-9": 4}
    assert sum(p.office_ip is not None for p in genuine) == 4
    past = [h for p in genuine for h in p.habit]
    assert (len(past), sum(used is not None for _, _, used in past)) == (54, 35)
    window = raid.DROP_AT - raid.HABIT_DAYS * raid.DAY
    assert all(window <= at < raid.DROP_AT and at < (used or at + 1) for at, _, used in past)
    assert sum(p.drop_claim is not None for p in genuine) == 16
