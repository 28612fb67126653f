"""Races that only PostgreSQL runs truly in parallel: one wallet, many payments; one
Idempotency-Key, many identical requests."""

from __future__ import annotations

from collections import Counter

from fastapi.testclient import TestClient
from sqlalchemy import select

from ccare.core.db import Database
from ccare.ledger import service as ledger
from ccare.orders import service
from ccare.orders.models import Order, OrderStatus
from ccare.orders.schemas import LineIn, OrderCreate
from tests.concurrency import race
from tests.factories import consumer_login
from tests.orders.conftest import Shop, open_shop

PAYABLE = 1_000  # one unit of the shop's plain item


def test_one_wallet_pays_exactly_k_of_n_orders(postgres: Database) -> None:
    db = postgres
    shop: Shop = open_shop(db)
    k, n, remainder = 4, 24, 321
    data = OrderCreate(
        mini_program_id=shop.mini_program_id, lines=[LineIn(item_id=shop.item_id, quantity=1)]
    )
    with db.transaction() as s:
        order_ids = [service.create_order(s, shop.consumer, data).id for _ in range(n)]
        ledger.top_up(s, shop.consumer_id, k * PAYABLE + remainder, "race")

    def pay(i: int) -> str:
        with db.transaction() as s:
            service.pay_order(s, shop.consumer, order_ids[i])
        return "paid"

    outcomes = race(n, pay)
    assert outcomes == Counter({"paid": k, "wallet.insufficient_funds": n - k})
    fee = PAYABLE * 60 // 10_000
    with db.transaction() as s:
        statuses = Counter(s.scalars(select(Order.status).where(Order.id.in_(order_ids))))
        assert statuses == Counter({OrderStatus.PAID.value: k, OrderStatus.CREATED.value: n - k})
        assert ledger.wallet_balance(s, shop.consumer_id) == remainder
        assert ledger.merchant_settlement(s, shop.merchant.merchant_id).balance_fen == k * (
            PAYABLE - fee
        )
        assert ledger.platform_revenue(s).balance_fen == k * fee
        assert ledger.check_invariants(s) == []


def test_concurrent_pays_of_one_order_charge_once(postgres: Database) -> None:
    db = postgres
    shop = open_shop(db)
    data = OrderCreate(
        mini_program_id=shop.mini_program_id, lines=[LineIn(item_id=shop.item_id, quantity=1)]
    )
    with db.transaction() as s:
        order_id = service.create_order(s, shop.consumer, data).id
        ledger.top_up(s, shop.consumer_id, 10 * PAYABLE, "race")

    def pay(_: int) -> str:
        with db.transaction() as s:
            service.pay_order(s, shop.consumer, order_id)
        return "paid"

    assert race(8, pay) == Counter({"paid": 1, "order.not_payable": 7})
    with db.transaction() as s:
        assert ledger.wallet_balance(s, shop.consumer_id) == 9 * PAYABLE
        assert ledger.check_invariants(s) == []


def test_same_idempotency_key_concurrently_has_one_effect(
    client: TestClient, postgres: Database
) -> None:
    db = postgres
    shop = open_shop(db)
    me = consumer_login(client, shop.consumer_id)
    headers = {**me, "Idempotency-Key": "double-click"}

    def top_up(_: int) -> str:
        r = client.post("/api/v1/wallet/top-ups", json={"amount_fen": 700}, headers=headers)
        replayed = r.headers.get("Idempotent-Replayed") == "true"
        return f"{r.status_code}{' replay' if replayed else ''} {r.json().get('code', '')}".strip()

    outcomes = race(8, top_up)
    assert outcomes["201"] == 1, outcomes
    assert set(outcomes) <= {"201", "201 replay", "409 conflict.concurrent_request"}, outcomes
    with db.transaction() as s:
        assert ledger.wallet_balance(s, shop.consumer_id) == 700

    with db.transaction() as s:
        ledger.top_up(s, shop.consumer_id, 5 * PAYABLE, "funds")
    body = {
        "mini_program_id": shop.mini_program_id,
        "lines": [{"item_id": shop.item_id, "quantity": 1}],
    }
    order_headers = {**me, "Idempotency-Key": "order-once"}

    def place(_: int) -> str:
        r = client.post("/api/v1/orders", json=body, headers=order_headers)
        return str(r.status_code)

    placed = race(8, place)
    assert set(placed) <= {"201", "409"}, placed
    pay_headers = {**me, "Idempotency-Key": "pay-once"}
    with db.transaction() as s:
        [order] = service.consumer_orders(s, shop.consumer_id)
        order_id = order.id

    def pay(_: int) -> str:
        r = client.post(f"/api/v1/orders/{order_id}/pay", headers=pay_headers)
        return f"{r.status_code} {r.json().get('code', r.json().get('status'))}"

    paid = race(8, pay)
    assert set(paid) <= {"200 paid", "409 conflict.concurrent_request", "409 order.not_payable"}
    assert paid["200 paid"] >= 1
    with db.transaction() as s:
        assert ledger.wallet_balance(s, shop.consumer_id) == 700 + 4 * PAYABLE
        assert ledger.check_invariants(s) == []
