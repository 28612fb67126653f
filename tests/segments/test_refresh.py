"""Scheduled refreshes, the worker's poller, and the service functions other products call."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from ccare.config import Settings
from ccare.core.analytics import DuckDBAnalytics
from ccare.core.db import Database
from ccare.core.errors import NotFound
from ccare.core.tenancy import Tenant
from ccare.core.time import utcnow
from ccare.runtime import Runtime
from ccare.segments import materialise, service, tasks
from ccare.segments.schemas import SegmentCreate
from tests import factories as f
from tests.factories import FACTORY_OPERATOR
from tests.segments.events import _ev, record, world

NEVER_PAID = {"event": {"type": "order.paid", "count": {"eq": 0}}}


def save(db: Database, analytics: object, merchant_id: int, every: int | None = 60) -> int:
    data = SegmentCreate(
        merchant_id=merchant_id, name="Never paid", rule=NEVER_PAID, refresh_every_minutes=every
    )
    with db.transaction() as s:
        segment, _ = service.create(s, FACTORY_OPERATOR, analytics, data)
        return segment.id


def members(db: Database, merchant_id: int, segment_id: int) -> list[int]:
    with db.transaction() as s:
        return service.members(s, Tenant(frozenset({merchant_id})), segment_id)


def test_due_segments_are_refreshed_once_per_period(db: Database, runtime: Runtime) -> None:
    m = f.make_merchant(db).merchant_id
    store = runtime.analytics
    now = utcnow()
    record(store, world(m, m + 1000, now=now))  # type: ignore[arg-type]
    segment_id = save(db, store, m)
    with db.transaction() as s:
        manual = SegmentCreate(
            merchant_id=m, name="Manual", rule=NEVER_PAID, refresh_every_minutes=None
        )
        manual_id = service.create(s, FACTORY_OPERATOR, store, manual)[0].id
    assert materialise.refresh_due(db, store, now=now + timedelta(minutes=59)) == 0
    # Consumer 12 pays and a new customer 30 appears: 12 leaves, 30 joins.
    record(
        store,
        [
            _ev("order.paid", 12, 0, m, 500, now=now, mini_program_id=1, order_id=77),
            _ev("storefront.visited", 30, 0, m, now=now, mini_program_id=1, channel="search"),
        ],
    )  # type: ignore[arg-type]
    later = now + timedelta(minutes=61)
    assert materialise.refresh_due(db, store, now=later) == 1
    assert materialise.refresh_due(db, store, now=later) == 0
    assert members(db, m, segment_id) == [13, 14, 30]
    assert members(db, m, manual_id) == [12, 13, 14]  # on demand only: not refreshed
    with db.transaction() as s:
        segment = service.get(s, Tenant(frozenset({m})), segment_id)
        assert (segment.size, segment.last_computed_at, segment.next_refresh_at) == (
            3,
            later,
            later + timedelta(minutes=60),
        )
        history = service.sizes(s, Tenant(frozenset({m})), segment_id)
        assert [(p.size, p.added, p.removed) for p in history] == [(3, 3, 0), (3, 1, 1)]


def test_a_failing_scheduled_refresh_keeps_members_and_records_the_error(
    db: Database, runtime: Runtime
) -> None:
    m = f.make_merchant(db).merchant_id
    now = utcnow()
    record(runtime.analytics, world(m, m + 1000, now=now))  # type: ignore[arg-type]
    segment_id = save(db, runtime.analytics, m)
    later = now + timedelta(hours=2)
    assert materialise.refresh_due(db, None, now=later) == 1
    assert members(db, m, segment_id) == [12, 13, 14]
    with db.transaction() as s:
        segment = service.get(s, Tenant(frozenset({m})), segment_id)
        assert segment.last_error == "AnalyticsUnavailable: this process has no analytics store"
        assert (segment.last_error_at, segment.size) == (later, 3)
        assert segment.next_refresh_at == later + timedelta(minutes=60)  # retried next period
        assert service.segment_out(segment).status == "failed"


def test_the_poller_refreshes_from_the_workers_analytics_store(
    db: Database, tmp_path: Path, database_url: str
) -> None:
    store = DuckDBAnalytics(str(tmp_path / "analytics.duckdb"))  # the worker's own store
    try:
        m = f.make_merchant(db).merchant_id
        now = utcnow()
        record(store, world(m, m + 1000, now=now - timedelta(hours=2)))  # type: ignore[arg-type]
        segment_id = save(db, store, m, every=15)
        with db.transaction() as s:  # due now
            service.get(s, Tenant(frozenset({m})), segment_id).next_refresh_at = now
        settings = Settings(database_url=database_url, _env_file=None)  # type: ignore[call-arg]
        tasks._next_check.clear()
        assert tasks.refresh_due(db, settings, None) == 0  # a worker without a store
        tasks._next_check.clear()
        assert tasks.refresh_due(db, settings, store) == 1
        assert tasks.refresh_due(db, settings, store) == 0  # nothing due; next look in 30 s
        with db.transaction() as s:
            assert len(service.sizes(s, Tenant(frozenset({m})), segment_id)) == 2
    finally:
        store.close()
        tasks._next_check.clear()
        store.close()


def test_members_for_other_products(db: Database, runtime: Runtime) -> None:
    m = f.make_merchant(db).merchant_id
    other = f.make_merchant(db).merchant_id
    record(runtime.analytics, world(m, other, now=utcnow()))  # type: ignore[arg-type]
    segment_id = save(db, runtime.analytics, m)
    assert members(db, m, segment_id) == [12, 13, 14]
    with db.transaction() as s:
        batches = list(service.member_batches(s, Tenant(frozenset({m})), segment_id, batch=2))
        assert batches == [[12, 13], [14]]
        with pytest.raises(NotFound):
            service.members(s, Tenant(frozenset({other})), segment_id)
