"""Concurrent batches with the same event ids store and emit each event once (PostgreSQL:
real parallel transactions on the receipts' unique key)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import func, select

from ccare.core.db import Database
from ccare.core.outbox import OutboxEvent
from ccare.core.time import utcnow
from ccare.merchants.service import staff_principal
from ccare.profiles import service
from ccare.profiles.models import EventReceipt
from ccare.profiles.schemas import CustomerEventBatch, IngestResult
from tests.profiles.conftest import Shop


def batch(consumer_id: int, ids: list[str]) -> CustomerEventBatch:
    at = utcnow() - timedelta(minutes=1)
    return CustomerEventBatch.model_validate(
        {
            "events": [
                {"event_id": i, "consumer_id": consumer_id, "name": "visit", "occurred_at": at}
                for i in ids
            ]
        }
    )


def counts(db: Database) -> tuple[list[str], int]:
    with db.transaction() as s:
        ids = list(s.scalars(select(EventReceipt.external_id).order_by(EventReceipt.external_id)))
        emitted = s.scalar(select(func.count()).where(OutboxEvent.type == "customer.event"))
    return ids, int(emitted or 0)


def test_a_batch_waiting_on_an_uncommitted_one_reports_its_events_as_duplicates(
    postgres: Database, shop: Shop
) -> None:
    inserted = threading.Event()
    results: dict[str, IngestResult] = {}

    def first() -> None:
        with postgres.transaction() as s:
            actor = staff_principal(s, shop.merchant.owner_staff_id)
            assert actor is not None
            results["first"] = service.ingest(s, actor, batch(shop.alice, ["a", "b"]))
            inserted.set()
            # Hold the transaction open while the second batch runs into the same keys.
            threading.Event().wait(0.5)

    def second() -> None:
        inserted.wait(5)
        with postgres.transaction() as s:
            actor = staff_principal(s, shop.merchant.owner_staff_id)
            assert actor is not None
            results["second"] = service.ingest(s, actor, batch(shop.alice, ["b", "c"]))

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert results["first"].accepted_ids == ["a", "b"]
    assert (results["second"].accepted_ids, results["second"].duplicate_ids) == (["c"], ["b"])
    assert counts(postgres) == (["a", "b", "c"], 3)


def test_many_overlapping_batches_store_every_event_once(postgres: Database, shop: Shop) -> None:
    start = threading.Barrier(8)

    def send(n: int) -> IngestResult:
        ids = [f"k{(n + i) % 12}" for i in range(6)]  # each id is in several batches
        with postgres.transaction() as s:
            actor = staff_principal(s, shop.merchant.owner_staff_id)
            assert actor is not None
            start.wait(5)
            return service.ingest(s, actor, batch(shop.bob, ids))

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(send, range(8)))
    accepted = [i for r in results for i in r.accepted_ids]
    assert sorted(accepted) == sorted(f"k{i}" for i in range(12))
    assert sum(r.duplicates for r in results) == 8 * 6 - 12
    assert counts(postgres) == (sorted(f"k{i}" for i in range(12)), 12)
