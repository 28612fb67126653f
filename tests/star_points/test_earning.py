"""Earning by the rule table through the real dispatch: visits and favorites emitted by the
catalog and favorites products, delivered by the worker's relay."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from ccare.catalog.models import VisitChannel
from ccare.core.db import Database
from ccare.core.outbox import OutboxEvent
from ccare.core.subscribers import deliver
from ccare.core.worker import to_event
from ccare.coupons import risk
from ccare.coupons.models import BlacklistKind
from ccare.coupons.schemas import BlacklistIn
from ccare.star_points import rules, tasks
from ccare.star_points.models import StarPointDailyCount, StarPointEntry
from tests.factories import FACTORY_OPERATOR
from tests.star_points.conftest import DAY1, Shop

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def ledger(db: Database) -> list[tuple[int, str, int, int | None]]:
    with db.transaction() as s:
        rows = s.execute(
            select(
                StarPointEntry.merchant_id,
                StarPointEntry.rule,
                StarPointEntry.points,
                StarPointEntry.consumer_id,
            ).order_by(StarPointEntry.id)
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]


def test_own_channels_are_catalog_visit_channels() -> None:
    assert {c.value for c in VisitChannel} >= rules.OWN_CHANNELS
    own = {"offline_qr", "message", "fan_group", "live", "share", "favorites"}
    assert own == rules.OWN_CHANNELS


def test_the_first_visit_of_the_day_through_an_own_channel_earns_300(shop: Shop) -> None:
    a, b, c = shop.people[:3]
    shop.visit(a, "offline_qr", DAY1)
    shop.visit(a, "message", DAY1 + HOUR)  # the same visitor later that day: no new UV
    shop.visit(a, "share", DAY1 + HOUR, mp=shop.second_mini_program_id)  # same merchant
    shop.visit(b, "search", DAY1)  # the platform brought b, not the merchant
    shop.visit(b, "fan_group", DAY1 + HOUR)  # b's UV of the day was already counted
    shop.visit(c, "live", DAY1, mp=shop.other_mini_program_id)  # another merchant's

    mid, other = shop.merchant_id, shop.other.merchant_id
    assert ledger(shop.db) == [
        (mid, "own_channel_visitor", 300, a),
        (other, "own_channel_visitor", 300, c),
    ]
    assert shop.balance() == 300
    assert shop.balance(other) == 300


def test_a_return_on_a_later_day_within_30_days_earns_30_once_a_day(shop: Shop) -> None:
    a, b = shop.people[:2]
    shop.visit(a, "search", DAY1)
    shop.visit(a, "search", DAY1 + 3 * DAY)
    shop.visit(a, "app_home", DAY1 + 3 * DAY + HOUR)  # again that day: nothing
    shop.visit(a, "offline_qr", DAY1 + 4 * DAY)  # a return through an own channel: both
    shop.visit(b, "search", DAY1)
    shop.visit(b, "search", DAY1 + 31 * DAY)  # 31 days later: outside the window
    shop.visit(b, "search", DAY1 + 61 * DAY)  # 30 days after the last: inside

    mid = shop.merchant_id
    assert ledger(shop.db) == [
        (mid, "repeat_visit", 30, a),
        (mid, "own_channel_visitor", 300, a),
        (mid, "repeat_visit", 30, a),
        (mid, "repeat_visit", 30, b),
    ]
    assert shop.balance() == 390


def test_local_days_turn_at_midnight_beijing_time(shop: Shop) -> None:
    a = shop.people[0]
    late = DAY1.replace(hour=15, minute=50)  # 23:50 in Beijing
    shop.visit(a, "search", late)
    shop.visit(a, "search", late + timedelta(minutes=40))  # 00:30 the next local day
    assert ledger(shop.db) == [(shop.merchant_id, "repeat_visit", 30, a)]


def test_only_the_first_favorite_of_a_mini_program_earns_100(shop: Shop) -> None:
    a, b = shop.people[:2]
    shop.favorite(a, DAY1)
    shop.unfavorite(a, DAY1 + HOUR)
    shop.favorite(a, DAY1 + 2 * HOUR)  # again after removing: nothing
    shop.favorite(a, DAY1 + 3 * HOUR, mp=shop.second_mini_program_id)  # another mini-program
    shop.favorite(b, DAY1 + 3 * DAY)

    mid = shop.merchant_id
    assert ledger(shop.db) == [
        (mid, "new_favorite", 100, a),
        (mid, "new_favorite", 100, a),
        (mid, "new_favorite", 100, b),
    ]
    assert shop.balance() == 300


def test_each_rule_stops_at_its_daily_cap_and_starts_again_the_next_day(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    capped = dataclasses.replace(rules.BY_KEY[rules.OWN_CHANNEL_VISITOR], daily_cap=2)
    monkeypatch.setitem(rules.BY_KEY, rules.OWN_CHANNEL_VISITOR, capped)
    a, b, c, d = shop.people
    for person in (a, b, c):
        shop.visit(person, "offline_qr", DAY1)
    shop.visit(shop.people[0], "live", DAY1, mp=shop.other_mini_program_id)  # own cap
    shop.visit(d, "offline_qr", DAY1 + DAY)

    assert shop.balance() == 900
    assert shop.balance(shop.other.merchant_id) == 300
    with shop.db.transaction() as s:
        counts = s.execute(
            select(StarPointDailyCount.day, StarPointDailyCount.earned, StarPointDailyCount.capped)
            .where(StarPointDailyCount.merchant_id == shop.merchant_id)
            .order_by(StarPointDailyCount.day)
        ).all()
    assert [(str(day), e, c_) for day, e, c_ in counts] == [
        ("2026-11-20", 2, 1),
        ("2026-11-21", 1, 0),
    ]


def test_a_redelivered_event_earns_once(shop: Shop) -> None:
    a = shop.people[0]
    shop.visit(a, "offline_qr", DAY1)
    with shop.db.transaction() as s:
        row = s.scalars(select(OutboxEvent).where(OutboxEvent.type == "storefront.visited")).one()
        event = to_event(row)
    assert deliver(shop.db, event) == []  # skipped: already processed
    # Even a handler run twice (a second relay racing past processed_events) earns once.
    for _ in range(2):
        with shop.db.transaction() as s:
            tasks.earn_on_visit(s, event)
    assert ledger(shop.db) == [(shop.merchant_id, "own_channel_visitor", 300, a)]
    assert shop.balance() == 300


def test_accounts_on_the_risk_list_earn_nothing(shop: Shop) -> None:
    a, b = shop.people[:2]
    with shop.db.transaction() as s:
        entry = BlacklistIn(kind=BlacklistKind.ACCOUNT, value=str(a), reason="visit farm")
        risk.add_to_blacklist(s, FACTORY_OPERATOR, entry)
    shop.visit(a, "offline_qr", DAY1)
    shop.favorite(a, DAY1)
    shop.visit(b, "offline_qr", DAY1)
    assert ledger(shop.db) == [(shop.merchant_id, "own_channel_visitor", 300, b)]


def test_earnings_are_announced_and_land_in_analytics(shop: Shop) -> None:
    a, b = shop.people[:2]
    shop.visit(a, "offline_qr", DAY1)
    shop.favorite(b, DAY1)
    analytics = shop.runtime.analytics
    assert analytics is not None
    t = analytics.events_table()
    rows = (
        t.filter(t.type == "star_points.earned")
        .order_by(t.consumer_id)
        .select("merchant_id", "consumer_id", "payload")
        .to_pyarrow()
        .to_pylist()
    )
    got = [(r["merchant_id"], r["consumer_id"], json.loads(r["payload"])) for r in rows]
    assert [(m, c, p["rule"], p["points"]) for m, c, p in got] == [
        (shop.merchant_id, a, "own_channel_visitor", 300),
        (shop.merchant_id, b, "new_favorite", 100),
    ]


def test_old_visits_are_pruned_by_the_poller(shop: Shop) -> None:
    from ccare.core.time import utcnow
    from ccare.star_points.models import StarPointVisit

    a, b = shop.people[:2]
    shop.visit(a, "search", utcnow() - 40 * DAY)
    shop.visit(b, "search", utcnow())
    tasks._next_prune.clear()
    assert tasks.prune_visits(shop.db, shop.runtime.settings, None) == 1
    with shop.db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(StarPointVisit)) == 1
