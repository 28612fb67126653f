"""A jeweller's members' day, staged on the platform's simulated clock: the dashboard,
the customer profiles and the campaign's results count exactly what the simulator made
happen, and the campaign's uplift against its holdout recovers the planted effect."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient

from ccare.campaigns import service as campaigns
from ccare.core.db import Database
from ccare.core.time import SimulatedClock
from ccare.sim.api import Api
from ccare.sim.scenarios import festival
from ccare.sim.scenarios.festival import Day
from tests import factories as f
from tests.sim.conftest import follow


def test_a_members_day_is_measured_as_it_happened(
    client: TestClient,
    db: Database,
    advance: Callable[[], int],
    platform_clock: SimulatedClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The holdout hash's seed is random per campaign; fixed here, so are the arms.
    monkeypatch.setattr(campaigns, "secrets", SimpleNamespace(token_hex=lambda n: "52" * n))
    op = f.make_operator(db)
    api = Api(client)
    api.now = platform_clock  # sessions renew by the platform's time
    operator = api.staff(op.email, op.password)
    rules = api.call(operator, "GET", "/api/v1/message-settings", "settings")

    out = festival.members_day(
        api, (op.email, op.password), advance, follow(platform_clock), seed=520, consumers=240
    )

    assert api.stats.errors() == 0
    # The dashboard's days are what the simulator paid.
    assert out.days == out.made == (Day(22, 2_780_000), Day(33, 6_776_000))
    assert out.visits == (186, 184)
    # Members carry the festival; everyone else shops as on any day.
    assert out.members == (Day(7, 932_000), Day(20, 4_296_000))
    assert out.others == (Day(15, 1_848_000), Day(13, 2_480_000))
    for d in (0, 1):
        assert out.members[d].paid_fen + out.others[d].paid_fen == out.days[d].paid_fen
    # Every treated member got the coupon; ten used it, each taking ¥200 off.
    results = out.results
    treatment, holdout = results["treatment"], results["holdout"]
    assert out.segment == treatment["members"] + holdout["members"] == 46
    assert (treatment["members"], holdout["members"], out.received) == (26, 20, 24)
    assert out.coupons == (26, 10)
    assert results["cost_fen"] == 10 * 20_000
    # The campaign counted the converters and their GMV the simulator made, arm by arm.
    assert out.arms_made == (Day(14, 3_784_000), Day(4, 308_000))
    assert (treatment["converters"], holdout["converters"]) == (14, 4)
    assert (treatment["gmv_fen"], holdout["gmv_fen"]) == (3_784_000, 308_000)
    assert results["uplift"] == 14 / 26 - 4 / 20  # 0.3385
    assert (round(results["uplift_low"], 4), round(results["uplift_high"], 4)) == (0.0548, 0.5494)
    assert out.truth == 0.3 * 24 / 26
    assert out.covered and results["significant"]
    # The quiet hours lifted for the midnight invitation are back.
    operator = api.staff(op.email, op.password)
    assert api.call(operator, "GET", "/api/v1/message-settings", "settings") == rules
