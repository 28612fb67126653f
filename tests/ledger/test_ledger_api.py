"""Wallet, merchant balance and operator ledger endpoints."""

from __future__ import annotations

from fastapi.testclient import TestClient

from ccare.core.db import Database
from ccare.ledger import service as ledger
from tests.factories import consumer_login, login, make_consumer, make_merchant, make_operator


def _top_up(client: TestClient, headers: dict[str, str], key: str, amount: int):  # type: ignore[no-untyped-def]
    return client.post(
        "/api/v1/wallet/top-ups",
        json={"amount_fen": amount},
        headers={**headers, "Idempotency-Key": key},
    )


def test_wallet_starts_empty(client: TestClient, db: Database) -> None:
    consumer = make_consumer(db)
    r = client.get("/api/v1/wallet", headers=consumer_login(client, consumer))
    assert r.status_code == 200
    assert r.json() == {"consumer_id": consumer, "balance_fen": 0, "recent": []}


def test_top_up_then_wallet_shows_balance_and_posting(client: TestClient, db: Database) -> None:
    consumer = make_consumer(db)
    headers = consumer_login(client, consumer)
    r = _top_up(client, headers, "k1", 2_500)
    assert r.status_code == 201
    assert r.json()["amount_fen"] == 2_500
    assert r.json()["balance_fen"] == 2_500
    wallet = client.get("/api/v1/wallet", headers=headers).json()
    assert wallet["balance_fen"] == 2_500
    assert [(p["kind"], p["amount_fen"]) for p in wallet["recent"]] == [("top_up", 2_500)]


def test_top_up_replay_and_key_reuse(client: TestClient, db: Database) -> None:
    consumer = make_consumer(db)
    headers = consumer_login(client, consumer)
    first = _top_up(client, headers, "same", 1_000)
    again = _top_up(client, headers, "same", 1_000)
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    other = _top_up(client, headers, "same", 2_000)
    assert other.status_code == 409
    assert other.json()["code"] == "idempotency.key_reused"
    with db.transaction() as s:
        assert ledger.wallet_balance(s, consumer) == 1_000


def test_top_up_needs_key_and_valid_amount(client: TestClient, db: Database) -> None:
    headers = consumer_login(client, make_consumer(db))
    r = client.post("/api/v1/wallet/top-ups", json={"amount_fen": 100}, headers=headers)
    assert r.status_code == 422
    assert r.json()["code"] == "idempotency.key_missing"
    for amount in (0, 10_000_001):
        r = _top_up(client, headers, f"bad{amount}", amount)
        assert r.status_code == 422
        assert r.json()["code"] == "invalid_request"


def test_wallet_is_for_consumers_only(client: TestClient, db: Database) -> None:
    merchant = make_merchant(db)
    staff = login(client, merchant.owner_email, merchant.password)
    assert client.get("/api/v1/wallet", headers=staff).json()["code"] == "auth.consumer_only"
    assert client.get("/api/v1/wallet").status_code == 401


def test_merchant_balance_is_tenant_scoped(client: TestClient, db: Database) -> None:
    a, b = make_merchant(db, name="A"), make_merchant(db, name="B")
    with db.transaction() as s:
        ledger.top_up(s, 99, 700, "t")
        ledger.post(
            s,
            "payment",
            "p",
            [(ledger.wallet(s, 99), -700), (ledger.merchant_settlement(s, a.merchant_id), 700)],
        )
    staff_a = login(client, a.owner_email, a.password)
    staff_b = login(client, b.owner_email, b.password)
    url = f"/api/v1/merchants/{a.merchant_id}/balance"
    assert client.get(url, headers=staff_a).json() == {
        "merchant_id": a.merchant_id,
        "balance_fen": 700,
    }
    r = client.get(url, headers=staff_b)
    assert r.status_code == 404
    assert r.json()["code"] == "merchant.not_found"
    assert client.get(f"/api/v1/merchants/{b.merchant_id}/balance", headers=staff_b).json() == {
        "merchant_id": b.merchant_id,
        "balance_fen": 0,
    }
    op = make_operator(db)
    assert (
        client.get(url, headers=login(client, op.email, op.password)).json()["balance_fen"] == 700
    )
    assert (
        client.get(
            "/api/v1/merchants/999999/balance", headers=login(client, op.email, op.password)
        ).status_code
        == 404
    )
    consumer = consumer_login(client, make_consumer(db))
    assert client.get(url, headers=consumer).json()["code"] == "auth.staff_only"


def test_operator_ledger_views(client: TestClient, db: Database) -> None:
    consumer = make_consumer(db)
    _top_up(client, consumer_login(client, consumer), "k", 300)
    _top_up(client, consumer_login(client, consumer), "k2", 200)
    op = make_operator(db)
    headers = login(client, op.email, op.password)
    trial = client.get("/api/v1/ledger/trial-balance", headers=headers).json()
    assert trial == {
        "lines": [
            {"kind": "consumer_wallet", "total_fen": 500},
            {"kind": "platform_funding", "total_fen": -500},
        ],
        "total_fen": 0,
        "problems": [],
    }
    page = client.get("/api/v1/ledger/entries?limit=1", headers=headers).json()
    assert page["limit"] == 1 and page["offset"] == 0
    [entry] = page["items"]
    assert entry["kind"] == "top_up"
    assert sorted((p["account_kind"], p["amount_fen"]) for p in entry["postings"]) == [
        ("consumer_wallet", 200),
        ("platform_funding", -200),
    ]
    second = client.get("/api/v1/ledger/entries?limit=1&offset=1", headers=headers).json()
    assert second["items"][0]["id"] < entry["id"]
    merchant = make_merchant(db)
    staff = login(client, merchant.owner_email, merchant.password)
    for url in ("/api/v1/ledger/trial-balance", "/api/v1/ledger/entries"):
        r = client.get(url, headers=staff)
        assert r.status_code == 403
        assert r.json()["code"] == "auth.operator_only"
