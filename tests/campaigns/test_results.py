"""Results against the holdout (both analytics backends): conversions and GMV inside each
member's window only, refunds, the campaign's own coupon discounts as its cost, and the
uplift's interval checked against a Newcombe interval computed here from Wilson scores."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import select

from ccare.campaigns import rounds, service
from ccare.campaigns.models import Arm, CampaignMember
from ccare.core.analytics import AnalyticsStore
from ccare.core.db import Database
from ccare.core.tenancy import PLATFORM
from ccare.dashboard import service as dashboard
from tests.campaigns.conftest import NOON, make_shop
from tests.segments.events import Event

Z = 1.959963984540054


def wilson(k: int, n: int) -> tuple[float, float]:
    p = k / n
    centre = (p + Z * Z / (2 * n)) / (1 + Z * Z / n)
    half = Z * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n)) / (1 + Z * Z / n)
    return centre - half, centre + half


def newcombe(k1: int, n1: int, k2: int, n2: int) -> tuple[float, float]:
    p1, p2 = k1 / n1, k2 / n2
    l1, u1 = wilson(k1, n1)
    l2, u2 = wilson(k2, n2)
    d = p1 - p2
    return (
        d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2),
        d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2),
    )


def ev(
    kind: str, merchant: int, consumer: int, at: datetime, amount: int | None = None, **kw: object
) -> Event:
    return Event(kind, merchant, consumer, at, amount, dict(kw))


def test_results_count_each_members_window_and_the_campaigns_own_coupons(
    db: Database, analytics_store: AnalyticsStore
) -> None:
    shop = make_shop(db, analytics_store)
    campaign = shop.create(template_id=None, variables={}, holdout_percent=50, conversion_days=7)
    rounds.run_due(shop.db, analytics_store, NOON)
    with db.transaction() as s:
        rows = list(
            s.scalars(select(CampaignMember).where(CampaignMember.campaign_id == campaign.id))
        )
        treated = sorted((m.consumer_id, m.coupon_id) for m in rows if m.arm == Arm.TREATMENT)
        held = sorted(m.consumer_id for m in rows if m.arm == Arm.HOLDOUT)
    m = shop.merchant_id
    (t1, c1), (t2, c2), (t3, _c3) = treated[:3]
    h1, h2 = held[:2]
    day = timedelta(days=1)
    analytics_store.record(
        [  # type: ignore[list-item]
            ev("order.paid", m, t1, NOON + day, 5000, order_id=1),
            ev("coupon.used", m, t1, NOON + day, None, coupon_id=c1, discount_fen=500),
            ev("order.paid", m, t1, NOON + 2 * day, 1000, order_id=2),
            ev("order.refunded", m, t1, NOON + 3 * day, 400, order_id=2),
            ev("order.paid", m, t2, NOON + 6 * day, 3000, order_id=3),
            ev("coupon.used", m, t2, NOON + 6 * day, None, coupon_id=c2 + 10_000, discount_fen=300),
            ev("order.paid", m, t3, NOON + 8 * day, 9000, order_id=4),  # after the window
            ev("order.paid", m, t3, NOON - day, 9000, order_id=5),  # before being chosen
            ev("order.paid", m + 1, t3, NOON + day, 7000, order_id=6),  # another merchant
            ev("order.paid", m, h1, NOON + 2 * day, 2000, order_id=7),
            ev("order.paid", m, h2, NOON + 7 * day, 2000, order_id=8),  # window end: excluded
        ]
    )

    with db.transaction() as s:
        out = service.results(s, PLATFORM, analytics_store, campaign.id, NOON + 10 * day)

    n_t, n_h = len(treated), len(held)
    low, high = newcombe(2, n_t, 1, n_h)
    assert (out.treatment.members, out.treatment.converters, out.treatment.gmv_fen) == (
        n_t,
        2,
        8600,
    )
    assert (out.holdout.members, out.holdout.converters, out.holdout.gmv_fen) == (n_h, 1, 2000)
    assert out.treatment.conversion_rate == 2 / n_t
    assert out.uplift == 2 / n_t - 1 / n_h
    assert out.uplift_low is not None and out.uplift_high is not None
    assert math.isclose(out.uplift_low, low, abs_tol=1e-9)
    assert math.isclose(out.uplift_high, high, abs_tol=1e-9)
    assert out.significant is False
    assert out.cost_fen == 500
    assert out.incremental_gmv_fen == round((8600 / n_t - 2000 / n_h) * n_t)
    assert out.roi == (out.incremental_gmv_fen - 500) / 500
    # The C-CARE dashboard's efficiency lists the campaign with the same figures.
    with db.transaction() as s:
        board = dashboard.dashboard(s, analytics_store, m, days=30, now=NOON + 10 * day)
    assert [
        (c.campaign_id, c.cost_fen, c.incremental_gmv_fen, c.roi)
        for c in board.efficiency.campaigns
    ] == [(campaign.id, 500, out.incremental_gmv_fen, out.roi)]


def test_without_a_holdout_there_is_no_uplift(
    db: Database, analytics_store: AnalyticsStore
) -> None:
    shop = make_shop(db, analytics_store, n=5)
    campaign = shop.create(template_id=None, variables={}, holdout_percent=0)
    rounds.run_due(shop.db, analytics_store, NOON)
    with db.transaction() as s:
        out = service.results(s, PLATFORM, analytics_store, campaign.id, NOON)

    assert (out.treatment.members, out.holdout.members) == (5, 0)
    assert (out.uplift, out.uplift_low, out.uplift_high, out.roi) == (None, None, None, None)
    assert (out.significant, out.incremental_gmv_fen, out.cost_fen) == (False, 0, 0)
