"""The decisions table of a send: each recipient decided once (duplicates in the source,
several decisions in one transaction, nothing left after commit), a one-time consent lost
to a concurrent send, and a fan-out racing single sends to the same consumers."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ccare.core.db import Database
from ccare.core.outbox import OutboxEvent
from ccare.core.tenancy import PLATFORM
from ccare.messages import broadcasts, fanout
from ccare.messages.batch_queries import DECISIONS, BatchQueries
from ccare.messages.models import CapCounter, Consent, ConsentStatus, Message
from ccare.messages.schemas import BroadcastCreate, ConsumerList, SendRequest
from ccare.messages.service import refusals, send
from tests.factories import make_consumer
from tests.messages.conftest import NOON, Shop, send_as_api


def _broadcast(shop: Shop, template_id: int, ids: list[int], no: str = "fan-1") -> int:
    data = BroadcastCreate(
        template_id=template_id,
        variables={"name": "friends", "thing": "new tea"},
        recipients=ConsumerList(consumer_ids=ids),
        out_request_no=no,
        start=True,
    )
    with shop.db.transaction() as s:
        return broadcasts.create(s, shop.staff, data).id


def _rows(db: Database, broadcast_id: int) -> dict[int, tuple[str, str | None, int | None]]:
    with db.transaction() as s:
        stmt = select(Message.consumer_id, Message.state, Message.reason, Message.consent_id)
        return {
            c: (state.value, reason and reason.value, consent)
            for c, state, reason, consent in s.execute(
                stmt.where(Message.broadcast_id == broadcast_id)
            )
        }


def _counters(db: Database, consumer_id: int) -> dict[str, int]:
    with db.transaction() as s:
        stmt = select(CapCounter.period, CapCounter.count)
        return dict(s.execute(stmt.where(CapCounter.consumer_id == consumer_id)).all())


def test_a_recipient_listed_twice_is_decided_once(shop: Shop, people: list[int]) -> None:
    a, b, c, _ = people
    shop.consent(a, shop.service, kind="long_term")
    shop.consent(b, shop.service)
    broadcast_id = _broadcast(shop, shop.service, [a, b, a, c])

    progress = fanout.run(shop.db, broadcast_id, size=2, now=NOON)  # batches [a, b], [a, c]
    later = shop.send(a, shop.service, "after", name="Li", thing="tea")

    rows = _rows(shop.db, broadcast_id)
    with shop.db.transaction() as s:
        a_id = s.scalars(
            select(Message.id).where(Message.broadcast_id == broadcast_id, Message.consumer_id == a)
        ).one()
        a_consent = s.scalars(select(Consent.id).where(Consent.consumer_id == a)).one()
        b_consent = s.execute(
            select(Consent.id, Consent.status, Consent.message_id).where(Consent.consumer_id == b)
        ).one()
        b_id = s.scalars(select(Message.id).where(Message.consumer_id == b)).one()
        events: dict[str, Any] = dict(
            s.execute(
                select(OutboxEvent.event_id, OutboxEvent.payload).where(
                    OutboxEvent.type == "message.sent"
                )
            ).all()
        )
        later_id = s.scalars(select(Message.id).where(Message.request_no == "after")).one()
        total = broadcasts.report(s, PLATFORM, broadcast_id).total
    assert progress.outcomes == {"sent": 2, "refused:no_consent": 1}
    assert (progress.decided, total) == (3, 3)
    assert rows == {
        a: ("sent", None, a_consent),
        b: ("sent", None, b_consent[0]),
        c: ("refused", "no_consent", None),
    }
    assert (b_consent[1].value, b_consent[2]) == ("used", b_id)
    assert later == "sent" and later_id > max(a_id, b_id)  # ids taken by the fan-out are not reused
    assert sorted(events) == sorted(f"message.sent:{i}" for i in (a_id, b_id, later_id))
    assert events[f"message.sent:{a_id}"] == {
        "merchant_id": shop.merchant_id,
        "consumer_id": a,
        "message_id": a_id,
        "template_id": shop.service,
        "broadcast_id": broadcast_id,
        "category": "service",
    }


def test_a_capped_recipient_spends_no_consent(db: Database, shop: Shop, people: list[int]) -> None:
    long_term, once, free, _ = people
    shop.consent(long_term, shop.marketing, kind="long_term")
    shop.consent(once, shop.marketing, n=2)
    shop.consent(free, shop.marketing)
    with db.transaction() as s:
        s.add_all(
            CapCounter(consumer_id=c, period=p, count=n)
            for c in (long_term, once)
            for p, n in (("d:2026-11-24", 3), ("w:2026-W48", 5))
        )
    broadcast_id = _broadcast(shop, shop.marketing, [long_term, once, free])

    progress = fanout.run(db, broadcast_id, now=NOON)

    rows = _rows(db, broadcast_id)
    with db.transaction() as s:
        consents = sorted(
            (c, st.value) for c, st in s.execute(select(Consent.consumer_id, Consent.status))
        )
        free_consent = s.scalars(select(Consent.id).where(Consent.consumer_id == free)).one()
    assert progress.outcomes == {"sent": 1, "refused:daily_cap": 2}
    assert rows == {
        long_term: ("refused", "daily_cap", None),
        once: ("refused", "daily_cap", None),
        free: ("sent", None, free_consent),
    }
    assert consents == [
        (long_term, "active"),
        (once, "active"),
        (once, "active"),
        (free, "used"),
    ]
    assert _counters(db, long_term) == {"d:2026-11-24": 3, "w:2026-W48": 5}
    assert _counters(db, once) == {"d:2026-11-24": 3, "w:2026-W48": 5}
    assert _counters(db, free) == {"d:2026-11-24": 1, "w:2026-W48": 1}


def test_two_decisions_in_one_transaction_and_none_left_after_commit(
    db: Database, shop: Shop, people: list[int]
) -> None:
    c = people[0]
    shop.consent(c, shop.service, kind="long_term")
    with db.engine.connect() as conn:
        s = Session(bind=conn)  # one connection: its temporary table outlives the commit
        states = [
            send(
                s,
                shop.staff,
                shop.service,
                SendRequest(
                    consumer_id=c, variables={"name": "a", "thing": "b"}, out_request_no=no
                ),
                now=NOON,
            ).state.value
            for no in ("one", "two")
        ]
        decided_in_transaction = s.scalar(select(func.count()).select_from(DECISIONS))
        s.commit()
        left_after_commit = s.scalar(select(func.count()).select_from(DECISIONS))
        s.rollback()
        s.close()
    with db.transaction() as s:
        consent = s.scalars(select(Consent.id)).one()
        rows = s.execute(select(Message.request_no, Message.state, Message.consent_id)).all()
        events = s.scalar(select(func.count()).where(OutboxEvent.type == "message.sent"))
    assert states == ["sent", "sent"]
    assert sorted((no, st.value, ct) for no, st, ct in rows) == [
        ("one", "sent", consent),
        ("two", "sent", consent),
    ]
    assert events == 2
    # PostgreSQL keeps the last decision's row until commit; SQLite empties it at once.
    assert decided_in_transaction == (1 if db.dialect == "postgresql" else 0)
    assert left_after_commit == 0


def test_a_consent_lost_to_a_concurrent_send(
    postgres: Database, shop: Shop, people: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between the choice of a one-time consent and its spending, another send spends it:
    the row takes the consumer's next consent, or, with none left, is refused and takes its
    cap counts back."""
    two, one = people[0], people[1]
    shop.consent(two, shop.marketing, n=2)
    shop.consent(one, shop.marketing)
    with postgres.transaction() as s:
        first = {
            c: s.scalar(select(func.min(Consent.id)).where(Consent.consumer_id == c))
            for c in (two, one)
        }
    broadcast_id = _broadcast(shop, shop.marketing, [two, one])
    spend = BatchQueries.spend_once
    rival: list[int] = []

    def spend_after_a_rival(self: BatchQueries, now: datetime) -> Any:
        if not rival:  # a concurrent send takes both first consents and commits
            with postgres.transaction() as s:
                taken = s.execute(
                    update(Consent)
                    .where(Consent.id.in_(first.values()))
                    .values(status=ConsentStatus.USED, used_at=now)
                )
                rival.append(int(getattr(taken, "rowcount", 0)))
        return spend(self, now)

    monkeypatch.setattr(BatchQueries, "spend_once", spend_after_a_rival)
    progress = fanout.run(postgres, broadcast_id, now=NOON)

    rows = _rows(postgres, broadcast_id)
    with postgres.transaction() as s:
        consents = {
            i: (st.value, m)
            for i, st, m in s.execute(select(Consent.id, Consent.status, Consent.message_id))
        }
        message = s.scalar(select(Message.id).where(Message.consumer_id == two))
        counted = refusals(s, PLATFORM, shop.marketing)
    second = max(i for i in consents if i != first[two] and i != first[one])
    assert rival == [2]
    assert progress.outcomes == {"sent": 1, "refused:no_consent": 1}
    assert rows == {two: ("sent", None, second), one: ("refused", "no_consent", None)}
    assert consents == {
        first[two]: ("used", None),
        second: ("used", message),
        first[one]: ("used", None),
    }
    assert _counters(postgres, two) == {"d:2026-11-24": 1, "w:2026-W48": 1}
    assert _counters(postgres, one) == {"d:2026-11-24": 0, "w:2026-W48": 0}
    assert counted == {"no_consent": 1}


def test_fan_out_racing_single_sends_holds_caps_and_consents(
    postgres: Database, shop: Shop
) -> None:
    """Every consumer has one marketing message left today and four one-time consents; a
    fan-out to all of them races two single sends to each: each gets exactly one."""
    consumers = [make_consumer(postgres, name=f"R{i}") for i in range(12)]
    for c in consumers:
        shop.consent(c, shop.marketing, n=4)
    with postgres.transaction() as s:
        s.add_all(
            CapCounter(consumer_id=c, period=p, count=2)
            for c in consumers
            for p in ("d:2026-11-24", "w:2026-W48")
        )
    broadcast_id = _broadcast(shop, shop.marketing, consumers)
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()
    barrier = threading.Barrier(len(consumers) + 1)

    def fan_out() -> None:
        barrier.wait()
        progress = fanout.run(postgres, broadcast_id, size=3, now=NOON)
        with lock:
            outcomes.update(progress.outcomes)

    def single(c: int) -> None:
        barrier.wait()
        for n in range(2):
            data = SendRequest(
                consumer_id=c, variables={"name": "a", "thing": "b"}, out_request_no=f"{c}-{n}"
            )
            result = send_as_api(postgres, shop.staff, shop.marketing, data, NOON)
            with lock:
                outcomes[result] += 1

    threads = [threading.Thread(target=fan_out)]
    threads += [threading.Thread(target=single, args=(c,)) for c in consumers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)

    with postgres.transaction() as s:
        sent = Counter(s.scalars(select(Message.consumer_id).where(Message.state == "sent")).all())
        used = s.execute(
            select(Consent.consumer_id, Consent.message_id).where(Consent.status == "used")
        ).all()
        sent_ids = set(s.scalars(select(Message.id).where(Message.state == "sent")))
        counters = Counter(
            (period, n) for period, n in s.execute(select(CapCounter.period, CapCounter.count))
        )
        events = s.scalar(select(func.count()).where(OutboxEvent.type == "message.sent"))
        counted = refusals(s, PLATFORM, shop.marketing)
    sent_total = outcomes["sent"]
    refused_total = outcomes["refused:daily_cap"] + outcomes["message.daily_cap_reached"]
    assert (sent_total, refused_total) == (12, 24)
    assert sent == Counter({c: 1 for c in consumers})
    assert sorted(c for c, _ in used) == sorted(consumers)
    assert {m for _, m in used} == sent_ids
    assert counters == Counter({("d:2026-11-24", 3): 12, ("w:2026-W48", 3): 12})
    assert events == 12
    assert counted == {"daily_cap": 24}
