"""The breakfast shop's customer assets in the demo world: favorites, visits, its own
events, messages and segments, with exact figures, idempotent, and on the consoles."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from tests.demo.test_world import table_counts
from tests.web.conftest import sign_in

from ccare.core.tenancy import PLATFORM
from ccare.core.time import BEIJING
from ccare.demo import assets, data, world
from ccare.demo.world import Summary
from ccare.runtime import Runtime

ASSET_COUNTS = {
    "favorites": 30,
    "unfavorites": 2,
    "favorite settings": 1,
    "favorite gifts": 24,
    "favorite benefits claimed": 3,
    "storefront visits": 102,
    "customer events": 10,
    "message templates": 2,
    "message consents": 40,
    "broadcasts": 1,
    "broadcast messages": 28,
    "segments": 2,
    "campaigns": 1,
}


def consumer_id(summary: Summary, index: int) -> int:
    return summary.consumer_ids[data.consumers()[index].phone]


def test_the_breakfast_shop_has_favorites_visits_events_messages_and_segments(
    runtime: Runtime,
) -> None:
    from ccare.consumers import service as consumers
    from ccare.favorites import report
    from ccare.favorites import service as favorites
    from ccare.favorites import settings as favorite_settings
    from ccare.messages import broadcasts
    from ccare.messages import service as messages
    from ccare.orders import service as orders
    from ccare.profiles import service as profiles
    from ccare.segments import service as segments

    summary = world.seed(runtime)
    assert {k: summary.created.get(k) for k in ASSET_COUNTS} == ASSET_COUNTS
    shop = summary.merchants[data.ASSETS_MERCHANT]
    analytics = runtime.analytics
    assert analytics is not None

    with runtime.db.transaction() as s:
        # Favorites: 30 favorited, 2 of them unfavorited later; all but the 6 early ones
        # got the gift; the settings name the gift and the shop's 30-5 coupon.
        shown = report.report(s, PLATFORM, analytics, shop.mini_program_id)
        assert shown.current == 28
        assert sum(d.added for d in shown.days) == 30
        assert sum(d.removed for d in shown.days) == 2
        gifts: dict[str, int] = {}
        for spec in data.favorites():
            who = consumers.consumer_principal(s, consumer_id(summary, spec.consumer))
            assert who is not None
            state = favorites.favorite_of(s, who, shop.mini_program_id)
            assert state.favorited is (spec.consumer not in data.UNFAVORITERS)
            assert state.gift is not None
            gifts[state.gift.outcome.value] = gifts.get(state.gift.outcome.value, 0) + 1
        assert gifts == {"none": 6, "given": 24}
        settings = favorite_settings.get_settings(s, PLATFORM, shop.mini_program_id)
        assert settings.gift is not None and settings.gift.name == data.FAVORITE_GIFT.name
        assert [b.name for b in settings.benefits] == ["满30减5 早餐券"]
        for index, held in ((20, True), (24, True), (28, True), (22, False)):
            who = consumers.consumer_principal(s, consumer_id(summary, index))
            assert who is not None
            state = favorites.state(s, who, shop.mini_program_id)
            assert [b.held for b in state.benefits] == [held], index

        # The shop's own events, stored once each.
        assert profiles.receipts_count(s, PLATFORM, shop.merchant_id) == 10

        # Two thirds consented, 24 for the long term and 16 once; the broadcast to the 28
        # current favoriters reached the 18 who consented, and spent the 8 one-time ones.
        kinds: dict[tuple[str, str], int] = {}
        for person in data.consumers():
            who = consumers.consumer_principal(s, consumer_id(summary, person.index))
            assert who is not None
            for consent in messages.my_consents(s, who):
                key = (consent.kind.value, consent.status.value)
                kinds[key] = kinds.get(key, 0) + 1
        assert kinds == {
            ("long_term", "active"): 24,
            ("once", "active"): 8,
            ("once", "used"): 8,
        }
        templates = messages.list_templates(s, PLATFORM, shop.merchant_id)
        assert sorted(t.category.value for t in templates) == ["marketing", "service"]
        (broadcast,) = broadcasts.list_broadcasts(s, PLATFORM, shop.merchant_id)
        sent = broadcasts.report(s, PLATFORM, broadcast.id)
        assert (sent.status.value, sent.total) == ("done", 28)
        assert sent.states == {"sent": 5, "delivered": 4, "opened": 4, "clicked": 5, "refused": 10}
        assert sent.refused == {"no_consent": 10}

        # The segments, computed on analytics, match what the orders and favorites say.
        paid_at_shop: dict[int, int] = {}
        for person in data.consumers():
            cid = consumer_id(summary, person.index)
            paid_at_shop[cid] = sum(
                1
                for o in orders.consumer_orders(s, cid, limit=100)
                if o.merchant_id == shop.merchant_id and o.paid_at is not None
            )
        regulars = sorted(c for c, n in paid_at_shop.items() if n >= 2)
        fans = sorted(
            consumer_id(summary, f.consumer)
            for f in data.favorites()
            if f.removed_days_ago is None and paid_at_shop[consumer_id(summary, f.consumer)] == 0
        )
        found = {
            seg.out_request_no: (seg.size, segments.members(s, PLATFORM, seg.id))
            for seg in segments.list_segments(s, PLATFORM, shop.merchant_id)
        }
        assert found == {
            "demo-regulars-no-coupon": (4, regulars),
            "demo-fans-no-order": (16, fans),
        }

    # The campaign on the fans: started by the seed, its round run by the worker.
    from ccare.campaigns import rounds
    from ccare.campaigns import service as campaigns

    assert rounds.run_due(runtime.db, analytics) == 1
    with runtime.db.transaction() as s:
        (campaign,) = campaigns.list_campaigns(s, PLATFORM, shop.merchant_id)
        chosen = {
            m.consumer_id
            for m in campaigns.members(s, PLATFORM, campaign.id, arm=None, after=0, limit=100)
        }
        assert (campaign.status.value, campaign.treated + campaign.held_out) == ("done", 16)
        assert chosen == set(fans)

    assert analytics.count("storefront.visited") == 102
    assert analytics.count("customer.event") == 10
    assert analytics.count("favorite.added") == 30
    assert analytics.count("favorite.removed") == 2
    assert analytics.count("message.sent") == 18
    assert analytics.count("message.consented") == 40
    assert analytics.count("segment.refreshed") == 2


def test_a_later_run_adds_no_assets_whatever_the_consumers_did_meanwhile(
    runtime: Runtime,
) -> None:
    from ccare.catalog import service as catalog
    from ccare.consumers import service as consumers
    from ccare.favorites import service as favorites
    from ccare.messages import service as messages

    first = world.seed(runtime)
    shop = first.merchants[data.ASSETS_MERCHANT]
    with runtime.db.transaction() as s:
        # A visitor opens the storefront now; a favoriter leaves; a subscriber revokes.
        visitor = consumer_id(first, 1)
        assert catalog.record_visit(s, visitor, shop.mini_program_id)
        leaver = consumers.consumer_principal(s, consumer_id(first, 0))
        assert leaver is not None
        assert favorites.remove(s, leaver, shop.mini_program_id).changed
        revoked = messages.my_consents(s, leaver, active_only=True)[0]
        messages.revoke(s, leaver, revoked.id)
    before = table_counts(runtime.db)

    again = world.seed(runtime)
    assert again.created == {}
    # Only what the consumers did, and the points the shop earned for the return visit.
    assert again.events_relayed == 4
    after = table_counts(runtime.db)
    # Relaying marks them processed by their subscribers; the visit earned the shop its
    # points; nothing else moves.
    assert after.pop("processed_events") > before.pop("processed_events")
    assert after.pop("outbox_events") == before.pop("outbox_events") + 1  # star_points.earned
    earned = {t: after[t] - before[t] for t in after if t.startswith("star_point")}
    assert earned == {
        "star_point_accounts": 0,
        "star_point_daily_counts": 1,
        "star_point_entries": 1,
        "star_point_favorites": 0,
        "star_point_grants": 0,
        "star_point_visits": 1,
    }
    assert {t: n for t, n in after.items() if t not in earned} == {
        t: n for t, n in before.items() if t not in earned
    }


def test_without_an_analytics_store_the_segments_wait(runtime: Runtime) -> None:
    from ccare.segments import service as segments

    assert runtime.analytics is not None
    runtime.analytics.close()
    runtime.analytics = None
    ticks: list[str] = []
    summary = world.seed(runtime, progress=ticks.append)
    assert len(ticks) == world.step_count()
    assert "segments" not in summary.created
    assert summary.created["favorites"] == 30
    with runtime.db.transaction() as s:
        assert segments.list_segments(s, PLATFORM) == []


def test_with_a_broker_the_segments_wait_for_a_run_after_the_worker_delivered(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The broker's events reach analytics only through the worker: the first run cannot
    compute segments on them, a later run finding nothing to relay does."""
    from ccare.core import worker
    from ccare.core.events import DomainEvent
    from ccare.segments import service as segments

    published: list[DomainEvent] = []

    class Broker:
        def __init__(self, url: str) -> None:
            pass

        def publish(self, events: list[DomainEvent]) -> list[str]:
            published.extend(events)
            return []

    monkeypatch.setattr(worker, "RedisStreamTransport", Broker)
    runtime.settings = runtime.settings.model_copy(update={"broker_url": "redis://broker"})
    first = world.seed(runtime)
    assert "segments" not in first.created
    assert first.events_relayed == len(published) > 0

    assert worker.process(runtime.db, runtime.analytics, published) == []  # the worker
    # Its subscribers emitted events in turn (the points the shops' visits earned): the
    # next run relays them, and still waits.
    published.clear()
    relay = world.seed(runtime)
    assert (relay.created, relay.events_relayed) == ({}, len(published))
    assert len(published) > 0
    assert worker.process(runtime.db, runtime.analytics, published) == []
    later = world.seed(runtime)
    assert later.created == {"segments": 2, "campaigns": 1}
    with runtime.db.transaction() as s:
        sizes = sorted(seg.size for seg in segments.list_segments(s, PLATFORM))
    assert sizes == [4, 16]


def test_the_consoles_show_the_assets(runtime: Runtime, client: TestClient) -> None:
    summary = world.seed(runtime)
    shop = next(m for m in data.MERCHANTS if m.slug == data.ASSETS_MERCHANT)
    client.cookies.set("ccare_locale", "en")
    sign_in(client, shop.owner_email, data.PASSWORD)

    page = client.get("/console/merchant/segments")
    assert page.status_code == 200
    for spec, size in zip(data.SEGMENTS, (4, 16), strict=True):
        row = page.text[page.text.index(spec.name) :]
        assert f'<td class="num" data-size>{size}</td>' in row[:200], spec.name
    assert page.text.count('data-status="ready"') == 2

    page = client.get("/console/merchant/favorites")
    assert page.status_code == 200
    assert '<strong id="current-favoriters">28</strong>' in page.text
    assert f"selected>{data.FAVORITE_GIFT.name}" in page.text

    page = client.get("/console/merchant/messages")
    assert page.status_code == 200
    assert data.MARKETING_TEMPLATE.name in page.text
    assert data.SERVICE_TEMPLATE.name in page.text

    # A customer's timeline shows the events the shop sent itself.
    visitor = summary.consumer_ids[data.consumers()[1].phone]
    page = client.get(f"/console/merchant/customers/{visitor}")
    assert page.status_code == 200
    assert page.text.count("store=xiaohe") == 2
    assert "to=friend" in page.text


def test_a_broadcast_seeded_in_the_quiet_hours_goes_out_the_evening_before() -> None:
    def beijing(day: int, hour: int, minute: int = 0) -> datetime:
        return datetime(2026, 11, day, hour, minute, tzinfo=BEIJING).astimezone(UTC)

    assert assets.sending_moment(beijing(24, 10)) == beijing(24, 10)
    assert assets.sending_moment(beijing(24, 20, 59)) == beijing(24, 20, 59)
    assert assets.sending_moment(beijing(24, 21)) == beijing(24, 20, 30)
    assert assets.sending_moment(beijing(24, 23, 45)) == beijing(24, 20, 30)
    assert assets.sending_moment(beijing(25, 3)) == beijing(24, 20, 30)
    assert assets.sending_moment(beijing(25, 8, 59)) == beijing(24, 20, 30)
