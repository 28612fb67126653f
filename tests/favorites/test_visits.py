"""Storefront visits: recorded and announced at most once per consumer and mini-program
per 30 minutes, with the channel the storefront was opened from."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from ccare.catalog import service as catalog
from ccare.catalog.models import VisitChannel
from ccare.core.db import Database
from ccare.core.errors import NotFound
from ccare.runtime import Runtime
from tests.factories import make_consumer, make_merchant, make_mini_program
from tests.favorites.conftest import deliver, events
from tests.web.conftest import app_sign_in

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def _visit(db: Database, consumer: int, mp: int, at: datetime, channel: str = "search") -> bool:
    with db.transaction() as s:
        return catalog.record_visit(s, consumer, mp, VisitChannel(channel), now=at)


def test_a_visit_is_recorded_once_per_30_minutes(db: Database, runtime: Runtime) -> None:
    merchant = make_merchant(db)
    mp = make_mini_program(db, merchant.merchant_id)
    other_mp = make_mini_program(db, merchant.merchant_id, name="Second")
    a, b = make_consumer(db), make_consumer(db)

    recorded = [
        _visit(db, a, mp, T0),
        _visit(db, a, mp, T0 + timedelta(minutes=29, seconds=59)),
        _visit(db, b, mp, T0 + timedelta(minutes=1)),  # another consumer
        _visit(db, a, other_mp, T0 + timedelta(minutes=2), "favorites"),  # another storefront
        _visit(db, a, mp, T0 + timedelta(minutes=30)),
        _visit(db, a, mp, T0 + timedelta(minutes=45)),
    ]
    deliver(runtime)

    assert recorded == [True, False, True, True, True, False]
    assert [
        (c, p["merchant_id"], p["mini_program_id"], p["channel"])
        for _, c, p in events(runtime, "storefront.visited")
    ] == [
        (a, merchant.merchant_id, mp, "search"),
        (b, merchant.merchant_id, mp, "search"),
        (a, merchant.merchant_id, other_mp, "favorites"),
        (a, merchant.merchant_id, mp, "search"),
    ]


def test_closed_or_unknown_storefronts_record_nothing(db: Database, runtime: Runtime) -> None:
    from ccare.catalog.models import MiniProgramStatus
    from ccare.catalog.schemas import MiniProgramUpdate
    from ccare.catalog.service import update_mini_program
    from tests.factories import FACTORY_OPERATOR

    merchant = make_merchant(db)
    mp = make_mini_program(db, merchant.merchant_id)
    consumer = make_consumer(db)
    with db.transaction() as s:
        offline = MiniProgramUpdate(status=MiniProgramStatus.OFFLINE)
        update_mini_program(s, FACTORY_OPERATOR, mp, offline)

    for mini_program_id in (mp, 999_999):
        with pytest.raises(NotFound):
            _visit(db, consumer, mini_program_id, T0)
    deliver(runtime)
    assert events(runtime, "storefront.visited") == []


def test_opening_the_storefront_records_a_visit_with_its_channel(
    client: TestClient, db: Database, runtime: Runtime
) -> None:
    merchant = make_merchant(db)
    mp = make_mini_program(db, merchant.merchant_id)
    consumer = make_consumer(db)
    app_sign_in(client, consumer)

    first = client.get(f"/app/mp/{mp}?channel=favorites")
    second = client.get(f"/app/mp/{mp}")
    missing = client.get("/app/mp/999999")
    deliver(runtime)

    assert (first.status_code, second.status_code, missing.status_code) == (200, 200, 404)
    assert [(c, p["channel"]) for _, c, p in events(runtime, "storefront.visited")] == [
        (consumer, "favorites")
    ]


def test_an_unknown_channel_is_a_direct_open(
    client: TestClient, db: Database, runtime: Runtime
) -> None:
    merchant = make_merchant(db)
    mp = make_mini_program(db, merchant.merchant_id)
    app_sign_in(client, make_consumer(db))

    assert client.get(f"/app/mp/{mp}?channel=<script>").status_code == 200
    deliver(runtime)
    assert [p["channel"] for _, _, p in events(runtime, "storefront.visited")] == ["mini_program"]


@pytest.mark.parametrize("first_visit", [False, True])
def test_concurrent_opens_record_one_visit(
    postgres: Database, runtime: Runtime, first_visit: bool
) -> None:
    merchant = make_merchant(postgres)
    mp = make_mini_program(postgres, merchant.merchant_id)
    consumer = make_consumer(postgres)
    at = T0
    if not first_visit:
        assert _visit(postgres, consumer, mp, T0 - timedelta(hours=1))
    opens = 8
    barrier = threading.Barrier(opens)
    results: list[bool] = []

    def open_storefront() -> None:
        barrier.wait()
        results.append(_visit(postgres, consumer, mp, at))

    threads = [threading.Thread(target=open_storefront) for _ in range(opens)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    deliver(runtime)

    assert sorted(results) == [False] * (opens - 1) + [True]
    assert len(events(runtime, "storefront.visited")) == (1 if first_visit else 2)
