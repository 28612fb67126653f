"""Promotion reports from the analytics events, with traffic made by the real flow:
decide → impression → click (one filtered as too fast) → a paid order and an uploaded
lead, then the outbox relayed into the analytics store.

西湖早餐 runs two plans. Breakfast (CPC) has the groups High (60 fen) and Low (40 fen) on
the home feed: High pays Low's 40 fen a click. Coupons (CPM) has the group Venue alone
on the coupon venue: it pays the 600-fen reserve per mille, 600 milli-fen an impression,
and its clicks are free. Day 1 and day 2 are 3 and 2 days ago (local, UTC+8):

    day 0 23:59  u2 sees Venue                                  (before the range)
    day 1 10:00  u1 sees High and Low; taps Low at once (invalid), High 10 s later (40 fen)
    day 1 10:05  u1 sees Venue;  10:10 u2 sees Venue and taps it (free)
    day 1 11:00  u1 sees and taps Other Shop's ad on car life (not 西湖早餐's)
    day 1 23:59  u1 sees Venue
    day 2 09:00  u2 sees High and Low; taps High (40 fen)
    day 2 10:00  西湖早餐 uploads a lead worth ¥5 on u2's Venue tap
    day 2 12:00  u2 pays ¥32 (last click: High)
    day 3 00:00  u2 sees Venue                                  (after the range)
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from ccare.core.analytics import AnalyticsStore
from ccare.core.db import Database
from ccare.core.tenancy import Principal, PrincipalKind, Tenant
from ccare.core.time import local_date, local_day_start, utcnow
from ccare.core.worker import InProcessTransport, drain
from ccare.orders.schemas import OrderPaid
from ccare.promotion import decisions, reports, tasks, tracking
from ccare.promotion import service as promotion
from ccare.promotion.report_schemas import AdMetrics, AdReport, ReportBy
from ccare.promotion.schemas import (
    AdClicked,
    AdConverted,
    AdImpressed,
    CreativeCreate,
    GroupCreate,
    PlanCreate,
    ReviewRequest,
)
from ccare.runtime import Runtime
from tests import factories as f

DAILY_BUDGET_FEN = 100_000  # large enough that pacing never holds a plan back here


def staff_of(merchant_id: int) -> Principal:
    tenant = Tenant(frozenset({merchant_id}))
    return Principal(PrincipalKind.MERCHANT_STAFF, 0, merchant_id=merchant_id, tenant=tenant)


@dataclass(frozen=True)
class AdsWorld:
    db: Database
    runtime: Runtime
    merchant: f.MerchantRef
    other: f.MerchantRef
    breakfast: int  # plan ids
    coupons: int
    theirs: int
    high: int  # group ids
    low: int
    venue: int
    high_ad: int  # creative ids
    low_ad: int
    venue_ad: int
    u1: int
    u2: int
    today: date

    @property
    def merchant_id(self) -> int:
        return self.merchant.merchant_id

    def day(self, n: int) -> date:
        """Day 1 is 3 days ago, so every event of the story is in the past."""
        return self.today - timedelta(days=4 - n)

    def at(self, n: int, hour: int, minute: int = 0, seconds: float = 0) -> datetime:
        return local_day_start(self.day(n)) + timedelta(hours=hour, minutes=minute, seconds=seconds)


def _plan(s: Session, merchant_id: int, name: str, charge: str) -> int:
    data = {"merchant_id": merchant_id, "out_request_no": name, "name": name}
    data |= {"objective": "transactions" if charge == "cpc" else "brand", "charge_type": charge}
    data |= {"daily_budget_fen": DAILY_BUDGET_FEN}
    return promotion.create_plan(s, f.FACTORY_OPERATOR, PlanCreate.model_validate(data))[0].id


def _group(s: Session, plan_id: int, name: str, bid: int, place: str, mp: int) -> tuple[int, int]:
    """An ad group on one placement with one approved creative, '<name> ad'."""
    data = {"plan_id": plan_id, "name": name, "bid_fen": bid, "targeting": {"placements": [place]}}
    group = promotion.create_group(s, f.FACTORY_OPERATOR, GroupCreate.model_validate(data))
    ad = CreativeCreate(group_id=group.id, title=f"{name} ad", mini_program_id=mp, page="pages/a")
    creative = promotion.create_creative(s, f.FACTORY_OPERATOR, ad)
    approve = ReviewRequest(decision="approved")
    promotion.review_creative(s, f.FACTORY_OPERATOR, creative.id, approve)
    return group.id, creative.id


def build(db: Database, runtime: Runtime) -> AdsWorld:
    a = f.make_merchant(db, name="西湖早餐")
    b = f.make_merchant(db, name="Other Shop")
    mp = f.make_mini_program(db, a.merchant_id)
    other_mp = f.make_mini_program(db, b.merchant_id)
    with db.transaction() as s:
        breakfast = _plan(s, a.merchant_id, "Breakfast", "cpc")
        coupons = _plan(s, a.merchant_id, "Coupons", "cpm")
        theirs = _plan(s, b.merchant_id, "Theirs", "cpc")
        high, high_ad = _group(s, breakfast, "High", 60, "home_feed", mp)
        low, low_ad = _group(s, breakfast, "Low", 40, "home_feed", mp)
        venue, venue_ad = _group(s, coupons, "Venue", 900, "coupon_venue", mp)
        _group(s, theirs, "Car", 30, "car_life", other_mp)
        for merchant_id in (a.merchant_id, b.merchant_id):
            promotion.top_up(s, f.FACTORY_OPERATOR, merchant_id, 10_000, "bank_transfer")
    u1, u2 = f.make_consumer(db, name="u1"), f.make_consumer(db, name="u2")
    ids = (breakfast, coupons, theirs, high, low, venue, high_ad, low_ad, venue_ad, u1, u2)
    return AdsWorld(db, runtime, a, b, *ids, today=local_date(utcnow()))


def _show(w: AdsWorld, consumer: int, placement: str, at: datetime) -> dict[int, tuple[str, str]]:
    """Decide and record every impression; {creative id: (click token, merchant)}."""
    secret = w.runtime.settings.secret_key
    viewer = Principal(kind=PrincipalKind.CONSUMER, id=consumer, name="u")
    with w.db.transaction() as s:
        decision = decisions.decide(
            s, secret, placement=placement, consumer_id=consumer, now=at, rng=random.Random(7)
        )
        for ad in decision.ads:
            tracking.record_impression(s, secret, ad.impression_token, viewer, at)
    return {ad.creative.creative_id: (ad.click_token, str(ad.merchant_id)) for ad in decision.ads}


def _tap(w: AdsWorld, consumer: int, token: str, at: datetime) -> tuple[int, str]:
    viewer = Principal(kind=PrincipalKind.CONSUMER, id=consumer, name="u")
    with w.db.transaction() as s:
        outcome = tracking.record_click(
            s, w.runtime.settings.secret_key, token, viewer, f"10.0.0.{consumer}", at
        )
        return outcome.click.id, outcome.click.status.value


def drive(w: AdsWorld) -> None:
    """The story of the module docstring, then the outbox relayed to analytics."""
    _show(w, w.u2, "coupon_venue", w.at(0, 23, 59))
    shown = _show(w, w.u1, "home_feed", w.at(1, 10))
    assert set(shown) == {w.high_ad, w.low_ad}
    assert _tap(w, w.u1, shown[w.low_ad][0], w.at(1, 10, 0, 0.5))[1] == "invalid"
    assert _tap(w, w.u1, shown[w.high_ad][0], w.at(1, 10, 0, 10))[1] == "billed"
    assert set(_show(w, w.u1, "coupon_venue", w.at(1, 10, 5))) == {w.venue_ad}
    shown = _show(w, w.u2, "coupon_venue", w.at(1, 10, 10))
    venue_click, status = _tap(w, w.u2, shown[w.venue_ad][0], w.at(1, 10, 10, 5))
    assert status == "free"
    (theirs,) = _show(w, w.u1, "car_life", w.at(1, 11)).values()
    assert _tap(w, w.u1, theirs[0], w.at(1, 11, 0, 5))[1] == "billed"
    _show(w, w.u1, "coupon_venue", w.at(1, 23, 59))
    shown = _show(w, w.u2, "home_feed", w.at(2, 9))
    assert _tap(w, w.u2, shown[w.high_ad][0], w.at(2, 9, 0, 5))[1] == "billed"
    with w.db.transaction() as s:
        tracking.upload_conversion(
            s,
            staff_of(w.merchant_id),
            merchant_id=w.merchant_id,
            click_id=venue_click,
            out_conversion_no="lead-1",
            kind="lead",
            value_fen=500,
            occurred_at=w.at(2, 10),
        )
        order = {"order_id": 77, "trade_no": "T77", "mini_program_id": 1, "items": []}
        order |= {"amount": 3_200, "platform_fee_fen": 19, "occurred_at": w.at(2, 12)}
        tasks.attribute_order(
            s, OrderPaid.model_validate(order | {"merchant_id": w.merchant_id, "consumer_id": w.u2})
        )
    _show(w, w.u2, "coupon_venue", w.at(3, 0))
    drain(w.db, InProcessTransport(w.db, w.runtime.analytics))


@pytest.fixture
def ads(db: Database, runtime: Runtime) -> AdsWorld:
    w = build(db, runtime)
    drive(w)
    return w


def _report(
    w: AdsWorld,
    by: ReportBy,
    start: int = 1,
    end: int = 2,
    *,
    merchant_id: int | None = None,
    plan_id: int | None = None,
    group_id: int | None = None,
) -> AdReport:
    """Days 1 to 2 unless told, as the merchant's staff (or another merchant's)."""
    with w.db.transaction() as s:
        return reports.report(
            s,
            staff_of(merchant_id or w.merchant_id),
            w.runtime.analytics,
            by=by,
            start=w.day(start),
            end=w.day(end),
            plan_id=plan_id,
            group_id=group_id,
        )


def figures(m: AdMetrics) -> tuple[int | None, ...]:
    return tuple(getattr(m, k) for k in AdMetrics.model_fields)


# impressions, clicks, invalid, spend, CTR bp, conversions, value, CPA, ROI bp
HIGH = (2, 2, 0, 80, 10_000, 1, 3_200, 80, 400_000)
LOW = (2, 0, 1, 0, 0, 0, 0, None, None)
VENUE = (3, 1, 0, 1, 3_333, 1, 500, 1, 5_000_000)
TOTAL = (7, 3, 1, 81, 4_286, 2, 3_700, 41, 456_790)
ALL_DAYS = (9, 3, 1, 83, 3_333, 2, 3_700, 42, 445_783)  # days 0 to 3


def test_by_plan_with_totals(ads: AdsWorld) -> None:
    r = _report(ads, ReportBy.PLAN)
    assert (r.merchant_id, r.start_day, r.end_day) == (ads.merchant_id, ads.day(1), ads.day(2))
    assert [(x.plan_id, x.group_id, x.name, figures(x)) for x in r.rows] == [
        (ads.breakfast, None, "Breakfast", (4, 2, 1, 80, 5_000, 1, 3_200, 80, 400_000)),
        (ads.coupons, None, "Coupons", VENUE),
    ]
    assert figures(r.total) == TOTAL


def test_by_group_and_by_creative(ads: AdsWorld) -> None:
    groups = _report(ads, ReportBy.GROUP)
    assert [(x.plan_id, x.group_id, x.name, figures(x)) for x in groups.rows] == [
        (ads.breakfast, ads.high, "High", HIGH),
        (ads.coupons, ads.venue, "Venue", VENUE),
        (ads.breakfast, ads.low, "Low", LOW),
    ]
    creatives = _report(ads, ReportBy.CREATIVE)
    assert [(x.group_id, x.creative_id, x.name, figures(x)) for x in creatives.rows] == [
        (ads.high, ads.high_ad, "High ad", HIGH),
        (ads.venue, ads.venue_ad, "Venue ad", VENUE),
        (ads.low, ads.low_ad, "Low ad", LOW),
    ]
    assert figures(groups.total) == figures(creatives.total) == TOTAL


def test_by_day_every_day_of_the_range_and_local_midnight(ads: AdsWorld) -> None:
    r = _report(ads, ReportBy.DAY, start=0, end=3)
    assert [(x.day, figures(x)) for x in r.rows] == [
        (ads.day(0), (1, 0, 0, 0, 0, 0, 0, None, None)),
        # 40 fen + 3 × 600 milli-fen (the 23:59 impression is still day 1)
        (ads.day(1), (5, 2, 1, 41, 4_000, 0, 0, None, 0)),
        (ads.day(2), (2, 1, 0, 40, 5_000, 2, 3_700, 20, 925_000)),
        (ads.day(3), (1, 0, 0, 0, 0, 0, 0, None, None)),
    ]
    # 83,000 milli-fen: the rows round down to 81 fen in all, the total once to 83.
    assert figures(r.total) == ALL_DAYS
    empty = _report(ads, ReportBy.DAY, start=4, end=4)
    assert [(x.day, figures(x)) for x in empty.rows] == [
        (ads.today, (0, 0, 0, 0, None, 0, 0, None, None))
    ]


def test_default_range_is_the_last_seven_days(ads: AdsWorld) -> None:
    with ads.db.transaction() as s:
        r = reports.report(s, staff_of(ads.merchant_id), ads.runtime.analytics)
    assert r.by == ReportBy.DAY
    assert [x.day for x in r.rows] == [ads.today - timedelta(days=6 - i) for i in range(7)]
    assert figures(r.total) == ALL_DAYS


def test_by_placement(ads: AdsWorld) -> None:
    r = _report(ads, ReportBy.PLACEMENT)
    assert [(x.placement, x.name, figures(x)) for x in r.rows] == [
        ("home_feed", "Home feed", (4, 2, 1, 80, 5_000, 1, 3_200, 80, 400_000)),
        ("coupon_venue", "Coupon venue", VENUE),
    ]


def test_filters_by_plan_and_group(ads: AdsWorld) -> None:
    r = _report(ads, ReportBy.DAY, plan_id=ads.coupons)
    assert [figures(x) for x in r.rows] == [
        (3, 1, 0, 1, 3_333, 0, 0, None, 0),
        (0, 0, 0, 0, None, 1, 500, 0, None),
    ]
    assert (r.plan_id, r.group_id) == (ads.coupons, None)
    low = _report(ads, ReportBy.CREATIVE, plan_id=ads.breakfast, group_id=ads.low)
    assert [(x.creative_id, figures(x)) for x in low.rows] == [(ads.low_ad, LOW)]
    assert figures(low.total) == LOW


def test_the_other_merchant_sees_only_its_own(ads: AdsWorld) -> None:
    r = _report(ads, ReportBy.PLAN, merchant_id=ads.other.merchant_id)
    assert [(x.plan_id, x.name, figures(x)) for x in r.rows] == [
        (ads.theirs, "Theirs", (1, 1, 0, 20, 10_000, 0, 0, None, 0))
    ]


def test_92_days_is_the_longest_range() -> None:
    assert reports.date_range(date(2026, 1, 1), date(2026, 4, 2)) == (
        date(2026, 1, 1),
        date(2026, 4, 2),
    )
    now = datetime(2026, 11, 23, 16, 0, tzinfo=UTC)  # the 24th in Beijing
    assert reports.date_range(None, None, now) == (date(2026, 11, 18), date(2026, 11, 24))
    assert reports.date_range(None, date(2026, 3, 1), now) == (date(2026, 2, 23), date(2026, 3, 1))


def test_csv_cells_never_start_a_formula() -> None:
    assert [reports._cell(v) for v in (None, 12, "早餐", "=HYPERLINK(1)", "-1", "@x")] == [
        "",
        "12",
        "早餐",
        "'=HYPERLINK(1)",
        "'-1",
        "'@x",
    ]


# --- the query alone, on DuckDB and PostgreSQL --------------------------------------------

NOW = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)  # 12:00 in Beijing on the 24th


def test_event_counts_on_each_backend(analytics_store: AnalyticsStore) -> None:
    """Brand-booking impressions (no plan) form their own row; statuses and days count the
    same on DuckDB and PostgreSQL."""
    ad: dict[str, Any] = {
        "merchant_id": 1,
        "occurred_at": NOW,
        "placement": "home_feed",
        "creative_id": 5,
    }
    ad |= {"plan_id": 4, "group_id": 40}
    booked = {**ad, "placement": "five_blessings", "plan_id": None, "group_id": None}
    analytics_store.record(
        [
            AdImpressed(**ad, impression_id=1, cost_millifen=1_500),
            AdImpressed(**booked, impression_id=2, booking_id=3),
            # 23:59 and 00:00 in Beijing: the 22nd and the 23rd.
            AdImpressed(
                **ad | {"occurred_at": NOW - timedelta(days=1, hours=12, minutes=1)},
                impression_id=3,
                cost_millifen=2_600,
            ),
            AdImpressed(
                **ad
                | {"occurred_at": NOW - timedelta(days=1, hours=12), "plan_id": 9, "group_id": 90},
                impression_id=4,
                cost_millifen=700,
            ),
            AdImpressed(**ad | {"merchant_id": 2}, impression_id=5, cost_millifen=9_000),
            AdClicked(**ad, click_id=1, impression_id=1, status="unfunded"),
            AdClicked(**ad, click_id=2, impression_id=1, status="invalid"),
            AdClicked(**ad, click_id=3, impression_id=1, status="billed", cost_millifen=40_000),
            AdConverted(
                **ad, conversion_id=1, click_id=3, source="upload", kind="lead", value_fen=250
            ),
        ]
    )
    start, end = date(2026, 11, 22), date(2026, 11, 24)
    by_plan = reports.event_counts(analytics_store, 1, ReportBy.PLAN, start, end)
    assert by_plan == {
        4: reports.Counts(2, 2, 1, 44_100, 1, 250),
        None: reports.Counts(impressions=1),
        9: reports.Counts(impressions=1, cost_millifen=700),
    }
    by_day = reports.event_counts(analytics_store, 1, ReportBy.DAY, start, end)
    epoch = date(1970, 1, 1)
    assert {epoch + timedelta(days=int(k or 0)): c.impressions for k, c in by_day.items()} == {
        date(2026, 11, 22): 1,
        date(2026, 11, 23): 1,
        date(2026, 11, 24): 2,
    }
    by_placement = reports.event_counts(
        analytics_store, 1, ReportBy.PLACEMENT, start, end, group_id=40
    )
    assert by_placement == {"home_feed": reports.Counts(2, 2, 1, 44_100, 1, 250)}
    assert reports.event_counts(None, 1, ReportBy.PLAN, start, end) == {}
