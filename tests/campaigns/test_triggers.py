"""The favorited-and-no-order trigger (both analytics backends): who it takes, round after
round, nobody twice, and the end of the campaign."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from ccare.campaigns import rounds, service, triggers
from ccare.campaigns.models import CampaignMember
from ccare.core.analytics import AnalyticsStore
from ccare.core.db import Database
from ccare.core.tenancy import PLATFORM
from tests.campaigns.conftest import NOON, make_shop
from tests.segments.events import Event

DAY = timedelta(days=1)


def fav(kind: str, merchant: int, consumer: int, days_ago: float, mp: int = 7) -> Event:
    return Event(kind, merchant, consumer, NOON - days_ago * DAY, None, {"mini_program_id": mp})


def paid(merchant: int, consumer: int, days_ago: float) -> Event:
    return Event("order.paid", merchant, consumer, NOON - days_ago * DAY, 1000, {"order_id": 1})


def test_favorited_no_order_takes_the_quiet_favoriters_once(
    db: Database, analytics_store: AnalyticsStore
) -> None:
    shop = make_shop(db, analytics_store, n=0)
    m = shop.merchant_id
    a, b, c, d, e, f, g = 101, 102, 103, 104, 105, 106, 107
    analytics_store.record(
        [  # type: ignore[list-item]
            fav("favorite.added", m, a, 10),  # quiet for 10 days: taken
            fav("favorite.added", m, b, 10),
            paid(m, b, 2),  # bought since: not taken
            fav("favorite.added", m, c, 3),  # too recent
            fav("favorite.added", m, d, 10),
            fav("favorite.removed", m, d, 5),  # no longer a favoriter
            paid(m, e, 12),
            fav("favorite.added", m, e, 10),  # bought only before favoriting: taken
            fav("favorite.added", m + 1, f, 10),  # another merchant's favoriter
            fav("favorite.added", m, g, 10, mp=7),
            fav("favorite.added", m, g, 9, mp=8),  # two mini-programs: taken once
        ]
    )
    assert triggers.favorited_no_order(analytics_store, m, 7, NOON) == [a, e, g]

    campaign = shop.create(
        segment_id=None,
        trigger={"kind": "favorited_no_order", "days": 7, "check_every_minutes": 60},
        holdout_percent=0,
        template_id=None,
        variables={},
        end_at=NOON + 2 * DAY,
    )
    first = rounds.run_due(db, analytics_store, NOON)
    too_soon = rounds.run_due(db, analytics_store, NOON + timedelta(minutes=30))
    late = 108  # an event that reaches the analytics store after the first round
    analytics_store.record([fav("favorite.added", m, late, 9)])  # type: ignore[list-item]
    second = rounds.run_due(db, analytics_store, NOON + DAY)
    analytics_store.record([fav("favorite.added", m, 109, 20)])  # type: ignore[list-item]
    after_the_end = rounds.run_due(db, analytics_store, NOON + 3 * DAY)
    with db.transaction() as s:
        query = select(CampaignMember).where(CampaignMember.campaign_id == campaign.id)
        members = {r.consumer_id: r.round for r in s.scalars(query)}
        done = service.get(s, PLATFORM, campaign.id)
        state = (
            done.status.value,
            done.rounds,
            done.treated,
            done.coupons_sent,
            done.next_round_at,
        )

    assert (first, too_soon, second, after_the_end) == (1, 0, 1, 0)
    assert members == {a: 0, e: 0, g: 0, late: 1}
    assert state == ("done", 2, 4, 4, None)
