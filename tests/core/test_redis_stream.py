"""Production transport: Redis stream with a consumer group, ack after delivery."""

from __future__ import annotations

import time

import pytest
import redis as redis_lib
from sqlalchemy import select

from ccare.core.events import DomainEvent, domain_event
from ccare.core.outbox import OutboxEvent, ProcessedEvent, emit
from ccare.core.subscribers import subscriber
from ccare.core.worker import GROUP, STREAM, RedisStreamTransport, consume_stream_once, drain

HANDLED: list[int] = []


@domain_event("test.streamed")
class Streamed(DomainEvent):
    n: int


@subscriber("test.streamed", name="test.record_streamed")
def record(session, event: Streamed) -> None:  # type: ignore[no-untyped-def]
    HANDLED.append(event.n)


@pytest.fixture
def client(redis_url: str):  # type: ignore[no-untyped-def]
    c = redis_lib.Redis.from_url(redis_url)
    c.delete(STREAM)
    HANDLED.clear()
    yield c
    c.delete(STREAM)


def test_relay_publishes_and_worker_consumes_once(runtime, redis_url, client) -> None:  # type: ignore[no-untyped-def]
    db = runtime.db
    with db.transaction() as s:
        for n in range(3):
            emit(s, Streamed(n=n, merchant_id=1))
    assert drain(db, RedisStreamTransport(redis_url)) == 3
    with db.transaction() as s:
        assert all(r.published_at for r in s.scalars(select(OutboxEvent)))
    assert client.xlen(STREAM) == 3

    assert consume_stream_once(db, runtime.analytics, client, "w1", block_ms=100) == 3
    assert sorted(HANDLED) == [0, 1, 2]
    assert runtime.analytics.count("test.streamed") == 3
    assert client.xpending(STREAM, GROUP)["pending"] == 0
    assert consume_stream_once(db, runtime.analytics, client, "w1", block_ms=100) == 0


def test_entries_of_a_crashed_worker_are_reclaimed_and_not_handled_twice(
    runtime, redis_url, client
) -> None:  # type: ignore[no-untyped-def]
    db = runtime.db
    with db.transaction() as s:
        emit(s, Streamed(n=9))
    drain(db, RedisStreamTransport(redis_url))
    # A worker reads the entry and dies before acknowledging it.
    client.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    client.xreadgroup(GROUP, "dead", {STREAM: ">"}, count=10)
    assert client.xpending(STREAM, GROUP)["pending"] == 1
    time.sleep(0.05)
    assert (
        consume_stream_once(db, runtime.analytics, client, "w2", block_ms=10, claim_idle_ms=10) == 1
    )
    assert HANDLED == [9]
    assert client.xpending(STREAM, GROUP)["pending"] == 0

    # The same envelope delivered again (at-least-once) is recognised and skipped.
    raw = client.xrange(STREAM)[0][1]
    client.xadd(STREAM, raw)
    assert consume_stream_once(db, runtime.analytics, client, "w2", block_ms=100) == 1
    assert HANDLED == [9]
    with db.transaction() as s:
        assert s.scalars(select(ProcessedEvent.subscriber)).all() == ["test.record_streamed"]
    assert runtime.analytics.count("test.streamed") == 1
