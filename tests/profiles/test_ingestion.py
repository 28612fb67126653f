"""POST /api/v1/customer-events: all-or-nothing batches naming the failing path,
idempotent by the merchant's event id, emitted once as `customer.event`."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from ccare.core.db import Database
from ccare.core.outbox import OutboxEvent
from ccare.core.time import utcnow
from ccare.coupons.models import Channel as CouponChannel
from ccare.profiles.models import EventChannel, EventReceipt
from ccare.runtime import Runtime
from tests.factories import consumer_login
from tests.profiles.conftest import Shop

URL = "/api/v1/customer-events"


def event(consumer_id: int, event_id: str = "e1", **extra: Any) -> dict[str, Any]:
    body = {
        "event_id": event_id,
        "consumer_id": consumer_id,
        "name": "visit",
        "occurred_at": (utcnow() - timedelta(hours=1)).isoformat(),
    }
    return {**body, **extra}


def stored(db: Database) -> tuple[int, int]:
    """(receipts, customer.event outbox rows)."""
    with db.transaction() as s:
        receipts = s.scalar(select(func.count()).select_from(EventReceipt))
        emitted = s.scalar(select(func.count()).where(OutboxEvent.type == "customer.event"))
    return int(receipts or 0), int(emitted or 0)


def test_a_batch_is_stored_emitted_and_reaches_the_analytics_store(
    client: TestClient, db: Database, runtime: Runtime, shop: Shop, relay: Callable[[], int]
) -> None:
    at = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
    body = {
        "events": [
            event(shop.alice, "v-1", occurred_at=at.isoformat(), channel="offline"),
            event(
                shop.bob,
                "p-1",
                name="purchase",
                amount_fen=2_500,
                properties={"store": "Hefang", "items": 2, "vip": True, "score": 4.5},
                occurred_at="2026-11-21T10:00:00+08:00",
            ),
        ]
    }
    r = client.post(URL, json=body, headers=shop.owner)
    assert r.status_code == 200, r.text
    assert r.json() == {
        "merchant_id": shop.merchant.merchant_id,
        "accepted": 2,
        "duplicates": 0,
        "accepted_ids": ["v-1", "p-1"],
        "duplicate_ids": [],
    }
    assert stored(db) == (2, 2)
    relay()
    assert runtime.analytics is not None
    t = runtime.analytics.events_table()
    rows = t.filter(t.type == "customer.event").order_by("occurred_at").to_pyarrow().to_pylist()
    m = shop.merchant.merchant_id
    assert [(r["event_id"], r["consumer_id"], r["merchant_id"], r["amount"]) for r in rows] == [
        (f"ext:{m}:v-1", shop.alice, m, None),
        (f"ext:{m}:p-1", shop.bob, m, 2_500),
    ]
    assert rows[0]["occurred_at"] == at
    assert rows[1]["occurred_at"] == datetime(2026, 11, 21, 2, 0, tzinfo=UTC)
    payloads = [json.loads(r["payload"]) for r in rows]
    assert [(p["name"], p["channel"], p["external_id"]) for p in payloads] == [
        ("visit", "offline", "v-1"),
        ("purchase", None, "p-1"),
    ]
    assert payloads[1]["properties"] == {"store": "Hefang", "items": 2, "vip": True, "score": 4.5}


def test_a_resent_event_is_a_duplicate_stored_and_emitted_once(
    client: TestClient, db: Database, shop: Shop
) -> None:
    first = client.post(URL, json={"events": [event(shop.alice, "a")]}, headers=shop.owner)
    assert first.json()["accepted_ids"] == ["a"]
    again = client.post(
        URL,
        json={"events": [event(shop.alice, "b"), event(shop.bob, "a", name="share")]},
        headers=shop.owner,
    )
    assert again.status_code == 200, again.text
    assert (again.json()["accepted"], again.json()["duplicates"]) == (1, 1)
    assert (again.json()["accepted_ids"], again.json()["duplicate_ids"]) == (["b"], ["a"])
    assert stored(db) == (2, 2)


def test_the_same_event_id_is_another_event_for_another_merchant(
    client: TestClient, db: Database, shop: Shop
) -> None:
    for headers in (shop.owner, shop.other_owner):
        r = client.post(URL, json={"events": [event(shop.alice, "same")]}, headers=headers)
        assert r.json()["accepted"] == 1, r.text
    assert stored(db) == (2, 2)


@pytest.mark.parametrize(
    ("events", "path", "code"),
    [
        (
            [{"occurred_at": "2026-11-20T10:00:00"}],
            "events[1].occurred_at",
            "customer_event.invalid",
        ),
        ([{"occurred_at": "yesterday"}], "events[1].occurred_at", "customer_event.invalid"),
        (
            [{"occurred_at": timedelta(minutes=6)}],
            "events[1].occurred_at",
            "customer_event.in_future",
        ),
        (
            [{"occurred_at": -timedelta(days=401)}],
            "events[1].occurred_at",
            "customer_event.too_old",
        ),
        ([{"name": "Page View"}], "events[1].name", "customer_event.invalid"),
        ([{"name": ""}], "events[1].name", "customer_event.invalid"),
        ([{"channel": "telepathy"}], "events[1].channel", "customer_event.invalid"),
        ([{"amount_fen": -1}], "events[1].amount_fen", "customer_event.invalid"),
        ([{"event_id": "x" * 65}], "events[1].event_id", "customer_event.invalid"),
        ([{"event_id": "has space"}], "events[1].event_id", "customer_event.invalid"),
        ([{"event_id": ""}], "events[1].event_id", "customer_event.invalid"),
        ([{"consumer_id": 0}], "events[1].consumer_id", "customer_event.invalid"),
        (
            [{"consumer_id": 999_999_999}],
            "events[1].consumer_id",
            "customer_event.unknown_consumer",
        ),
        ([{"properties": {"nested": {"a": 1}}}], "events[1].properties", "customer_event.invalid"),
        ([{"properties": {"list": [1]}}], "events[1].properties", "customer_event.invalid"),
        ([{"properties": {"bad key": 1}}], "events[1].properties", "customer_event.invalid"),
        (
            [{"properties": {f"k{i}": i for i in range(21)}}],
            "events[1].properties",
            "customer_event.invalid",
        ),
        ([{"properties": {"t": "x" * 257}}], "events[1].properties", "customer_event.invalid"),
        ([{"surprise": 1}], "events[1].surprise", "customer_event.invalid"),
        ([{"event_id": "ok-0"}], "events[1].event_id", "customer_event.repeated_id"),
    ],
)
def test_one_bad_event_refuses_the_batch_naming_its_path(
    client: TestClient,
    db: Database,
    shop: Shop,
    events: list[dict[str, Any]],
    path: str,
    code: str,
) -> None:
    # Offsets are from the moment the test runs: a time fixed at import could pass the
    # 5-minute limit while a long suite runs.
    bad = {
        k: (utcnow() + v).isoformat() if isinstance(v, timedelta) else v
        for k, v in events[0].items()
    }
    batch = [
        event(shop.alice, "ok-0"),
        {**event(shop.bob, "bad"), **bad},
        event(shop.alice, "ok-2"),
    ]
    r = client.post(URL, json={"events": batch}, headers=shop.owner)
    assert r.status_code == 422, r.text
    body = r.json()
    assert (body["code"], body["details"]["path"]) == (code, path), r.text
    assert body["message"].startswith(f"{path}: ")
    assert stored(db) == (0, 0)


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"events": []}, "events"),
        ({}, "events"),
        ({"events": "nope"}, "events"),
        ({"events": [{}] * 501}, "events"),
        ({"merchant_id": -1, "events": []}, "merchant_id"),
    ],
)
def test_batch_shape_errors_name_their_path(
    client: TestClient, db: Database, shop: Shop, body: dict[str, Any], path: str
) -> None:
    r = client.post(URL, json=body, headers=shop.owner)
    assert (r.status_code, r.json()["code"]) == (422, "customer_event.invalid"), r.text
    assert r.json()["details"]["path"] == path
    assert stored(db) == (0, 0)


def test_every_error_of_a_batch_is_listed(client: TestClient, db: Database, shop: Shop) -> None:
    batch = [event(shop.alice, "a", name="Bad"), event(shop.bob, "b", amount_fen=-5)]
    r = client.post(URL, json={"events": batch}, headers=shop.owner)
    errors = r.json()["details"]["errors"]
    assert [e["path"] for e in errors] == ["events[0].name", "events[1].amount_fen"]
    assert stored(db) == (0, 0)


def test_500_events_are_one_batch(client: TestClient, db: Database, shop: Shop) -> None:
    batch = [event(shop.alice if i % 2 else shop.bob, f"n{i}") for i in range(500)]
    r = client.post(URL, json={"events": batch}, headers=shop.owner)
    assert (r.status_code, r.json()["accepted"]) == (200, 500), r.text
    assert stored(db) == (500, 500)


def test_the_longest_event_id_is_emitted(client: TestClient, db: Database, shop: Shop) -> None:
    """event_id `ext:{merchant_id}:{64 characters}` must fit the outbox and analytics ids."""
    r = client.post(URL, json={"events": [event(shop.alice, "x" * 64)]}, headers=shop.owner)
    assert (r.status_code, r.json()["accepted"]) == (200, 1), r.text
    assert stored(db) == (1, 1)


def test_channels_include_every_coupon_channel() -> None:
    assert {c.value for c in CouponChannel} <= {c.value for c in EventChannel}
    assert {"search", "mini_program", "offline", "ad", "other"} <= {c.value for c in EventChannel}


# --- who may send -------------------------------------------------------------------------


def test_another_merchants_staff_cannot_ingest_for_this_merchant(
    client: TestClient, db: Database, shop: Shop
) -> None:
    body = {"merchant_id": shop.merchant.merchant_id, "events": [event(shop.alice)]}
    r = client.post(URL, json=body, headers=shop.other_owner)
    assert (r.status_code, r.json()["code"]) == (404, "merchant.not_found"), r.text
    assert stored(db) == (0, 0)


def test_a_granted_isv_ingests_for_its_merchant(
    client: TestClient, db: Database, shop: Shop
) -> None:
    named = {"merchant_id": shop.merchant.merchant_id, "events": [event(shop.alice, "i1")]}
    r = client.post(URL, json=named, headers=shop.isv_staff)
    assert (r.status_code, r.json()["merchant_id"]) == (200, shop.merchant.merchant_id), r.text
    # Granted by one merchant only: that merchant is implied.
    r = client.post(URL, json={"events": [event(shop.alice, "i2")]}, headers=shop.isv_staff)
    assert (r.status_code, r.json()["accepted_ids"]) == (200, ["i2"]), r.text
    refused = {"merchant_id": shop.other.merchant_id, "events": [event(shop.alice, "i3")]}
    r = client.post(URL, json=refused, headers=shop.isv_staff)
    assert (r.status_code, r.json()["code"]) == (404, "merchant.not_found")
    assert stored(db) == (2, 2)


def test_consumers_and_strangers_cannot_ingest(
    client: TestClient, db: Database, shop: Shop
) -> None:
    r = client.post(
        URL, json={"events": [event(shop.alice)]}, headers=consumer_login(client, shop.alice)
    )
    assert (r.status_code, r.json()["code"]) == (403, "auth.staff_only")
    r = client.post(URL, json={"events": [event(shop.alice)]})
    assert (r.status_code, r.json()["code"]) == (401, "auth.required")
    assert stored(db) == (0, 0)
