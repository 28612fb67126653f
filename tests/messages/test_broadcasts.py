"""Broadcasts: the state machine, quiet hours per consumer zone, caps, the report, and a
second run that sends nothing (both databases)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from ccare.core.db import Database
from ccare.core.errors import DomainError
from ccare.core.outbox import OutboxEvent
from ccare.core.tenancy import PLATFORM
from ccare.messages import broadcasts, fanout, recipients, sending
from ccare.messages.models import CapCounter, Message, Recipient
from ccare.messages.schemas import BroadcastCreate, ConsumerList
from tests.messages.conftest import LATE, NOON, Shop


def _create(
    shop: Shop, template_id: int, ids: list[int], no: str = "b1", start: bool = True
) -> int:
    data = BroadcastCreate(
        template_id=template_id,
        variables={"name": "friends", "thing": "new tea"},
        recipients=ConsumerList(consumer_ids=ids),
        out_request_no=no,
        start=start,
    )
    with shop.db.transaction() as s:
        return broadcasts.create(s, shop.staff, data).id


def test_state_machine_and_idempotent_creation(shop: Shop, people: list[int]) -> None:
    first = _create(shop, shop.service, people, start=False)
    again = _create(shop, shop.service, people, start=False)
    try:
        _create(shop, shop.service, people[:1], start=False)
        conflict = ""
    except DomainError as exc:
        conflict = exc.code
    with shop.db.transaction() as s:
        draft = broadcasts.get(s, PLATFORM, first).status.value
        broadcasts.start(s, shop.staff, first)
        broadcasts.start(s, shop.staff, first)  # starting again: no-op
    fanout.run(shop.db, first, now=NOON)
    try:
        with shop.db.transaction() as s:
            broadcasts.start(s, shop.staff, first)
        restart = ""
    except DomainError as exc:
        restart = exc.code

    assert first == again
    assert conflict == "message.request_conflict"
    assert draft == "draft"
    assert restart == "message.broadcast_not_draft"


def test_quiet_hours_follow_each_consumers_zone_and_caps_hold(
    db: Database, shop: Shop, people: list[int]
) -> None:
    shanghai, tokyo, london, capped = people
    with db.transaction() as s:
        s.add_all(
            [
                Recipient(consumer_id=tokyo, time_zone="Asia/Tokyo"),
                Recipient(consumer_id=london, time_zone="Europe/London"),
            ]
        )
        # `capped` already had 3 marketing messages today (from any merchant).
        s.add_all(
            [
                CapCounter(consumer_id=capped, period="d:2026-11-24", count=3),
                CapCounter(consumer_id=capped, period="w:2026-W48", count=3),
            ]
        )
    for c in people:
        shop.consent(c, shop.marketing)
    # 20:30 in Shanghai = 21:30 in Tokyo (quiet) = 12:30 in London.
    at = LATE - timedelta(hours=2)
    broadcast_id = _create(shop, shop.marketing, [*people, 999_999])

    progress = fanout.run(db, broadcast_id, now=at)
    again = fanout.run(db, broadcast_id, now=at)

    with db.transaction() as s:
        rows = {
            c: (st.value, r and r.value, due and due.isoformat())
            for c, st, r, due in s.execute(
                select(Message.consumer_id, Message.state, Message.reason, Message.due_at)
            )
        }
        report = broadcasts.report(s, PLATFORM, broadcast_id)
        counters = dict(
            s.execute(
                select(CapCounter.period, CapCounter.count).where(CapCounter.consumer_id == tokyo)
            ).all()
        )
        capped_counts = sorted(
            s.scalars(select(CapCounter.count).where(CapCounter.consumer_id == capped))
        )
        released_early = sending.release_due(s, at + timedelta(minutes=5))
    assert rows == {
        shanghai: ("sent", None, at.isoformat()),
        tokyo: ("scheduled", None, "2026-11-25T00:00:00+00:00"),  # 09:00 Tokyo
        london: ("sent", None, at.isoformat()),
        capped: ("refused", "daily_cap", None),
        999_999: ("refused", "no_consent", None),
    }
    assert progress.decided == 5 and again.decided == 0
    assert report.total == 5
    assert report.states == {"sent": 2, "scheduled": 1, "refused": 2}
    assert report.refused == {"daily_cap": 1, "no_consent": 1}
    assert counters == {"d:2026-11-25": 1, "w:2026-W48": 1}
    assert capped_counts == [3, 3]  # the refusal took back its weekly count
    assert released_early == 0

    with db.transaction() as s:
        released = sending.release_due(s, NOON + timedelta(days=1))
        released_again = sending.release_due(s, NOON + timedelta(days=1))
        state = s.scalar(select(Message.state).where(Message.consumer_id == tokyo))
        events = s.scalar(select(func.count()).where(OutboxEvent.type == "message.sent"))
    assert (released, released_again, state.value, events) == (1, 0, "sent", 3)


def test_unknown_recipient_source_fails_the_broadcast(db: Database, shop: Shop) -> None:
    broadcast_id = _create(shop, shop.service, [1])
    with db.transaction() as s:
        broadcasts.get(s, PLATFORM, broadcast_id).recipients = {"kind": "nobody"}

    fanout.run(db, broadcast_id)

    with db.transaction() as s:
        b = broadcasts.get(s, PLATFORM, broadcast_id)
        known = ", ".join(recipients.kinds())  # other products register theirs
        assert (b.status.value, b.error) == (
            "failed",
            f"unknown recipient source 'nobody' (known: {known})",
        )
