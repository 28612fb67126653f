"""The sandbox world: same API under /sandbox, a separate database, test money."""

from __future__ import annotations

from dataclasses import replace

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from ccare.client import ApiError, CcareClient
from ccare.core.db import Database
from ccare.core.signing import SignAlgorithm, export_public_key, generate_private_key
from ccare.merchants.models import Merchant
from ccare.orders.models import Order
from tests.factories import login, make_isv, make_merchant

KEY = generate_private_key(SignAlgorithm.RSA2)
PUBLIC = export_public_key(KEY.public_key())


def _count(db: Database, model: type) -> int:
    with db.transaction() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def _sandbox_app(client: TestClient, developer: dict[str, str]) -> CcareClient:
    created = client.post(
        "/sandbox/api/v1/apps",
        json={"name": "Till (sandbox)", "mode": "sandbox", "public_key": PUBLIC},
        headers=developer,
    )
    assert created.status_code == 201, created.text
    platform = client.get("/sandbox/api/v1/platform-key").json()["public_key"]
    return CcareClient(
        app_id=created.json()["app_id"],
        private_key=KEY,
        platform_public_key=platform,
        path_prefix="/sandbox",
        http=client,
    )


def test_a_developer_gets_a_twin_world_with_test_money(
    client: TestClient, db: Database, sandbox: Database
) -> None:
    shop = make_merchant(db, "Noodle Shop")
    developer = login(client, shop.owner_email, shop.password)

    account = client.get("/sandbox/api/v1/sandbox/account", headers=developer).json()
    again = client.get("/sandbox/api/v1/sandbox/account", headers=developer).json()

    assert account == again
    assert [b["balance_fen"] for b in account["buyers"]] == [1_000_000] * 3
    assert [b["buyer_id"] for b in account["buyers"]] == [
        f"20880{b['consumer_id']:011d}" for b in account["buyers"]
    ]
    assert (_count(db, Merchant), _count(sandbox, Merchant)) == (1, 1)


def test_a_sandbox_app_trades_with_test_money_and_live_sees_nothing(
    client: TestClient, db: Database, sandbox: Database
) -> None:
    shop = make_merchant(db)
    developer = login(client, shop.owner_email, shop.password)
    api = _sandbox_app(client, developer)
    account = client.get("/sandbox/api/v1/sandbox/account", headers=developer).json()
    buyer = client.post(
        "/sandbox/api/v1/auth/consumer-login",
        json={"consumer_id": account["buyers"][0]["consumer_id"]},
    ).json()["token"]
    items = api.get(f"/api/v1/mini-programs/{account['mini_program_id']}/items")
    order = client.post(
        "/sandbox/api/v1/orders",
        json={
            "mini_program_id": account["mini_program_id"],
            "lines": [{"item_id": items[0]["id"], "quantity": 2}],
        },
        headers={"Authorization": f"Bearer {buyer}", "Idempotency-Key": "sb-1"},
    ).json()
    paid = client.post(
        f"/sandbox/api/v1/orders/{order['id']}/pay",
        headers={"Authorization": f"Bearer {buyer}", "Idempotency-Key": "sb-2"},
    ).json()

    assert api.app_id.startswith("9")
    assert api.whoami()["merchant_id"] == account["merchant_id"]
    assert (paid["status"], paid["payable_fen"]) == ("paid", 3_600)
    assert [o["id"] for o in api.get("/api/v1/orders")["items"]] == [order["id"]]
    after = client.get("/sandbox/api/v1/sandbox/account", headers=developer).json()
    assert after["buyers"][0]["balance_fen"] == 1_000_000 - 3_600
    assert (_count(db, Order), _count(sandbox, Order)) == (0, 1)


def test_the_worlds_do_not_know_each_others_apps_or_keys(
    client: TestClient, db: Database, sandbox: Database
) -> None:
    shop = make_merchant(db)
    developer = login(client, shop.owner_email, shop.password)
    api = _sandbox_app(client, developer)
    live_platform = client.get("/api/v1/platform-key").json()["public_key"]

    with pytest.raises(ApiError) as at_live:
        replace(api, path_prefix="").whoami()
    wrong_world = client.post(
        "/api/v1/apps", json={"name": "x", "mode": "sandbox"}, headers=developer
    )
    sandbox_key = client.get("/sandbox/api/v1/platform-key").json()["public_key"]

    assert (at_live.value.status, at_live.value.code) == (401, "app.unknown")
    assert "sandbox app ids start with 9" in at_live.value.message
    assert (wrong_world.status_code, wrong_world.json()["code"]) == (422, "app.wrong_world")
    assert sandbox_key != live_platform


def test_an_isv_developer_authorises_its_sandbox_app_in_one_call(
    client: TestClient, db: Database, sandbox: Database
) -> None:
    isv = make_isv(db)
    developer = login(client, isv.email, isv.password)
    api = _sandbox_app(client, developer)

    code = client.post(
        "/sandbox/api/v1/sandbox/app-authorizations",
        json={"app_id": api.app_id},
        headers=developer,
    )
    token = api.post(
        "/api/v1/app-auth/token",
        {"grant_type": "authorization_code", "code": code.json()["app_auth_code"]},
    )
    account = client.get("/sandbox/api/v1/sandbox/account", headers=developer).json()

    assert code.status_code == 201
    assert (
        api.acting_for(token["app_auth_token"]).whoami()["merchant_id"] == (account["merchant_id"])
    )
    assert account["isv_id"] is not None


def test_sandbox_only_routes_refuse_the_live_world(client: TestClient, db: Database) -> None:
    shop = make_merchant(db)
    developer = login(client, shop.owner_email, shop.password)

    live = client.get("/api/v1/sandbox/account", headers=developer)
    no_sandbox = client.get("/sandbox/api/v1/sandbox/account", headers=developer)

    assert (live.status_code, live.json()["code"]) == (422, "sandbox.only")
    assert (no_sandbox.status_code, no_sandbox.json()["code"]) == (503, "sandbox.unavailable")
