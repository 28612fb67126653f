"""Outbox relay and event delivery (ADR 0003).

Embedded mode: an in-process thread relays committed outbox rows straight to subscribers
and the analytics store. Production mode (CCARE_BROKER_URL=redis://...): the relay
publishes to a Redis stream and `ccare worker` processes consume it through a consumer
group, acknowledging only after delivery, so a crashed worker's messages are reclaimed.
Either way delivery is at least once and subscribers are idempotent.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any, Protocol

from sqlalchemy import select

from ccare.config import Settings, get_settings
from ccare.core.analytics import AnalyticsStore
from ccare.core.db import Database
from ccare.core.events import DomainEvent, rebuild
from ccare.core.outbox import OutboxEvent, on_commit_wakeup
from ccare.core.subscribers import deliver
from ccare.core.time import as_utc, utcnow

log = logging.getLogger(__name__)

STREAM = "ccare:events"
GROUP = "ccare-workers"
# Seconds between retries of a row whose delivery failed: 1s, 5s, 30s, 2m, 10m, then 1h.
RETRY_SCHEDULE = (1, 5, 30, 120, 600, 3600)


# A product's loop the worker runs beside the relay, in its own thread (e.g. sending
# webhooks): fn(db, settings, analytics) handles what is due and returns how much it did;
# 0 means wait for the next poll, or for a relay that delivered events, before calling
# again. `analytics` is the worker's own store (None when it has none).
Poller = Callable[[Database, Settings, AnalyticsStore | None], int]
_POLLERS: dict[str, Poller] = {}


def poller(name: str) -> Callable[[Poller], Poller]:
    def register(fn: Poller) -> Poller:
        existing = _POLLERS.get(name)
        if existing and existing is not fn:
            raise RuntimeError(f"poller {name} registered twice")
        _POLLERS[name] = fn
        return fn

    return register


def pollers() -> dict[str, Poller]:
    return dict(_POLLERS)


class Transport(Protocol):
    def publish(self, events: list[DomainEvent]) -> list[str]:
        """Hand events on; return the event ids that could not be delivered."""


class InProcessTransport:
    def __init__(self, db: Database, analytics: AnalyticsStore | None) -> None:
        self.db = db
        self.analytics = analytics

    def publish(self, events: list[DomainEvent]) -> list[str]:
        return process(self.db, self.analytics, events)


def process(db: Database, analytics: AnalyticsStore | None, events: list[DomainEvent]) -> list[str]:
    """Deliver to subscribers and the analytics store; ids of events to retry."""
    failed = [e.event_id for e in events if deliver(db, e)]
    if analytics is not None:
        try:
            analytics.record(events)
        except Exception:
            log.exception("analytics store rejected a batch")
            return [e.event_id for e in events]
    return failed


class RedisStreamTransport:
    def __init__(self, url: str) -> None:
        from ccare.core.redis_pool import redis_client

        self.client = redis_client(url)

    def publish(self, events: list[DomainEvent]) -> list[str]:
        pipe = self.client.pipeline(transaction=False)
        for e in events:
            pipe.xadd(STREAM, {"envelope": envelope(e)}, maxlen=1_000_000, approximate=True)
        pipe.execute()
        return []


def envelope(e: DomainEvent) -> str:
    return json.dumps(
        {
            "type": e.type,
            "event_id": e.event_id,
            "occurred_at": e.occurred_at.isoformat(),
            "payload": e.payload(),
        },
        ensure_ascii=False,
    )


def from_envelope(raw: bytes | str) -> DomainEvent:
    data = json.loads(raw)
    return rebuild(data["type"], data["event_id"], data["occurred_at"], data["payload"])


def to_event(row: OutboxEvent) -> DomainEvent:
    return rebuild(row.type, row.event_id, as_utc(row.occurred_at), row.payload)


def relay_once(db: Database, transport: Transport, batch: int = 200, lease: int = 60) -> int:
    """Move one batch of due outbox rows to the transport; returns rows handled.

    Rows are claimed with a lease (next_attempt_at pushed `lease` seconds ahead) and
    delivered outside that transaction, so subscribers can write (SQLite has one writer)
    and a relay that dies mid-batch only delays those rows until the lease ends.
    """
    with db.transaction() as session:
        stmt = (
            select(OutboxEvent)
            .where(OutboxEvent.published_at.is_(None), OutboxEvent.next_attempt_at <= utcnow())
            .order_by(OutboxEvent.id)
            .limit(batch)
        )
        if db.dialect == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        rows = list(session.scalars(stmt))
        if not rows:
            return 0
        until = utcnow() + timedelta(seconds=lease)
        for r in rows:
            r.next_attempt_at = until
        events = [to_event(r) for r in rows]
        ids = [r.id for r in rows]
    error: str | None = None
    try:
        failed = set(transport.publish(events))
    except Exception as exc:
        log.exception("transport failed")
        failed = {e.event_id for e in events}
        error = str(exc)[:500]
    _record_outcome(db, ids, failed, error)
    return len(ids)


def _record_outcome(db: Database, ids: list[int], failed: set[str], error: str | None) -> None:
    now = utcnow()
    with db.transaction() as session:
        for r in session.scalars(select(OutboxEvent).where(OutboxEvent.id.in_(ids))):
            r.attempts += 1
            if r.event_id in failed:
                delay = RETRY_SCHEDULE[min(r.attempts - 1, len(RETRY_SCHEDULE) - 1)]
                r.next_attempt_at = now + timedelta(seconds=delay)
                r.last_error = error or "subscriber failed"
            else:
                r.published_at = now
                r.last_error = None


def drain(db: Database, transport: Transport) -> int:
    total = 0
    while n := relay_once(db, transport):
        total += n
    return total


def consume_stream_once(
    db: Database,
    analytics: AnalyticsStore | None,
    client: Any,
    consumer: str,
    block_ms: int = 1000,
    claim_idle_ms: int = 30_000,
) -> int:
    """Read, deliver and acknowledge one batch from the Redis stream."""
    try:
        client.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    except Exception as exc:  # BUSYGROUP: already there
        if "BUSYGROUP" not in str(exc):
            raise
    # Messages a dead consumer read but never acknowledged come back after 30 s.
    _next, claimed, *_ = client.xautoclaim(
        STREAM, GROUP, consumer, min_idle_time=claim_idle_ms, count=100
    )
    messages = list(claimed)
    if not messages:
        for _stream, entries in (
            client.xreadgroup(GROUP, consumer, {STREAM: ">"}, count=200, block=block_ms) or []
        ):
            messages.extend(entries)
    if not messages:
        return 0
    events = [from_envelope(fields[b"envelope"]) for _id, fields in messages]
    failed = set(process(db, analytics, events))
    done = [
        msg_id for (msg_id, _), e in zip(messages, events, strict=True) if e.event_id not in failed
    ]
    if done:
        client.xack(STREAM, GROUP, *done)
    return len(done)


class BackgroundWorker:
    """Thread that relays (and in Redis mode also consumes) until stopped, plus one thread
    per registered poller."""

    def __init__(
        self,
        db: Database,
        analytics: AnalyticsStore | None,
        broker_url: str = "",
        poll: float = 1.0,
        settings: Settings | None = None,
    ) -> None:
        self.db = db
        self.analytics = analytics
        self.broker_url = broker_url
        self.poll = poll
        self.settings = settings or get_settings()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pollers: list[tuple[threading.Thread, threading.Event]] = []
        self._remove_wakeup = lambda: None
        self.consumer_name = f"{socket.gethostname()}-{os.getpid()}"
        self.transport: Transport = (
            RedisStreamTransport(broker_url) if broker_url else InProcessTransport(db, analytics)
        )

    def start(self, *, consume: bool = True) -> None:
        self._remove_wakeup = on_commit_wakeup(self._wake.set)
        self._thread = threading.Thread(
            target=self._run, args=(consume,), name="ccare-worker", daemon=True
        )
        self._thread.start()
        for name, fn in pollers().items():
            wake = threading.Event()
            thread = threading.Thread(
                target=self._run_poller, args=(name, fn, wake), name=name, daemon=True
            )
            self._pollers.append((thread, wake))
            thread.start()

    def _run(self, consume: bool) -> None:
        client = getattr(self.transport, "client", None)
        while not self._stop.is_set():
            try:
                if drain(self.db, self.transport):
                    # Subscribers may have queued work for the pollers (webhook deliveries).
                    for _thread, wake in self._pollers:
                        wake.set()
                if consume and client is not None:
                    consume_stream_once(
                        self.db, self.analytics, client, self.consumer_name, block_ms=200
                    )
            except Exception:
                log.exception("worker loop error")
            self._wake.wait(self.poll)
            self._wake.clear()

    def _run_poller(self, name: str, fn: Poller, wake: threading.Event) -> None:
        while not self._stop.is_set():
            try:
                if fn(self.db, self.settings, self.analytics):
                    continue
            except Exception:
                log.exception("poller %s failed", name)
            wake.wait(self.poll)
            wake.clear()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        for _thread, wake in self._pollers:
            wake.set()
        self._remove_wakeup()
        if self._thread:
            self._thread.join(timeout=10)
        for thread, _wake in self._pollers:
            thread.join(timeout=15)
