"""The SDKs against the sandbox gateway (/sandbox/gateway.do): test money, same protocol."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from ccare.core.db import Database
from ccare.core.signing import export_public_key
from ccare.orders.models import Order
from tests.factories import login, make_merchant
from tests.gateway.conftest import APP_KEY
from tests.gateway.sdks import SDK, SDKS, SdkApp, sdk_calls


def _orders(db: Database) -> int:
    with db.transaction() as s:
        return int(s.scalar(select(func.count()).select_from(Order)) or 0)


@pytest.mark.parametrize("sdk", SDKS)
def test_a_sandbox_app_takes_a_code_payment_from_a_sandbox_buyer(
    sdk: SDK, client: TestClient, db: Database, sandbox: Database, server: str
) -> None:
    shop = make_merchant(db)
    developer = login(client, shop.owner_email, shop.password)
    app = client.post(
        "/sandbox/api/v1/apps",
        json={
            "name": "Till",
            "mode": "sandbox",
            "public_key": export_public_key(APP_KEY.public_key()),
        },
        headers=developer,
    ).json()
    account = client.get("/sandbox/api/v1/sandbox/account", headers=developer).json()
    buyer = account["buyers"][0]
    token = client.post(
        "/sandbox/api/v1/auth/consumer-login", json={"consumer_id": buyer["consumer_id"]}
    ).json()["token"]
    code = client.post(
        "/sandbox/api/v1/me/payment-code", headers={"Authorization": f"Bearer {token}"}
    ).json()["auth_code"]
    fmt = "base64" if sdk == "alipay-sdk-python" else "spki"
    platform = client.get("/sandbox/api/v1/platform-key", params={"format": fmt}).json()
    in_sandbox = SdkApp(f"{server}/sandbox", app["app_id"], APP_KEY, {sdk: platform["public_key"]})
    at_live = SdkApp(server, app["app_id"], APP_KEY, {sdk: platform["public_key"]})
    pay = {
        "out_trade_no": "SB-1",
        "scene": "bar_code",
        "auth_code": code,
        "subject": "Sandbox latte",
        "total_amount": "18.00",
    }

    [paid, queried] = sdk_calls(
        sdk,
        in_sandbox,
        [("alipay.trade.pay", pay), ("alipay.trade.query", {"out_trade_no": "SB-1"})],
    )
    [unknown] = sdk_calls(sdk, at_live, [("alipay.trade.query", {"out_trade_no": "SB-1"})])

    assert (paid["code"], paid["buyer_user_id"], paid["total_amount"]) == (
        "10000",
        buyer["buyer_id"],
        "18.00",
    )
    assert (queried["trade_status"], queried["out_trade_no"]) == ("TRADE_SUCCESS", "SB-1")
    # At the live gateway the sandbox app does not exist (and the hint says why). The
    # official SDK checks the signature first: the live platform key signed the refusal.
    if sdk == "alipay-sdk-python":
        assert unknown["exception"] == "ResponseException"
        assert '"sub_code":"isv.invalid-app-id"' in unknown["message"]
    else:
        assert unknown["exception"] == "AliPayException"
        assert (unknown["response"]["sub_code"], unknown["response"]["sub_msg"]) == (
            "isv.invalid-app-id",
            "unknown app_id; sandbox app ids start with 9",
        )
    after = client.get("/sandbox/api/v1/sandbox/account", headers=developer).json()
    assert after["buyers"][0]["balance_fen"] == 1_000_000 - 1_800
    assert (_orders(db), _orders(sandbox)) == (0, 1)
