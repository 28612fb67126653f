"""A merchant with an open mini-program and coupon activities, a second merchant, and
consumers signed in to the API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ccare.core.db import Database
from ccare.core.worker import InProcessTransport, drain
from ccare.runtime import Runtime
from tests.coupons.test_activities import activity
from tests.factories import consumer_login, login, make_consumer, make_merchant, make_mini_program


@dataclass(frozen=True)
class Shop:
    merchant_id: int
    mini_program_id: int
    owner: dict[str, str]
    other_merchant_id: int
    other_mini_program_id: int
    other_owner: dict[str, str]
    consumer_id: int
    buyer: dict[str, str]


@pytest.fixture
def shop(client: TestClient, db: Database) -> Shop:
    a = make_merchant(db, name="西湖早餐")
    b = make_merchant(db, name="Other Shop")
    mp = make_mini_program(db, a.merchant_id, name="西湖早餐铺")
    other_mp = make_mini_program(db, b.merchant_id, name="Other")
    consumer = make_consumer(db, name="小明")
    return Shop(
        merchant_id=a.merchant_id,
        mini_program_id=mp,
        owner=login(client, a.owner_email, a.password),
        other_merchant_id=b.merchant_id,
        other_mini_program_id=other_mp,
        other_owner=login(client, b.owner_email, b.password),
        consumer_id=consumer,
        buyer=consumer_login(client, consumer),
    )


def new_activity(client: TestClient, owner: dict[str, str], **overrides: Any) -> int:
    r = client.post("/api/v1/coupon-activities", json=activity(**overrides), headers=owner)
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def new_buyer(client: TestClient, db: Database, name: str = "Buyer") -> dict[str, str]:
    return consumer_login(client, make_consumer(db, name=name))


def deliver(runtime: Runtime) -> int:
    """Relay the outbox: subscribers run and the events reach the analytics store."""
    return drain(runtime.db, InProcessTransport(runtime.db, runtime.analytics))


def events(runtime: Runtime, *types: str) -> list[tuple[str, int | None, dict[str, Any]]]:
    """(type, consumer_id, payload) of the delivered events of these types, in order."""
    assert runtime.analytics is not None
    t = runtime.analytics.events_table()
    rows = (
        t.filter(t.type.isin(list(types)))
        .order_by([t.occurred_at, t.event_id])
        .select("type", "consumer_id", "payload")
        .to_pyarrow()
        .to_pylist()
    )
    import json

    return [
        (
            r["type"],
            r["consumer_id"],
            r["payload"] if isinstance(r["payload"], dict) else json.loads(r["payload"]),
        )
        for r in rows
    ]
