"""GET /api/v1/customer-profiles…: a merchant's customers from its events, RFM, timelines;
another merchant sees none of them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from ccare.core.db import Database
from ccare.core.time import utcnow
from ccare.orders.schemas import OrderPaid
from ccare.runtime import Runtime
from tests.factories import login, make_operator
from tests.profiles.conftest import Shop

PROFILES = "/api/v1/customer-profiles"


@pytest.fixture
def customers(client: TestClient, runtime: Runtime, shop: Shop, relay: Callable[[], int]) -> Shop:
    """Alice visited twice (offline first) and paid 30.00 then 12.00; Bob only shared."""
    now = utcnow()
    events = [
        {
            "event_id": "v1",
            "consumer_id": shop.alice,
            "name": "visit",
            "channel": "offline",
            "occurred_at": (now - timedelta(days=3)).isoformat(),
        },
        {
            "event_id": "v2",
            "consumer_id": shop.alice,
            "name": "visit",
            "channel": "search",
            "occurred_at": (now - timedelta(days=2)).isoformat(),
            "properties": {"page": "menu"},
        },
        {
            "event_id": "s1",
            "consumer_id": shop.bob,
            "name": "share",
            "occurred_at": (now - timedelta(hours=5)).isoformat(),
        },
    ]
    r = client.post("/api/v1/customer-events", json={"events": events}, headers=shop.owner)
    assert r.status_code == 200, r.text
    relay()
    assert runtime.analytics is not None
    runtime.analytics.record(
        [
            OrderPaid(
                occurred_at=now - timedelta(days=2, hours=-1),
                merchant_id=shop.merchant.merchant_id,
                consumer_id=shop.alice,
                order_id=n,
                trade_no=str(n),
                mini_program_id=1,
                items=[],
                amount=fen,
                platform_fee_fen=0,
            )
            for n, fen in ((1, 3_000), (2, 1_200))
        ]
    )
    return shop


def test_list_profiles(client: TestClient, customers: Shop) -> None:
    r = client.get(PROFILES, headers=customers.owner)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["merchant_id"], body["total"], body["limit"], body["offset"]) == (
        customers.merchant.merchant_id,
        2,
        50,
        0,
    )
    rows = [
        (p["consumer_id"], p["visits"], p["orders"], p["gmv_fen"], p["acquisition_channel"])
        for p in body["items"]
    ]
    # Bob was seen last (5 hours ago): most recent first.
    assert rows == [(customers.bob, 0, 0, 0, None), (customers.alice, 2, 2, 4_200, "offline")]
    alice = body["items"][1]
    # The only buyer sits mid-way on every score.
    assert (alice["member_level"], alice["recency_days"]) == ("gold", 1)
    assert (alice["r_score"], alice["f_score"], alice["m_score"]) == (3, 3, 3)
    assert alice["rfm_segment"] == "potential"


def test_filters_and_sorting(client: TestClient, customers: Shop) -> None:
    h = customers.owner
    by_gmv = client.get(PROFILES, params={"sort": "gmv"}, headers=h).json()
    assert [p["consumer_id"] for p in by_gmv["items"]] == [customers.alice, customers.bob]
    buyers = client.get(PROFILES, params={"min_orders": 1}, headers=h).json()
    assert (buyers["total"], [p["consumer_id"] for p in buyers["items"]]) == (1, [customers.alice])
    prospects = client.get(PROFILES, params={"rfm_segment": "prospects"}, headers=h).json()
    assert [p["consumer_id"] for p in prospects["items"]] == [customers.bob]
    page = client.get(PROFILES, params={"limit": 1, "offset": 1}, headers=h).json()
    assert (page["total"], [p["consumer_id"] for p in page["items"]]) == (2, [customers.alice])
    r = client.get(PROFILES, params={"rfm_segment": "whales"}, headers=h)
    assert r.status_code == 422


def test_rfm_distribution_lists_every_segment(client: TestClient, customers: Shop) -> None:
    body = client.get(f"{PROFILES}/rfm", headers=customers.owner).json()
    assert body["customers"] == 2
    assert [(s["segment"], s["customers"], s["gmv_fen"]) for s in body["segments"]] == [
        ("champions", 0, 0),
        ("loyal", 0, 0),
        ("new", 0, 0),
        ("potential", 1, 4_200),
        ("at_risk", 0, 0),
        ("hibernating", 0, 0),
        ("lost", 0, 0),
        ("prospects", 1, 0),
    ]
    assert body["labels"][0] == {"segment": "champions", "r": [4, 5], "f": [4, 5], "m": [4, 5]}


def test_one_profile_with_its_timeline(client: TestClient, customers: Shop) -> None:
    r = client.get(f"{PROFILES}/{customers.alice}", params={"events": 3}, headers=customers.owner)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["profile"]["orders"], body["profile"]["visits"]) == (2, 2)
    timeline = [(e["type"], e["name"], e["channel"], e["amount"]) for e in body["timeline"]]
    assert sorted(timeline, key=str) == sorted(
        [
            ("order.paid", None, None, 3_000),
            ("order.paid", None, None, 1_200),
            ("customer.event", "visit", "search", None),
        ],
        key=str,
    )
    visit = next(e for e in body["timeline"] if e["type"] == "customer.event")
    assert visit["payload"]["properties"] == {"page": "menu"}


def test_a_consumer_without_events_here_is_not_found(client: TestClient, customers: Shop) -> None:
    r = client.get(f"{PROFILES}/{customers.alice}", headers=customers.other_owner)
    assert (r.status_code, r.json()["code"]) == (404, "customer_profile.not_found")
    assert client.get(PROFILES, headers=customers.other_owner).json()["items"] == []


def test_another_merchant_cannot_name_this_merchant(client: TestClient, customers: Shop) -> None:
    m = customers.merchant.merchant_id
    for path in (PROFILES, f"{PROFILES}/rfm", f"{PROFILES}/{customers.alice}"):
        r = client.get(path, params={"merchant_id": m}, headers=customers.other_owner)
        assert (r.status_code, r.json()["code"]) == (404, "merchant.not_found"), path


def test_a_granted_isv_reads_its_merchants_customers(client: TestClient, customers: Shop) -> None:
    m = customers.merchant.merchant_id
    r = client.get(PROFILES, params={"merchant_id": m}, headers=customers.isv_staff)
    assert (r.status_code, r.json()["total"]) == (200, 2), r.text
    r = client.get(
        PROFILES, params={"merchant_id": customers.other.merchant_id}, headers=customers.isv_staff
    )
    assert (r.status_code, r.json()["code"]) == (404, "merchant.not_found")


def test_an_operator_must_say_which_merchant(
    client: TestClient, db: Database, customers: Shop
) -> None:
    op = make_operator(db)
    h = login(client, op.email, op.password)
    r = client.get(PROFILES, headers=h)
    assert (r.status_code, r.json()["code"]) == (422, "customer_profile.merchant_required")
    r = client.get(PROFILES, params={"merchant_id": customers.merchant.merchant_id}, headers=h)
    assert r.json()["total"] == 2
