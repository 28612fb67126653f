"""Single sends: consent spent once, refusals recorded and counted, caps across merchants,
quiet hours in the consumer's zone."""

from __future__ import annotations

from sqlalchemy import select

from ccare.core.db import Database
from ccare.core.outbox import OutboxEvent
from ccare.core.tenancy import PLATFORM
from ccare.messages.models import Category, Consent, Message
from ccare.messages.service import refusals
from tests.factories import make_merchant
from tests.messages.conftest import LATE, Shop, make_template, staff_of


def test_one_opt_in_is_one_send(shop: Shop, people: list[int]) -> None:
    c = people[0]
    shop.consent(c, shop.service)

    first = shop.send(c, shop.service, "a", name="Li", thing="tea")
    second = shop.send(c, shop.service, "b", name="Li", thing="tea")

    assert (first, second) == ("sent", "message.no_consent")
    with shop.db.transaction() as s:
        assert refusals(s, PLATFORM, shop.service) == {"no_consent": 1}
        rows = s.execute(select(Message.request_no, Message.state, Message.reason)).all()
        spent = s.execute(select(Consent.status, Consent.message_id)).all()
        sent_id = s.scalar(select(Message.id).where(Message.request_no == "a"))
        events = s.execute(
            select(OutboxEvent.event_id, OutboxEvent.payload).where(
                OutboxEvent.type == "message.sent"
            )
        ).all()
    assert sorted((r[0], r[1].value, r[2] and r[2].value) for r in rows) == [
        ("a", "sent", None),
        ("b", "refused", "no_consent"),
    ]
    assert [(st.value, m) for st, m in spent] == [("used", sent_id)]
    assert [e[0] for e in events] == [f"message.sent:{sent_id}"]
    assert events[0][1] == {
        "merchant_id": shop.merchant_id,
        "consumer_id": c,
        "message_id": sent_id,
        "template_id": shop.service,
        "broadcast_id": None,
        "category": "service",
    }


def test_same_request_number_is_the_same_send(shop: Shop, people: list[int]) -> None:
    c = people[0]
    shop.consent(c, shop.service, n=2)

    outcomes = [shop.send(c, shop.service, "same", name="Li", thing="tea") for _ in range(3)]
    other = shop.send(c, shop.service, "same", name="Wang", thing="tea")

    assert outcomes == ["sent", "sent", "sent"]
    assert other == "message.request_conflict"
    with shop.db.transaction() as s:
        left = s.scalars(select(Consent.status)).all()
    assert sorted(x.value for x in left) == ["active", "used"]


def test_long_term_consent_sends_until_revoked(shop: Shop, people: list[int]) -> None:
    from ccare.messages import service
    from tests.messages.conftest import consumer

    c = people[1]
    shop.consent(c, shop.service, kind="long_term")
    shop.consent(c, shop.service, kind="long_term")  # the same consent again
    sent = [shop.send(c, shop.service, f"n{i}", name="A", thing="b") for i in range(4)]
    with shop.db.transaction() as s:
        [consent] = service.my_consents(s, consumer(c))
        service.revoke(s, consumer(c), consent.id)
    after = shop.send(c, shop.service, "late", name="A", thing="b")

    assert sent == ["sent"] * 4
    assert after == "message.no_consent"


def test_variables_are_checked_at_send(shop: Shop, people: list[int]) -> None:
    c = people[0]
    shop.consent(c, shop.service)

    missing = shop.send(c, shop.service, "x", name="Li")
    unknown = shop.send(c, shop.service, "y", name="Li", thing="tea", extra="1")

    assert (missing, unknown) == ("message.variables_missing", "message.variables_unknown")
    with shop.db.transaction() as s:
        assert s.scalars(select(Message.id)).all() == []
        assert s.scalar(select(Consent.status)).value == "active"


def test_marketing_caps_count_across_merchants(db: Database, shop: Shop, people: list[int]) -> None:
    c = people[0]
    other = make_merchant(db, name="Merchant B")
    other_staff = staff_of(other.merchant_id)
    other_promo = make_template(db, other_staff, "B promo", Category.MARKETING)
    shop.consent(c, shop.marketing, kind="long_term")
    shop.consent(c, other_promo, n=5)
    b = Shop(db, other.merchant_id, other_staff, other_promo, 0)

    outcomes = [
        shop.send(c, shop.marketing, "a1", name="x", thing="y"),
        b.send(c, other_promo, "b1", name="x", thing="y"),
        shop.send(c, shop.marketing, "a2", name="x", thing="y"),
        b.send(c, other_promo, "b2", name="x", thing="y"),
    ]

    assert outcomes == ["sent", "sent", "sent", "message.daily_cap_reached"]
    with db.transaction() as s:
        # The refused send gave its one-time consent back: 5 given, 1 spent.
        statuses = sorted(
            x.value
            for x in s.scalars(select(Consent.status).where(Consent.template_id == other_promo))
        )
        assert statuses == ["active"] * 4 + ["used"]
        assert refusals(s, PLATFORM, other_promo) == {"daily_cap": 1}
        from ccare.messages.models import CapCounter

        counters = dict(s.execute(select(CapCounter.period, CapCounter.count)).all())
    assert counters == {"d:2026-11-24": 3, "w:2026-W48": 3}


def test_service_messages_are_exempt_from_caps_and_quiet_hours(
    shop: Shop, people: list[int]
) -> None:
    c = people[0]
    shop.consent(c, shop.service, kind="long_term")

    outcomes = [
        shop.send(c, shop.service, f"s{i}", now=LATE, name="x", thing="y") for i in range(5)
    ]

    assert outcomes == ["sent"] * 5


def test_quiet_hours_defer_marketing_to_the_morning(shop: Shop, people: list[int]) -> None:
    c = people[0]
    shop.consent(c, shop.marketing)

    outcome = shop.send(c, shop.marketing, "late", now=LATE, name="x", thing="y")

    assert outcome == "scheduled"
    with shop.db.transaction() as s:
        message = s.scalars(select(Message)).one()
        from ccare.messages.models import CapCounter

        counters = dict(s.execute(select(CapCounter.period, CapCounter.count)).all())
        sent_events = s.scalars(
            select(OutboxEvent.id).where(OutboxEvent.type == "message.sent")
        ).all()
    # 09:00 the next morning in Shanghai, counted on that day.
    assert message.due_at.isoformat() == "2026-11-25T01:00:00+00:00"
    assert message.sent_at is None
    assert counters == {"d:2026-11-25": 1, "w:2026-W48": 1}
    assert sent_events == []
