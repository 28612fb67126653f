"""Order routes: who may call them, idempotent replays, tenancy."""

from __future__ import annotations

from fastapi.testclient import TestClient

from ccare.core.db import Database
from ccare.ledger import service as ledger
from tests.factories import consumer_login, login, make_operator, make_staff
from tests.orders.conftest import Shop, open_shop


def _key(headers: dict[str, str], key: str) -> dict[str, str]:
    return {**headers, "Idempotency-Key": key}


def _order_body(shop: Shop, quantity: int = 2) -> dict:  # type: ignore[type-arg]
    return {
        "mini_program_id": shop.mini_program_id,
        "lines": [{"item_id": shop.item_id, "quantity": quantity}],
    }


def _place(client: TestClient, shop: Shop, headers: dict[str, str], key: str) -> dict:  # type: ignore[type-arg]
    r = client.post("/api/v1/orders", json=_order_body(shop), headers=_key(headers, key))
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def test_order_lifecycle_over_the_api(client: TestClient, db: Database, shop: Shop) -> None:
    with db.transaction() as s:
        ledger.top_up(s, shop.consumer_id, 5_000, "t")
    me = consumer_login(client, shop.consumer_id)
    owner = login(client, shop.merchant.owner_email, shop.merchant.password)
    order = _place(client, shop, me, "o1")
    assert (order["status"], order["trade_status"], order["payable_fen"]) == (
        "created",
        "WAIT_BUYER_PAY",
        2_000,
    )
    paid = client.post(f"/api/v1/orders/{order['id']}/pay", headers=_key(me, "p1"))
    assert paid.status_code == 200
    assert (paid.json()["status"], paid.json()["platform_fee_fen"]) == ("paid", 12)
    again = client.post(f"/api/v1/orders/{order['id']}/pay", headers=_key(me, "p1"))
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == paid.json()
    other_key = client.post(f"/api/v1/orders/{order['id']}/pay", headers=_key(me, "p2"))
    assert (other_key.status_code, other_key.json()["code"]) == (409, "order.not_payable")
    body = {"amount_fen": 500, "reason": "cold", "out_request_no": "R1"}
    url = f"/api/v1/orders/{order['id']}/refunds"
    r = client.post(url, json=body, headers=_key(owner, "r1"))
    assert r.status_code == 201
    assert (r.json()["amount_fen"], r.json()["status"]) == (500, "succeeded")
    assert client.get(f"/api/v1/orders/{order['id']}", headers=me).json()["status"] == (
        "partially_refunded"
    )
    assert [x["out_request_no"] for x in client.get(url, headers=me).json()] == ["R1"]
    assert client.get("/api/v1/wallet", headers=me).json()["balance_fen"] == 3_500


def test_create_replay_and_key_reuse(client: TestClient, db: Database, shop: Shop) -> None:
    me = consumer_login(client, shop.consumer_id)
    first = _place(client, shop, me, "same")
    r = client.post("/api/v1/orders", json=_order_body(shop), headers=_key(me, "same"))
    assert (r.status_code, r.headers["Idempotent-Replayed"]) == (201, "true")
    assert r.json() == first
    r = client.post("/api/v1/orders", json=_order_body(shop, 3), headers=_key(me, "same"))
    assert (r.status_code, r.json()["code"]) == (409, "idempotency.key_reused")
    assert len(client.get("/api/v1/orders", headers=me).json()["items"]) == 1
    r = client.post("/api/v1/orders", json=_order_body(shop), headers=me)
    assert (r.status_code, r.json()["code"]) == (422, "idempotency.key_missing")


def test_create_validation(client: TestClient, db: Database, shop: Shop) -> None:
    me = consumer_login(client, shop.consumer_id)
    bodies = [
        {"mini_program_id": shop.mini_program_id, "lines": []},
        {"mini_program_id": shop.mini_program_id, "lines": [{"item_id": shop.item_id}] * 2},
        {
            "mini_program_id": shop.mini_program_id,
            "lines": [{"item_id": shop.item_id, "quantity": 1}] * 2,
        },
        {
            "mini_program_id": shop.mini_program_id,
            "lines": [{"item_id": i, "quantity": 1} for i in range(1, 52)],
        },
        {**_order_body(shop), "out_trade_no": "has space"},
    ]
    for n, body in enumerate(bodies):
        r = client.post("/api/v1/orders", json=body, headers=_key(me, f"v{n}"))
        assert (r.status_code, r.json()["code"]) == (422, "invalid_request"), body
    owner = login(client, shop.merchant.owner_email, shop.merchant.password)
    r = client.post("/api/v1/orders", json=_order_body(shop), headers=_key(owner, "s"))
    assert (r.status_code, r.json()["code"]) == (403, "auth.consumer_only")


def test_listing_is_per_caller(client: TestClient, db: Database, shop: Shop) -> None:
    other = open_shop(db, "Other")
    mine = _place(client, shop, consumer_login(client, shop.consumer_id), "a")
    theirs = _place(client, other, consumer_login(client, other.consumer_id), "b")
    owner = login(client, shop.merchant.owner_email, shop.merchant.password)
    assert [o["id"] for o in client.get("/api/v1/orders", headers=owner).json()["items"]] == [
        mine["id"]
    ]
    me = consumer_login(client, shop.consumer_id)
    assert [o["id"] for o in client.get("/api/v1/orders", headers=me).json()["items"]] == [
        mine["id"]
    ]
    op = make_operator(db)
    page = client.get(
        "/api/v1/orders?status=created&limit=1&offset=1",
        headers=login(client, op.email, op.password),
    ).json()
    assert ([o["id"] for o in page["items"]], page["limit"], page["offset"]) == ([mine["id"]], 1, 1)
    assert client.get("/api/v1/orders?status=paid", headers=owner).json()["items"] == []
    assert theirs["id"] != mine["id"]


def test_other_tenants_get_404_and_nothing_changes(
    client: TestClient, db: Database, shop: Shop
) -> None:
    with db.transaction() as s:
        ledger.top_up(s, shop.consumer_id, 5_000, "t")
    me = consumer_login(client, shop.consumer_id)
    order = _place(client, shop, me, "o")
    client.post(f"/api/v1/orders/{order['id']}/pay", headers=_key(me, "p"))
    other = open_shop(db, "Other")
    outsider = login(client, other.merchant.owner_email, other.merchant.password)
    stranger = consumer_login(client, other.consumer_id)
    base = f"/api/v1/orders/{order['id']}"
    refund = {"amount_fen": 1, "out_request_no": "X"}
    calls = [
        ("get", base, outsider, None),
        ("get", base, stranger, None),
        ("get", f"{base}/refunds", outsider, None),
        ("get", f"{base}/refunds", stranger, None),
        ("post", f"{base}/close", outsider, None),
        ("post", f"{base}/close", stranger, None),
        ("post", f"{base}/refunds", _key(outsider, "x"), refund),
    ]
    for method, url, headers, body in calls:
        r = client.request(method, url, headers=headers, json=body)
        assert (r.status_code, r.json()["code"]) == (404, "order.not_found"), url
    r = client.post(f"{base}/pay", headers=_key(stranger, "y"))
    assert (r.status_code, r.json()["code"]) == (404, "order.not_found")
    assert client.get(base, headers=me).json()["refunded_fen"] == 0


def test_refund_roles_and_request_no(client: TestClient, db: Database, shop: Shop) -> None:
    with db.transaction() as s:
        ledger.top_up(s, shop.consumer_id, 5_000, "t")
    me = consumer_login(client, shop.consumer_id)
    order = _place(client, shop, me, "o")
    client.post(f"/api/v1/orders/{order['id']}/pay", headers=_key(me, "p"))
    url = f"/api/v1/orders/{order['id']}/refunds"
    clerk_ref = make_staff(db, shop.merchant.merchant_id, role="clerk")
    clerk = login(client, clerk_ref.email, clerk_ref.password)
    body = {"amount_fen": 700, "out_request_no": "R"}
    r = client.post(url, json=body, headers=_key(clerk, "c"))
    assert (r.status_code, r.json()["code"]) == (403, "staff.role_forbidden")
    r = client.post(url, json=body, headers=_key(me, "c"))
    assert (r.status_code, r.json()["code"]) == (403, "auth.staff_only")
    owner = login(client, shop.merchant.owner_email, shop.merchant.password)
    first = client.post(url, json=body, headers=_key(owner, "k1"))
    # a new key with the same out_request_no and amount is the same refund
    second = client.post(url, json=body, headers=_key(owner, "k2"))
    assert second.json()["id"] == first.json()["id"]
    r = client.post(url, json={**body, "amount_fen": 800}, headers=_key(owner, "k3"))
    assert (r.status_code, r.json()["code"]) == (409, "refund.request_no_reused")
    r = client.post(
        url, json={"amount_fen": 1_301, "out_request_no": "S"}, headers=_key(owner, "k4")
    )
    assert (r.status_code, r.json()["code"]) == (409, "order.refund_exceeds_paid")
    assert client.get("/api/v1/wallet", headers=me).json()["balance_fen"] == 3_700


def test_close_over_the_api(client: TestClient, db: Database, shop: Shop) -> None:
    me = consumer_login(client, shop.consumer_id)
    order = _place(client, shop, me, "o")
    r = client.post(f"/api/v1/orders/{order['id']}/close", headers=me)
    assert (r.status_code, r.json()["status"], r.json()["trade_status"]) == (
        200,
        "closed",
        "TRADE_CLOSED",
    )
    r = client.post(f"/api/v1/orders/{order['id']}/close", headers=me)
    assert (r.status_code, r.json()["code"]) == (409, "order.not_closable")
    r = client.post(f"/api/v1/orders/{order['id']}/pay", headers=_key(me, "p"))
    assert (r.status_code, r.json()["code"]) == (409, "order.not_payable")
    assert client.get(f"/api/v1/orders/{order['id']}").status_code == 401
