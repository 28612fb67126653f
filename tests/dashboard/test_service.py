"""The C-CARE numbers over a known week of events: the same exact values on DuckDB and on
PostgreSQL, period boundaries in UTC+8, refunds, deltas, spend sources, and an empty
merchant (zeros and Nones, no division error)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from ccare.core.analytics import AnalyticsStore
from ccare.core.db import Database
from ccare.core.errors import InvalidInput
from ccare.dashboard import service
from ccare.dashboard.schemas import CcareDashboard
from tests.dashboard.events import (
    EXPECTED_7_DAYS,
    People,
    local,
    paid,
    promotion_charged,
    visited,
    week,
)

M, OTHER, EMPTY = 1, 2, 3
P = People(alice=10, bob=11, carol=12, dan=13, eve=14, zed=20)
TODAY = date(2026, 11, 24)
NOW = local(TODAY, "12:00:00")  # 04:00 UTC


_sessions: list[Session] = []


@pytest.fixture(autouse=True)
def _oltp(db: Database) -> Iterator[None]:
    """The OLTP session the campaigns' ROI rows are read in (these merchants have none)."""
    with db.transaction() as s:
        _sessions.append(s)
        yield
        _sessions.clear()


def run(
    store: AnalyticsStore | None, merchant: int = M, days: int = 7, now: datetime = NOW
) -> CcareDashboard:
    return service.dashboard(_sessions[0], store, merchant, days=days, now=now)


@pytest.fixture
def world(analytics_store: AnalyticsStore) -> AnalyticsStore:
    analytics_store.record(week(TODAY, M, OTHER, P))
    return analytics_store


def pair(metric: object) -> tuple[object, object]:
    return (metric.current, metric.previous)  # type: ignore[attr-defined]


def test_the_period_is_whole_local_days_ending_today(world: AnalyticsStore) -> None:
    p = run(world).period
    assert (p.first_day, p.last_day) == (date(2026, 11, 18), date(2026, 11, 24))
    assert (p.previous_first_day, p.previous_last_day) == (date(2026, 11, 11), date(2026, 11, 17))
    assert p.starts_at == datetime(2026, 11, 17, 16, 0, tzinfo=UTC)
    assert p.ends_at == datetime(2026, 11, 24, 16, 0, tzinfo=UTC)
    assert p.previous_starts_at == datetime(2026, 11, 10, 16, 0, tzinfo=UTC)
    # Just after local midnight it is already the next local day.
    late = run(world, now=datetime(2026, 11, 24, 16, 0, 1, tzinfo=UTC)).period
    assert (late.first_day, late.last_day) == (date(2026, 11, 19), date(2026, 11, 25))


def test_scale_new_customers_by_channel_and_day(world: AnalyticsStore) -> None:
    s = run(world).scale
    # Carol (first event at the period's first instant) and Dan are new now; Alice and Bob
    # (first event at the previous period's last second) were new before; Eve is older.
    assert s.new_customers.model_dump() == {
        "current": 2,
        "previous": 2,
        "change": 0,
        "change_ratio": 0.0,
    }
    assert [(c.channel, c.current, c.previous) for c in s.by_channel] == [
        ("offline_qr", 1, 0),
        ("storefront", 1, 0),
        ("coupon_venue", 0, 1),
        ("search", 0, 1),
    ]
    assert [(x.day.day, x.total, x.by_channel) for x in s.daily] == [
        (18, 1, {"storefront": 1}),
        (19, 0, {}),
        (20, 0, {}),
        (21, 0, {}),
        (22, 0, {}),
        (23, 0, {}),
        (24, 1, {"offline_qr": 1}),
    ]


def test_active_dau_wau_repeat_visits_and_favorites(world: AnalyticsStore) -> None:
    a = run(world).active
    e = EXPECTED_7_DAYS
    # 18th: Alice (visit at 00:00:00) and Carol; then Bob, Alice, Bob (removing a favorite;
    # the message to Carol is not her doing), Alice, Eve (Alice's refund is not hers), Dan.
    assert [x.dau for x in a.daily] == e["dau"]
    # Trailing 7 days: Alice, Bob, Carol from the 18th; Eve joins on the 23rd, Dan the 24th.
    assert [x.wau for x in a.daily] == e["wau_daily"]
    assert [x.day for x in a.daily] == [date(2026, 11, 18) + timedelta(days=i) for i in range(7)]
    assert pair(a.wau) == e["wau"]  # the previous period ends with Alice (12th) and Bob (17th)
    assert (a.wau.change, a.wau.change_ratio) == (3, 1.5)
    assert pair(a.average_dau) == (8 / 7, 2 / 7)
    assert a.average_dau.change == 8 / 7 - 2 / 7
    # Alice (3 days) and Bob (2 days) came back; Carol, Dan and Eve came on one day.
    assert pair(a.active_consumers) == e["active_consumers"]
    assert pair(a.repeat_visitors) == e["repeat_visitors"]
    assert pair(a.repeat_visit_rate) == (0.4, 0.0)
    assert a.repeat_visit_rate.change == 0.4
    assert pair(a.favorites_added) == e["favorites_added"]
    assert pair(a.favorites_removed) == e["favorites_removed"]
    assert pair(a.favorites_net) == (1, 1)
    # Now: Alice and Carol (Bob removed his). At the previous period's end: only Bob, as
    # Carol's favorite came at the very first instant of this period.
    assert pair(a.favoriters) == e["favoriters"]


def test_worth_gmv_net_of_refunds_order_value_and_repurchase(world: AnalyticsStore) -> None:
    w = run(world).worth
    e = EXPECTED_7_DAYS
    assert pair(w.paid_fen) == e["paid_fen"]
    assert pair(w.refunded_fen) == e["refunded_fen"]
    assert pair(w.gmv_fen) == e["gmv_fen"]
    assert (w.gmv_fen.change, w.gmv_fen.change_ratio) == (6_800, 6_800 / 3_000)
    assert pair(w.paid_orders) == e["paid_orders"]
    assert (w.paid_orders.change, w.paid_orders.change_ratio) == (4, 4.0)
    assert w.average_order_value_fen.model_dump() == {
        "current": 2_160,
        "previous": 3_000,
        "change": -840,
    }
    assert pair(w.buyers) == e["buyers"]  # Alice, Bob, Dan, Eve
    assert pair(w.repeat_buyers) == e["repeat_buyers"]  # Alice
    assert pair(w.repurchase_rate) == (0.25, 0.0)
    assert [(x.day.day, x.paid_orders, x.paid_fen, x.refunded_fen, x.gmv_fen) for x in w.daily] == [
        (18, 0, 0, 0, 0),
        (19, 1, 1_500, 0, 1_500),
        (20, 1, 2_000, 0, 2_000),
        (21, 0, 0, 0, 0),
        (22, 1, 4_000, 0, 4_000),
        (23, 1, 800, 1_000, -200),
        (24, 1, 2_500, 0, 2_500),
    ]


def test_efficiency_spend_cost_per_new_customer_and_gmv_per_fen(world: AnalyticsStore) -> None:
    f = run(world).efficiency
    assert pair(f.spend_fen) == EXPECTED_7_DAYS["spend_fen"]
    assert (f.spend_fen.change, f.spend_fen.change_ratio) == (-200, -0.4)
    assert [(s.source, s.event_type, s.current_fen, s.previous_fen) for s in f.by_source] == [
        ("coupon_discounts", "coupon.used", 300, 500),
        ("promotion", "promotion.charged", 0, 0),
    ]
    assert f.cost_per_new_customer_fen.model_dump() == {
        "current": 150,
        "previous": 250,
        "change": -100,
    }
    assert pair(f.gmv_per_spend_fen) == (9_800 / 300, 3_000 / 500)
    assert f.campaigns == []


def test_promotion_charges_are_spend(world: AnalyticsStore) -> None:
    world.record(
        [
            promotion_charged(M, local(TODAY - timedelta(days=1)), 1_200),
            promotion_charged(M, local(TODAY - timedelta(days=9)), 100),
            promotion_charged(OTHER, local(TODAY - timedelta(days=1)), 50_000),
        ]
    )
    f = run(world).efficiency
    assert [(s.source, s.current_fen, s.previous_fen) for s in f.by_source] == [
        ("coupon_discounts", 300, 500),
        ("promotion", 1_200, 100),
    ]
    assert pair(f.spend_fen) == (1_500, 600)
    assert pair(f.cost_per_new_customer_fen) == (750, 300)


def test_the_period_boundary_is_local_midnight(analytics_store: AnalyticsStore) -> None:
    first = date(2026, 11, 18)
    analytics_store.record(
        [
            paid(M, 30, local(first, "00:00:00"), 100),  # first instant: current
            paid(M, 31, local(first - timedelta(days=1), "23:59:59"), 10),  # previous
            # 23:59:59 local on the 24th is still today; the 25th is after the period.
            paid(M, 32, local(TODAY, "23:59:59"), 1),
            paid(M, 33, local(TODAY + timedelta(days=1), "00:00:00"), 1_000),
            # Before the previous period's first instant (the 11th): in neither.
            paid(M, 34, local(date(2026, 11, 10), "23:59:59"), 5_000),
            paid(M, 35, local(date(2026, 11, 11), "00:00:00"), 20),
        ]
    )
    w = run(analytics_store).worth
    assert pair(w.paid_fen) == (101, 30)
    assert (w.daily[0].paid_fen, w.daily[-1].paid_fen) == (100, 1)
    s = run(analytics_store).scale
    assert pair(s.new_customers) == (2, 2)  # 30 and 32; 31 and 35


def test_deltas_over_thirty_days(world: AnalyticsStore) -> None:
    """The same world seen over 30 days: everything but Eve's old order is current, and the
    previous period (Oct 26 - Nov 24 minus 30) holds Eve's first order."""
    d = run(world, days=30)
    assert (d.period.first_day, d.period.previous_first_day) == (
        date(2026, 10, 26),
        date(2026, 9, 26),
    )
    assert pair(d.worth.paid_fen) == (13_800, 1_000)
    assert pair(d.worth.paid_orders) == (6, 1)
    assert pair(d.scale.new_customers) == (4, 1)
    assert pair(d.worth.repurchase_rate) == (0.25, 0.0)  # Alice has 3 orders
    assert pair(d.active.repeat_visit_rate) == (0.4, 0.0)
    assert pair(d.efficiency.cost_per_new_customer_fen) == (200, 0)
    assert len(d.scale.daily) == len(d.active.daily) == len(d.worth.daily) == 30


def test_an_empty_merchant_gets_zeros_and_nones(world: AnalyticsStore) -> None:
    for store in (world, None):
        d = run(store, EMPTY)
        assert d.merchant_id == EMPTY
        assert d.scale.new_customers.model_dump() == {
            "current": 0,
            "previous": 0,
            "change": 0,
            "change_ratio": None,
        }
        assert d.scale.by_channel == []
        assert {x.total for x in d.scale.daily} == {0}
        assert {(x.dau, x.wau) for x in d.active.daily} == {(0, 0)}
        assert pair(d.active.average_dau) == (0.0, 0.0)
        assert pair(d.active.repeat_visit_rate) == (None, None)
        assert d.active.repeat_visit_rate.change is None
        assert pair(d.active.favoriters) == (0, 0)
        assert pair(d.worth.gmv_fen) == (0, 0)
        assert d.worth.average_order_value_fen.model_dump() == {
            "current": None,
            "previous": None,
            "change": None,
        }
        assert pair(d.worth.repurchase_rate) == (None, None)
        assert pair(d.efficiency.spend_fen) == (0, 0)
        assert [(s.source, s.current_fen) for s in d.efficiency.by_source] == [
            ("coupon_discounts", 0),
            ("promotion", 0),
        ]
        assert pair(d.efficiency.cost_per_new_customer_fen) == (None, None)
        assert pair(d.efficiency.gmv_per_spend_fen) == (None, None)
        assert len(d.worth.daily) == 7


def test_visits_without_orders_give_no_division_by_zero(analytics_store: AnalyticsStore) -> None:
    analytics_store.record([visited(M, 40, local(TODAY, "08:00:00"), "search")])
    d = run(analytics_store)
    assert pair(d.active.repeat_visit_rate) == (0.0, None)
    assert pair(d.worth.repurchase_rate) == (None, None)
    assert pair(d.efficiency.cost_per_new_customer_fen) == (0, None)
    assert pair(d.efficiency.gmv_per_spend_fen) == (None, None)


@pytest.mark.parametrize("days", [0, 6, 91, -1, 10**12])
def test_days_outside_7_to_90_are_refused(days: int) -> None:
    with pytest.raises(InvalidInput) as caught:
        service.check_days(days)
    assert (caught.value.code, caught.value.status_code) == ("dashboard.invalid_days", 422)


def test_average_fen_rounds_half_up() -> None:
    assert [service.average_fen(t, n) for t, n in ((10, 4), (5, 2), (7, 3), (0, 3), (9, 0))] == [
        3,
        3,
        2,
        0,
        None,
    ]
