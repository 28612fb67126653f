"""Reliability: worker processes are killed with SIGKILL while notifications are in flight,
again and again, and every notification still arrives, duplicates under their own id.

The workers are real processes forked from a warm server process (multiprocessing's
forkserver, with ccare imported once), so the test can afford dozens of restarts. They
share the test's database: a SQLite file, or PostgreSQL with CCARE_TEST_DATABASE_URL.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import signal
import time
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from ccare.core.db import Database
from ccare.core.signing import SignAlgorithm, generate_private_key, response_content, verify
from ccare.webhooks.models import WebhookDelivery
from tests.webhooks import worker_process
from tests.webhooks.helpers import (
    Received,
    Receiver,
    open_shop,
    place_order,
    platform_key,
    relay,
    subscribe,
)

ORDERS = 80  # each makes two notifications: order.created and order.paid
KILLS = 50
LEASE_SECONDS = 2.0
CONCURRENCY = 3
BUDGET_SECONDS = 90


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(answer=lambda _r: (200, "success", random.uniform(0.02, 0.2)))
    yield r
    r.close()


def _status_counts(db: Database) -> dict[str, int]:
    with db.transaction() as s:
        stmt = select(WebhookDelivery.status, func.count()).group_by(WebhookDelivery.status)
        return {str(status): n for status, n in s.execute(stmt)}


def _wait(condition: Any, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False


@pytest.mark.timeout(240)
def test_killed_workers_lose_no_notification(
    client: TestClient, db: Database, database_url: str, receiver: Receiver
) -> None:
    shop = open_shop(client, db, generate_private_key(SignAlgorithm.RSA2))
    subscribe(client, shop, receiver.url(), ["order.created", "order.paid"])
    for _ in range(ORDERS):
        place_order(db, shop)
    relay(db)
    assert _status_counts(db) == {"pending": 2 * ORDERS}

    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["tests.webhooks.worker_process"])

    def start() -> Any:
        process = ctx.Process(
            target=worker_process.run,
            args=(database_url, LEASE_SECONDS, CONCURRENCY),
            daemon=True,
        )
        process.start()
        return process

    began = time.monotonic()
    kills = kills_in_flight = 0
    while kills < KILLS:
        seen = len(receiver.snapshot())
        process = start()
        # Kill at a random moment once this worker is sending (or after a lease, when all
        # that is left is still leased to the workers killed before).
        _wait(lambda seen=seen: len(receiver.snapshot()) > seen, LEASE_SECONDS + 0.5)
        time.sleep(random.uniform(0.0, 0.2))
        kills_in_flight += receiver.in_flight > 0
        os.kill(process.pid, signal.SIGKILL)
        process.join()
        assert process.exitcode == -signal.SIGKILL
        kills += 1

    survivor = start()
    try:
        assert _wait(lambda: _status_counts(db) == {"delivered": 2 * ORDERS}, 60), _status_counts(
            db
        )
    finally:
        survivor.kill()
        survivor.join()
    elapsed = time.monotonic() - began

    got = receiver.snapshot()
    with db.transaction() as s:
        rows = list(s.scalars(select(WebhookDelivery)))
    by_id: dict[str, list[Received]] = defaultdict(list)
    for request in got:
        by_id[request.headers["ccare-notify-id"]].append(request)
    # Every notification arrived at least once ...
    assert set(by_id) == {r.notify_id for r in rows}
    # ... every copy of it is the same notification under the same id ...
    ids_of: dict[tuple[str, int], set[str]] = defaultdict(set)
    for notify_id, copies in by_id.items():
        bodies = {c.body for c in copies}
        assert len(bodies) == 1, notify_id
        body = json.loads(bodies.pop())
        assert body["id"] == notify_id
        ids_of[(body["type"], body["data"]["order_id"])].add(notify_id)
    assert len(ids_of) == 2 * ORDERS
    assert all(len(ids) == 1 for ids in ids_of.values())
    # ... and each copy is signed by the platform.
    public = platform_key(client)
    for request in got:
        h = request.headers
        text = response_content(h["ccare-timestamp"], h["ccare-nonce"], request.body)
        assert verify(public, text, h["ccare-signature"])

    duplicates = len(got) - len(by_id)
    print(
        f"\n{kills} SIGKILLs ({kills_in_flight} with requests in flight), "
        f"{len(rows)} notifications, {len(got)} received, {duplicates} duplicates, "
        f"{receiver.torn} cut off mid-body, "
        f"{elapsed:.1f} s"
    )
    assert kills_in_flight >= KILLS // 2
    assert duplicates >= 1
    assert all(r.attempts >= 1 for r in rows)
    assert elapsed < BUDGET_SECONDS
