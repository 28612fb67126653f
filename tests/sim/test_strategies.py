"""Merchants' strategies and their ISV, on the platform's simulated clock over three days:
the advertiser's report counts the impressions and taps the simulator made, the recall
brings favoriters back through the inbox, and the ISV's signed app drops coupons for the
shop it operates after slow days."""

from __future__ import annotations

import re
from collections.abc import Callable
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient

from ccare.campaigns import service as campaigns
from ccare.core.db import Database
from ccare.core.time import SimulatedClock
from ccare.sim import cast, runner, world
from ccare.sim.api import Api
from tests import factories as f
from tests.sim.conftest import follow, on_clock


def test_three_days_of_strategies(
    client: TestClient,
    db: Database,
    platform_clock: SimulatedClock,
    advance: Callable[[], int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The holdout hash's seed is random per campaign; fixed here, so are the arms.
    monkeypatch.setattr(campaigns, "secrets", SimpleNamespace(token_hex=lambda n: "5e" * n))
    op = f.make_operator(db)
    api = Api(client)
    drawn = cast.draw(3, merchants=4, consumers=40, rings=0)
    built = on_clock(world.build(api, drawn, op.email, op.password), platform_clock, api)
    advertiser, recaller, operated = built.shops[1], built.shops[2], built.shops[3]
    assert (advertiser.spec.advertises, recaller.spec.recalls, operated.spec.isv_operated) == (
        True,
        True,
        True,
    )

    report = runner.run(api, built, days=3, clock=follow(platform_clock), hourly=advance)
    advance()

    assert report.errors == 0 and api.stats.errors() == 0
    lines = [what for _, _, what in report.log]
    shown = sum(int(m.group(1)) for w in lines for m in re.finditer(r"^ads (\d+)", w))
    tapped = sum(w.count("via ad") for w in lines)
    owner = advertiser.owner
    ads = api.call(
        owner, "GET", "/api/v1/ad-reports", "r", params={"by": "plan", "start": "2026-11-02"}
    )
    assert (ads["total"]["impressions"], ads["total"]["clicks"]) == (shown, tapped)
    assert ads["total"]["invalid_clicks"] == 0  # every tap came after reading the ad
    assert (shown, tapped, ads["total"]["spend_fen"]) == (65, 4, 80)  # 20 fen a click
    # Those who tapped bought there: last-click conversions, within the daily budget.
    assert (ads["total"]["conversions"], ads["total"]["conversion_value_fen"]) == (4, 13_200)

    # The recall: favoriters who allowed it and had not bought a day later got the
    # message; two came back through it and bought.
    campaign = api.call(recaller.owner, "GET", "/api/v1/campaigns", "c")[0]
    assert (campaign["treated"], campaign["held_out"]) == (3, 0)
    assert [w for w in lines if "via message" in w] == [
        "ads 0, open sim-noodles-2 via message, claim ok, paid 2800",
        "ads 0, open sim-noodles-2 via message, favorite, paid 3300",
    ]

    # The ISV's app looked every morning and dropped a coupon after the slow first day.
    assert [(minute, what) for minute, who, what in report.log if who == "isv"] == [
        (540, "sim-groceries-3 0 new, drop"),
        (1980, "sim-groceries-3 4 new"),
        (3420, "sim-groceries-3 9 new"),
    ]
    assert (api.stats.calls[("isv.orders", 200)], api.stats.calls[("isv.drop", 200)]) == (3, 1)
    drops = api.call(operated.owner, "GET", "/api/v1/coupon-activities", "a")
    # A second claim of the same drop by the same person returns the coupon they hold.
    claimed = len(
        {who for _, who, w in report.log if "open sim-groceries-3" in w and "claim ok" in w}
    )
    assert [(a["out_biz_no"], a["issued"]) for a in drops] == [("sim-isv-drop-0", claimed)]
    assert claimed == 5
