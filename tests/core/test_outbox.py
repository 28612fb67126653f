"""Outbox: written in the caller's transaction, delivered at least once, handled once."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from ccare.core.events import DomainEvent, domain_event
from ccare.core.outbox import OutboxEvent, ProcessedEvent, emit
from ccare.core.subscribers import subscriber
from ccare.core.time import utcnow
from ccare.core.worker import BackgroundWorker, InProcessTransport, drain, relay_once


@domain_event("test.pinged")
class Pinged(DomainEvent):
    n: int


@domain_event("test.flaky")
class Flaky(DomainEvent):
    n: int


CALLS: list[tuple[str, int]] = []
FAIL_FLAKY = {"remaining": 0}
SEEN = threading.Event()


@subscriber("test.pinged", name="test.record_ping")
def record_ping(session, event: Pinged) -> None:  # type: ignore[no-untyped-def]
    CALLS.append(("ping", event.n))
    SEEN.set()


@subscriber("test.flaky", name="test.steady")
def steady(session, event: Flaky) -> None:  # type: ignore[no-untyped-def]
    CALLS.append(("steady", event.n))


@subscriber("test.flaky", name="test.flaky")
def flaky(session, event: Flaky) -> None:  # type: ignore[no-untyped-def]
    if FAIL_FLAKY["remaining"] > 0:
        FAIL_FLAKY["remaining"] -= 1
        raise RuntimeError("downstream unavailable")
    CALLS.append(("flaky", event.n))


@pytest.fixture(autouse=True)
def _reset() -> None:
    CALLS.clear()
    FAIL_FLAKY["remaining"] = 0
    SEEN.clear()


def outbox_count(db) -> int:  # type: ignore[no-untyped-def]
    with db.transaction() as s:
        return int(s.scalar(select(func.count()).select_from(OutboxEvent)))


def test_rolled_back_transaction_leaves_no_event(db) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RuntimeError), db.transaction() as s:
        emit(s, Pinged(n=1))
        raise RuntimeError("business rule failed")
    assert outbox_count(db) == 0


def test_event_delivered_to_subscriber_and_analytics_once(runtime) -> None:  # type: ignore[no-untyped-def]
    db, analytics = runtime.db, runtime.analytics
    with db.transaction() as s:
        emit(s, Pinged(n=7, merchant_id=3))
    transport = InProcessTransport(db, analytics)
    assert drain(db, transport) == 1
    assert CALLS == [("ping", 7)]
    assert analytics.count("test.pinged") == 1

    # A relay that crashed after delivering but before marking the row: once its lease
    # ends the row is due again.
    with db.transaction() as s:
        s.execute(update(OutboxEvent).values(published_at=None, next_attempt_at=utcnow()))
    assert drain(db, transport) == 1
    assert CALLS == [("ping", 7)]
    assert analytics.count("test.pinged") == 1
    with db.transaction() as s:
        row = s.scalars(select(OutboxEvent)).one()
        assert row.attempts == 2
        assert row.published_at is not None


def test_failed_subscriber_is_retried_without_rerunning_the_others(runtime) -> None:  # type: ignore[no-untyped-def]
    db = runtime.db
    FAIL_FLAKY["remaining"] = 1
    with db.transaction() as s:
        emit(s, Flaky(n=1))
    transport = InProcessTransport(db, runtime.analytics)
    before = utcnow()
    assert relay_once(db, transport) == 1
    assert sorted(CALLS) == [("steady", 1)]
    with db.transaction() as s:
        row = s.scalars(select(OutboxEvent)).one()
        assert row.published_at is None
        assert row.attempts == 1
        assert row.last_error == "subscriber failed"
        assert row.next_attempt_at >= before + timedelta(seconds=1)
    # Not due yet: nothing happens.
    assert relay_once(db, transport) == 0
    with db.transaction() as s:
        s.execute(update(OutboxEvent).values(next_attempt_at=utcnow()))
    assert relay_once(db, transport) == 1
    assert sorted(CALLS) == [("flaky", 1), ("steady", 1)]
    with db.transaction() as s:
        names = sorted(s.scalars(select(ProcessedEvent.subscriber)))
        assert names == ["test.flaky", "test.steady"]


def test_background_worker_wakes_on_commit(runtime) -> None:  # type: ignore[no-untyped-def]
    worker = BackgroundWorker(runtime.db, runtime.analytics, poll=60)
    worker.start()
    try:
        with runtime.db.transaction() as s:
            emit(s, Pinged(n=42))
        # poll=60 s: only the after-commit wake-up can deliver this in time.
        assert SEEN.wait(10)
        assert CALLS == [("ping", 42)]
    finally:
        worker.stop()
