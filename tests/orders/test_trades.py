"""Merchant-side trades on the native API (/api/v1/trades) and their services: a custom
amount for a buyer, code pay with the buyer's payment code, lookup, refund, cancel."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from ccare.consumers.models import PaymentCode
from ccare.consumers.service import issue_payment_code, redeem_payment_code
from ccare.core.db import Database
from ccare.core.errors import Conflict, InvalidInput
from ccare.core.outbox import OutboxEvent
from ccare.core.security import token_hash
from ccare.core.time import utcnow
from ccare.ledger import service as ledger
from tests.factories import (
    consumer_login,
    grant,
    login,
    make_consumer,
    make_isv,
    make_merchant,
    make_mini_program,
    make_staff,
)
from tests.orders.conftest import Shop, as_consumer

TRADE = {"out_trade_no": "T-1", "amount_fen": 1250, "subject": "Noodles"}


def _buyer_id(consumer_id: int) -> str:
    return f"20880{consumer_id:011d}"


def _key(headers: dict[str, str], key: str) -> dict[str, str]:
    return {**headers, "Idempotency-Key": key}


def _trade(client: TestClient, headers: dict[str, str], **body: Any) -> Any:
    return client.post("/api/v1/trades", json={**TRADE, **body}, headers=headers)


def _code(client: TestClient, consumer: dict[str, str]) -> str:
    r = client.post("/api/v1/me/payment-code", headers=consumer)
    assert r.status_code == 201, r.text
    code: str = r.json()["auth_code"]
    return code


@pytest.fixture
def owner(client: TestClient, shop: Shop) -> dict[str, str]:
    return login(client, shop.merchant.owner_email, shop.merchant.password)


def test_a_trade_for_a_buyer_who_pays_in_the_app(
    client: TestClient, db: Database, shop: Shop, owner: dict[str, str]
) -> None:
    r = _trade(client, owner, buyer_id=_buyer_id(shop.consumer_id))
    assert r.status_code == 201, r.text
    trade = r.json()
    assert {k: trade[k] for k in ("out_trade_no", "merchant_id", "mini_program_id")} == {
        "out_trade_no": "T-1",
        "merchant_id": shop.merchant.merchant_id,
        "mini_program_id": shop.mini_program_id,
    }
    assert (trade["consumer_id"], trade["subject"], trade["status"], trade["trade_status"]) == (
        shop.consumer_id,
        "Noodles",
        "created",
        "WAIT_BUYER_PAY",
    )
    assert (trade["amount_fen"], trade["payable_fen"], trade["lines"]) == (1250, 1250, [])
    # Retrying the create answers with the same trade.
    again = _trade(client, owner, buyer_id=_buyer_id(shop.consumer_id))
    assert (again.status_code, again.json()["id"]) == (201, trade["id"])

    with db.transaction() as s:
        ledger.top_up(s, shop.consumer_id, 2000, "t")
    me = consumer_login(client, shop.consumer_id)
    paid = client.post(f"/api/v1/orders/{trade['id']}/pay", headers=_key(me, "p1"))
    assert (paid.status_code, paid.json()["status"]) == (200, "paid")
    found = client.get("/api/v1/trades/query", params={"out_trade_no": "T-1"}, headers=owner)
    assert (found.json()["id"], found.json()["trade_status"]) == (trade["id"], "TRADE_SUCCESS")
    params = {"trade_no": trade["trade_no"]}
    by_no = client.get("/api/v1/trades/query", params=params, headers=owner)
    assert by_no.json()["id"] == trade["id"]
    assert client.get("/api/v1/wallet", headers=me).json()["balance_fen"] == 750


def test_create_refusals(
    client: TestClient, db: Database, shop: Shop, owner: dict[str, str]
) -> None:
    buyer = _buyer_id(shop.consumer_id)
    assert _trade(client, owner, buyer_id=buyer).status_code == 201
    other_buyer = _buyer_id(make_consumer(db))
    cases = [
        ({"buyer_id": buyer, "amount_fen": 1300}, 409, "order.out_trade_no_taken"),
        ({"buyer_id": other_buyer}, 409, "trade.buyer_mismatch"),
        ({"buyer_id": "2088099999999999", "out_trade_no": "T-2"}, 422, "trade.buyer_not_found"),
        ({"buyer_id": "2088100000000001"}, 422, "invalid_request"),
        ({"buyer_id": buyer, "amount_fen": 0}, 422, "invalid_request"),
        ({"buyer_id": buyer, "out_trade_no": "T-3", "store_id": 999}, 422, "order.store_not_found"),
        ({"buyer_id": buyer, "out_trade_no": "T-4", "merchant_id": 999}, 404, "merchant.not_found"),
    ]
    for body, status, code in cases:
        r = _trade(client, owner, **body)
        assert (r.status_code, r.json()["code"]) == (status, code), (body, r.text)
    me = consumer_login(client, shop.consumer_id)
    r = _trade(client, me, buyer_id=buyer, out_trade_no="T-5")
    assert (r.status_code, r.json()["code"]) == (403, "auth.staff_only")


def test_the_first_online_mini_program_sells_unless_one_is_named(
    client: TestClient, db: Database, shop: Shop, owner: dict[str, str]
) -> None:
    second = make_mini_program(db, shop.merchant.merchant_id, name="Second")
    buyer = _buyer_id(shop.consumer_id)
    r = client.patch(
        f"/api/v1/mini-programs/{shop.mini_program_id}", json={"status": "offline"}, headers=owner
    )
    assert r.status_code == 200, r.text
    assert _trade(client, owner, buyer_id=buyer).json()["mini_program_id"] == second
    named = _trade(client, owner, buyer_id=buyer, out_trade_no="T-2", mini_program_id=second)
    assert named.json()["mini_program_id"] == second
    client.patch(f"/api/v1/mini-programs/{second}", json={"status": "offline"}, headers=owner)
    r = _trade(client, owner, buyer_id=buyer, out_trade_no="T-3")
    assert (r.status_code, r.json()["code"]) == (409, "trade.no_mini_program")


def test_code_pay_over_the_api(
    client: TestClient, db: Database, shop: Shop, owner: dict[str, str]
) -> None:
    with db.transaction() as s:
        ledger.top_up(s, shop.consumer_id, 5000, "t")
    me = consumer_login(client, shop.consumer_id)
    clerk = make_staff(db, shop.merchant.merchant_id, role="clerk")
    till = login(client, clerk.email, clerk.password)
    body = {**TRADE, "auth_code": _code(client, me)}
    r = client.post("/api/v1/trades/pay", json=body, headers=_key(till, "k1"))
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["consumer_id"], r.json()["payable_fen"]) == (
        "paid",
        shop.consumer_id,
        1250,
    )
    replay = client.post("/api/v1/trades/pay", json=body, headers=_key(till, "k1"))
    assert (replay.headers["Idempotent-Replayed"], replay.json()) == ("true", r.json())
    fresh_key = client.post("/api/v1/trades/pay", json=body, headers=_key(till, "k2"))
    assert (fresh_key.status_code, fresh_key.json()["code"]) == (409, "order.out_trade_no_taken")
    assert client.get("/api/v1/wallet", headers=me).json()["balance_fen"] == 3750
    # A clerk takes payments but refunds nothing.
    refund = {"out_trade_no": "T-1", "amount_fen": 100}
    r = client.post("/api/v1/trades/refund", json=refund, headers=_key(till, "r1"))
    assert (r.status_code, r.json()["code"]) == (403, "staff.role_forbidden")
    r = client.post("/api/v1/trades/pay", json={**body, "out_trade_no": "T-2"}, headers=till)
    assert (r.status_code, r.json()["code"]) == (422, "idempotency.key_missing")


def test_refund_and_cancel_over_the_api(
    client: TestClient, db: Database, shop: Shop, owner: dict[str, str]
) -> None:
    with db.transaction() as s:
        ledger.top_up(s, shop.consumer_id, 5000, "t")
    me = consumer_login(client, shop.consumer_id)
    body = {**TRADE, "auth_code": _code(client, me)}
    assert client.post("/api/v1/trades/pay", json=body, headers=_key(owner, "p")).status_code == 200
    refund = {"out_trade_no": "T-1", "amount_fen": 250, "out_request_no": "R1", "reason": "cold"}
    r = client.post("/api/v1/trades/refund", json=refund, headers=_key(owner, "r1"))
    assert r.status_code == 200, r.text
    assert (r.json()["fund_change"], r.json()["refund"]["amount_fen"]) == (True, 250)
    assert (r.json()["order"]["status"], r.json()["order"]["refunded_fen"]) == (
        "partially_refunded",
        250,
    )
    again = client.post("/api/v1/trades/refund", json=refund, headers=_key(owner, "r2"))
    assert (again.json()["fund_change"], again.json()["refund"]["id"]) == (
        False,
        r.json()["refund"]["id"],
    )
    cancel = {"out_trade_no": "T-1"}
    r = client.post("/api/v1/trades/cancel", json=cancel, headers=_key(owner, "c1"))
    assert (r.json()["action"], r.json()["order"]["status"], r.json()["order"]["refunded_fen"]) == (
        "refund",
        "refunded",
        1250,
    )
    assert client.get("/api/v1/wallet", headers=me).json()["balance_fen"] == 5000
    unpaid = _trade(client, owner, buyer_id=_buyer_id(shop.consumer_id), out_trade_no="T-2")
    cancel = {"out_trade_no": "T-2"}
    r = client.post("/api/v1/trades/cancel", json=cancel, headers=_key(owner, "c2"))
    assert (r.json()["action"], r.json()["order"]["status"]) == ("close", "closed")
    assert r.json()["order"]["id"] == unpaid.json()["id"]


def test_lookups_stay_inside_the_tenant(
    client: TestClient, db: Database, shop: Shop, owner: dict[str, str]
) -> None:
    theirs = _trade(client, owner, buyer_id=_buyer_id(shop.consumer_id)).json()
    rival = make_merchant(db, name="Rival")
    make_mini_program(db, rival.merchant_id)
    them = login(client, rival.owner_email, rival.password)
    for params in ({"out_trade_no": "T-1"}, {"trade_no": theirs["trade_no"]}):
        r = client.get("/api/v1/trades/query", params=params, headers=them)
        assert (r.status_code, r.json()["code"]) == (404, "order.not_found")
    r = client.get("/api/v1/trades/query", headers=them)
    assert (r.status_code, r.json()["code"]) == (422, "trade.invalid_query")
    # ISV staff name the merchant; only one that granted them.
    isv = make_isv(db)
    grant(db, shop.merchant.merchant_id, isv.isv_id)
    grant(db, rival.merchant_id, isv.isv_id)
    isv_h = login(client, isv.email, isv.password)
    r = client.get("/api/v1/trades/query", params={"out_trade_no": "T-1"}, headers=isv_h)
    assert (r.status_code, r.json()["code"]) == (422, "trade.merchant_required")
    params = {"out_trade_no": "T-1", "merchant_id": shop.merchant.merchant_id}
    assert (
        client.get("/api/v1/trades/query", params=params, headers=isv_h).json()["id"]
        == (theirs["id"])
    )
    stranger = make_merchant(db, name="Stranger")
    params["merchant_id"] = stranger.merchant_id
    r = client.get("/api/v1/trades/query", params=params, headers=isv_h)
    assert (r.status_code, r.json()["code"]) == (404, "merchant.not_found")


def test_order_events_carry_what_notifications_need(
    client: TestClient, db: Database, shop: Shop, owner: dict[str, str]
) -> None:
    body = {"buyer_id": _buyer_id(shop.consumer_id), "notify_url": "https://shop.example/n"}
    trade = _trade(client, owner, **body).json()
    with db.transaction() as s:
        ledger.top_up(s, shop.consumer_id, 2000, "t")
    me = consumer_login(client, shop.consumer_id)
    paid = client.post(f"/api/v1/orders/{trade['id']}/pay", headers=_key(me, "p")).json()
    with db.transaction() as s:
        events = {
            e.type: e.payload
            for e in s.scalars(select(OutboxEvent).where(OutboxEvent.type.like("order.%")))
        }
    common = {
        "order_id": trade["id"],
        "trade_no": trade["trade_no"],
        "out_trade_no": "T-1",
        "app_id": None,
        "notify_url": "https://shop.example/n",
        "subject": "Noodles",
        "total_amount_fen": 1250,
        "payable_fen": 1250,
        "merchant_id": shop.merchant.merchant_id,
        "consumer_id": shop.consumer_id,
        "mini_program_id": shop.mini_program_id,
        "store_id": None,
        "items": [],
        "amount": 1250,
    }
    created = events["order.created"]
    assert created == {
        **common,
        "trade_status": "WAIT_BUYER_PAY",
        "gmt_create": created["gmt_create"],
        "gmt_payment": None,
    }
    assert events["order.paid"] == {
        **common,
        "trade_status": "TRADE_SUCCESS",
        "gmt_create": created["gmt_create"],
        "gmt_payment": events["order.paid"]["gmt_payment"],
        "platform_fee_fen": paid["platform_fee_fen"],
    }
    assert events["order.paid"]["gmt_payment"].startswith(paid["paid_at"][:19])


# --- payment codes ---------------------------------------------------------------------------


def test_a_payment_code_is_short_lived_single_use_and_stored_as_a_hash(
    client: TestClient, db: Database, shop: Shop
) -> None:
    me = consumer_login(client, shop.consumer_id)
    r = client.post("/api/v1/me/payment-code", headers=me)
    assert r.status_code == 201, r.text
    out = r.json()
    code = out["auth_code"]
    assert (len(code), code[:2], code.isdigit()) == (18, "28", True)
    assert (out["buyer_id"], out["expires_in"]) == (_buyer_id(shop.consumer_id), 60)
    with db.transaction() as s:
        [row] = s.scalars(select(PaymentCode)).all()
        assert (row.code_hash, row.consumer_id, row.used_at) == (
            token_hash(code),
            shop.consumer_id,
            None,
        )
    with db.transaction() as s:
        assert redeem_payment_code(s, code) == shop.consumer_id
    for attempt, error, error_code in (
        (code, Conflict, "payment_code.used"),
        ("28" + "1" * 16, InvalidInput, "payment_code.invalid"),
    ):
        with db.transaction() as s, pytest.raises(error) as refused:
            redeem_payment_code(s, attempt)
        assert refused.value.code == error_code
    with db.transaction() as s:
        old = issue_payment_code(s, as_consumer(shop.consumer_id), utcnow() - timedelta(seconds=61))
    with db.transaction() as s, pytest.raises(InvalidInput) as expired:
        redeem_payment_code(s, old.auth_code)
    assert expired.value.code == "payment_code.expired"
    owner = login(client, shop.merchant.owner_email, shop.merchant.password)
    r = client.post("/api/v1/me/payment-code", headers=owner)
    assert (r.status_code, r.json()["code"]) == (403, "auth.consumer_only")
