"""Races on PostgreSQL: sends against one-time consents, and fan-outs run twice at once."""

from __future__ import annotations

import threading
from collections import Counter

from sqlalchemy import func, select

from ccare.core.db import Database
from ccare.core.outbox import OutboxEvent
from ccare.core.tenancy import PLATFORM
from ccare.messages import broadcasts, fanout
from ccare.messages.models import CapCounter, Consent, Message
from ccare.messages.schemas import BroadcastCreate, ConsumerList, SendRequest
from ccare.messages.service import refusals
from tests.messages.conftest import NOON, Shop, send_as_api

THREADS = 12


def _together(n: int, fn: object) -> None:
    barrier = threading.Barrier(n)

    def run(i: int) -> None:
        barrier.wait()
        fn(i)  # type: ignore[operator]

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)


def test_concurrent_sends_spend_each_consent_once(
    postgres: Database, shop: Shop, people: list[int]
) -> None:
    c, consents, sends = people[0], 5, 24
    shop.consent(c, shop.service, n=consents)
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def send(i: int) -> None:
        for j in range(i, sends, THREADS):
            data = SendRequest(
                consumer_id=c, variables={"name": "a", "thing": "b"}, out_request_no=f"r{j}"
            )
            result = send_as_api(postgres, shop.staff, shop.service, data, NOON)
            with lock:
                outcomes[result] += 1

    _together(THREADS, send)

    with postgres.transaction() as s:
        delivered = s.scalar(select(func.count()).where(Message.state == "sent"))
        used = s.execute(select(Consent.status, Consent.message_id)).all()
        counted = refusals(s, PLATFORM, shop.service)
    assert outcomes == Counter({"sent": consents, "message.no_consent": sends - consents})
    assert delivered == consents
    assert sorted(st.value for st, _ in used) == ["used"] * consents
    assert len({m for _, m in used}) == consents
    assert counted == {"no_consent": sends - consents}


def test_concurrent_marketing_sends_stop_at_the_daily_cap(
    postgres: Database, shop: Shop, people: list[int]
) -> None:
    c = people[0]
    shop.consent(c, shop.marketing, n=20)
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def send(i: int) -> None:
        data = SendRequest(
            consumer_id=c, variables={"name": "a", "thing": "b"}, out_request_no=f"m{i}"
        )
        result = send_as_api(postgres, shop.staff, shop.marketing, data, NOON)
        with lock:
            outcomes[result] += 1

    _together(THREADS, send)

    with postgres.transaction() as s:
        counters = dict(s.execute(select(CapCounter.period, CapCounter.count)).all())
        active = s.scalar(select(func.count()).where(Consent.status == "active"))
    assert outcomes == Counter({"sent": 3, "message.daily_cap_reached": THREADS - 3})
    assert counters == {"d:2026-11-24": 3, "w:2026-W48": 3}
    assert active == 17


def _broadcast(shop: Shop, recipients: list[int], no: str = "bc-1") -> int:
    data = BroadcastCreate(
        template_id=shop.service,
        variables={"name": "all", "thing": "parcel"},
        recipients=ConsumerList(consumer_ids=recipients),
        out_request_no=no,
        start=True,
    )
    with shop.db.transaction() as s:
        return broadcasts.create(s, shop.staff, data).id


def test_fan_out_run_twice_at_once_sends_each_recipient_once(
    postgres: Database, shop: Shop
) -> None:
    recipients = list(range(1000, 1600))
    consented = recipients[::2]  # 300 of 600 subscribed
    with postgres.transaction() as s:
        from ccare.messages.models import ConsentKind, ConsentStatus

        s.add_all(
            Consent(
                merchant_id=shop.merchant_id,
                template_id=shop.service,
                consumer_id=c,
                kind=ConsentKind.ONCE,
                status=ConsentStatus.ACTIVE,
            )
            for c in consented
        )
    broadcast_id = _broadcast(shop, recipients)
    progress: list[fanout.Progress] = []

    def run(_i: int) -> None:
        progress.append(fanout.run(postgres, broadcast_id, size=50, now=NOON))

    _together(4, run)
    again = fanout.run(postgres, broadcast_id, size=50, now=NOON)

    with postgres.transaction() as s:
        per_consumer = Counter(
            s.scalars(select(Message.consumer_id).where(Message.broadcast_id == broadcast_id))
        )
        events = s.scalar(select(func.count()).where(OutboxEvent.type == "message.sent"))
        report = broadcasts.report(s, PLATFORM, broadcast_id)
    assert sum(p.decided for p in progress) == 600
    assert again.decided == 0
    assert set(per_consumer.values()) == {1} and len(per_consumer) == 600
    assert events == 300
    assert report.status.value == "done"
    assert (report.total, report.states, report.refused) == (
        600,
        {"sent": 300, "refused": 300},
        {"no_consent": 300},
    )
