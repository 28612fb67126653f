"""The trade methods driven by the two public Alipay SDKs over HTTP, unmodified.

Every answer here passed the SDK's own check of the platform's response signature: the
official SDK raises and fzlee's raises or returns nothing otherwise.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from ccare.core.db import Database
from ccare.core.signing import export_public_key
from ccare.core.time import beijing_text
from ccare.orders.models import Order
from tests.factories import login, make_isv
from tests.gateway.conftest import APP_KEY, OTHER_KEY, WALLET_FEN, Shop, sdk_app
from tests.gateway.sdks import SDKS, SdkApp, sdk_calls
from tests.openplatform.helpers import new_app
from tests.sdk_driver import SDK

OTHER_PUB = OTHER_KEY.public_key()
REFUND_QUERY = "alipay.trade.fastpay.refund.query"


def _ok(answer: dict[str, Any], sdk: SDK) -> dict[str, Any]:
    """The business fields; the official SDK's answers also say is_success."""
    fields = dict(answer)
    if sdk == "alipay-sdk-python":
        assert fields.pop("is_success") is True, answer
    assert (fields.pop("code"), fields.pop("msg")) == ("10000", "Success"), answer
    return fields


def _failed(answer: dict[str, Any], sdk: SDK) -> tuple[str, str]:
    fields = dict(answer)
    if sdk == "alipay-sdk-python":
        assert fields.pop("is_success") is False, answer
    return fields["code"], fields["sub_code"]


def _paid_fields(amount: str) -> dict[str, Any]:
    return {
        "buyer_pay_amount": amount,
        "receipt_amount": amount,
        "invoice_amount": amount,
        "point_amount": "0.00",
        "fund_bill_list": [{"fund_channel": "ALIPAYACCOUNT", "amount": amount}],
    }


def _beijing(iso: str) -> str:
    return beijing_text(datetime.fromisoformat(iso))


def _wallet(client: TestClient, shop: Shop) -> int:
    balance: int = client.get("/api/v1/wallet", headers=shop.buyer).json()["balance_fen"]
    return balance


def _payment_code(client: TestClient, shop: Shop) -> str:
    response = client.post("/api/v1/me/payment-code", headers=shop.buyer)
    assert response.status_code == 201, response.text
    code: str = response.json()["auth_code"]
    return code


@pytest.mark.parametrize("sdk", SDKS)
def test_create_then_the_buyer_pays_in_the_app_then_query(
    sdk: SDK, client: TestClient, db: Database, shop: Shop, server: str
) -> None:
    app = sdk_app(client, server, shop.app_id)
    create = {
        "out_trade_no": "T-1",
        "total_amount": "88.88",
        "subject": "Longjing tea",
        "buyer_id": shop.buyer_id,
    }
    [created, waiting] = sdk_calls(
        sdk,
        app,
        [
            ("alipay.trade.create", create, {"notify_url": "https://till.example/notify"}),
            ("alipay.trade.query", {"out_trade_no": "T-1"}),
        ],
    )
    trade_no = _ok(created, sdk)["trade_no"]
    assert _ok(created, sdk) == {"trade_no": trade_no, "out_trade_no": "T-1"}
    assert _ok(waiting, sdk) == {
        "trade_no": trade_no,
        "out_trade_no": "T-1",
        "buyer_user_id": shop.buyer_id,
        "trade_status": "WAIT_BUYER_PAY",
        "total_amount": "88.88",
        "subject": "Longjing tea",
    }
    with db.transaction() as s:
        order = s.scalars(select(Order).where(Order.trade_no == trade_no)).one()
        assert (order.app_id, order.notify_url, order.amount_fen, order.mini_program_id) == (
            shop.app_id,
            "https://till.example/notify",
            8888,
            shop.mini_program_id,
        )
        order_id = order.id

    paid = client.post(
        f"/api/v1/orders/{order_id}/pay", headers={**shop.buyer, "Idempotency-Key": "pay-1"}
    )
    assert paid.status_code == 200, paid.text

    [query] = sdk_calls(sdk, app, [("alipay.trade.query", {"trade_no": trade_no})])
    assert _ok(query, sdk) == {
        "trade_no": trade_no,
        "out_trade_no": "T-1",
        "buyer_user_id": shop.buyer_id,
        "trade_status": "TRADE_SUCCESS",
        "total_amount": "88.88",
        "subject": "Longjing tea",
        **_paid_fields("88.88"),
        "send_pay_date": _beijing(paid.json()["paid_at"]),
    }
    assert _wallet(client, shop) == WALLET_FEN - 8888


@pytest.mark.parametrize("sdk", SDKS)
def test_code_pay_takes_the_buyers_payment_code_once(
    sdk: SDK, client: TestClient, shop: Shop, server: str
) -> None:
    code = _payment_code(client, shop)
    pay = {
        "out_trade_no": "P-1",
        "scene": "bar_code",
        "auth_code": code,
        "subject": "Oolong",
        "total_amount": "12.50",
    }
    [paid, again, reused] = sdk_calls(
        sdk,
        sdk_app(client, server, shop.app_id),
        [
            ("alipay.trade.pay", pay),
            ("alipay.trade.pay", pay),
            ("alipay.trade.pay", {**pay, "out_trade_no": "P-2"}),
        ],
    )
    fields = _ok(paid, sdk)
    assert fields == {
        "trade_no": fields["trade_no"],
        "out_trade_no": "P-1",
        "buyer_user_id": shop.buyer_id,
        "total_amount": "12.50",
        **_paid_fields("12.50"),
        "gmt_payment": fields["gmt_payment"],
    }
    assert len(fields["trade_no"]) == 28 and len(fields["gmt_payment"]) == 19
    assert _failed(again, sdk) == ("40004", "ACQ.TRADE_HAS_SUCCESS")
    assert _failed(reused, sdk) == ("40004", "ACQ.PAYMENT_AUTH_CODE_INVALID")
    assert _wallet(client, shop) == WALLET_FEN - 1250


@pytest.mark.parametrize("sdk", SDKS)
def test_partial_refunds_are_idempotent_per_request_no_and_queryable(
    sdk: SDK, client: TestClient, shop: Shop, server: str
) -> None:
    pay = {
        "out_trade_no": "R-1",
        "scene": "bar_code",
        "auth_code": _payment_code(client, shop),
        "subject": "Tea set",
        "total_amount": "100.00",
    }
    refund = {"out_trade_no": "R-1", "refund_amount": "30.00", "out_request_no": "RF-1"}
    answers = sdk_calls(
        sdk,
        sdk_app(client, server, shop.app_id),
        [
            ("alipay.trade.pay", pay),
            ("alipay.trade.refund", refund),
            ("alipay.trade.refund", refund),
            ("alipay.trade.refund", {**refund, "refund_amount": "80.00", "out_request_no": "RF-2"}),
            (REFUND_QUERY, {"out_trade_no": "R-1", "out_request_no": "RF-1"}),
            (REFUND_QUERY, {"out_trade_no": "R-1", "out_request_no": "RF-9"}),
            ("alipay.trade.query", {"out_trade_no": "R-1"}),
        ],
    )
    paid, first, repeat, too_much, found, unknown, query = answers
    trade_no = _ok(paid, sdk)["trade_no"]
    ids = {"trade_no": trade_no, "out_trade_no": "R-1"}
    first_fields = _ok(first, sdk)
    assert first_fields == {
        **ids,
        "buyer_user_id": shop.buyer_id,
        "fund_change": "Y",
        "refund_fee": "30.00",
        "send_back_fee": "30.00",
        "gmt_refund_pay": first_fields["gmt_refund_pay"],
    }
    assert _ok(repeat, sdk) == {**first_fields, "fund_change": "N"}
    assert _failed(too_much, sdk) == ("40004", "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL")
    assert _ok(found, sdk) == {
        **ids,
        "out_request_no": "RF-1",
        "total_amount": "100.00",
        "refund_amount": "30.00",
        "refund_status": "REFUND_SUCCESS",
        "gmt_refund_pay": first_fields["gmt_refund_pay"],
    }
    assert _ok(unknown, sdk) == {**ids, "out_request_no": "RF-9"}
    assert _ok(query, sdk)["trade_status"] == "TRADE_SUCCESS"
    assert _wallet(client, shop) == WALLET_FEN - 10000 + 3000


@pytest.mark.parametrize("sdk", SDKS)
def test_close_and_cancel(sdk: SDK, client: TestClient, shop: Shop, server: str) -> None:
    def create(out_trade_no: str) -> tuple[str, dict[str, Any]]:
        body = {
            "out_trade_no": out_trade_no,
            "total_amount": "5.00",
            "subject": "Biscuits",
            "buyer_id": shop.buyer_id,
        }
        return ("alipay.trade.create", body)

    pay = {
        "out_trade_no": "X-3",
        "scene": "bar_code",
        "auth_code": _payment_code(client, shop),
        "subject": "Biscuits",
        "total_amount": "5.00",
    }
    answers = sdk_calls(
        sdk,
        sdk_app(client, server, shop.app_id),
        [
            create("X-1"),
            ("alipay.trade.close", {"out_trade_no": "X-1"}),
            ("alipay.trade.close", {"out_trade_no": "X-1"}),
            ("alipay.trade.query", {"out_trade_no": "X-1"}),
            create("X-2"),
            ("alipay.trade.cancel", {"out_trade_no": "X-2"}),
            ("alipay.trade.pay", pay),
            ("alipay.trade.cancel", {"out_trade_no": "X-3"}),
            ("alipay.trade.cancel", {"out_trade_no": "X-3"}),
            ("alipay.trade.query", {"out_trade_no": "X-3"}),
            ("alipay.trade.close", {"out_trade_no": "X-3"}),
        ],
    )
    c1, closed, closed_again, q1, c2, cancelled, paid, refunded, refunded_again, q3, late = answers
    x1 = {"trade_no": _ok(c1, sdk)["trade_no"], "out_trade_no": "X-1"}
    assert _ok(closed, sdk) == x1
    assert _failed(closed_again, sdk) == ("40004", "ACQ.TRADE_STATUS_ERROR")
    assert _ok(q1, sdk)["trade_status"] == "TRADE_CLOSED"
    x2 = {"trade_no": _ok(c2, sdk)["trade_no"], "out_trade_no": "X-2"}
    assert _ok(cancelled, sdk) == {**x2, "retry_flag": "N", "action": "close"}
    x3 = {"trade_no": _ok(paid, sdk)["trade_no"], "out_trade_no": "X-3"}
    refund_fields = _ok(refunded, sdk)
    assert refund_fields == {
        **x3,
        "retry_flag": "N",
        "action": "refund",
        "gmt_refund_pay": refund_fields["gmt_refund_pay"],
    }
    assert _ok(refunded_again, sdk) == refund_fields
    assert _ok(q3, sdk)["trade_status"] == "TRADE_CLOSED"
    assert _failed(late, sdk) == ("40004", "ACQ.TRADE_STATUS_ERROR")
    assert _wallet(client, shop) == WALLET_FEN


@pytest.mark.parametrize("sdk", SDKS)
def test_an_isv_app_acts_for_a_merchant_with_its_app_auth_token(
    sdk: SDK, client: TestClient, db: Database, shop: Shop, server: str
) -> None:
    created = client.post(
        "/api/v1/trades",
        json={
            "out_trade_no": "ISV-1",
            "amount_fen": 990,
            "subject": "Green tea",
            "buyer_id": shop.buyer_id,
        },
        headers=shop.owner,
    )
    assert created.status_code == 201, created.text
    isv = make_isv(db, name="Till Software Ltd")
    isv_app = new_app(client, login(client, isv.email, isv.password), APP_KEY, name="Till SaaS")
    grant = client.post(
        "/api/v1/app-authorizations", json={"app_id": isv_app["app_id"]}, headers=shop.owner
    )
    assert grant.status_code == 201, grant.text
    app = sdk_app(client, server, isv_app["app_id"])

    exchange = {"grant_type": "authorization_code", "code": grant.json()["app_auth_code"]}
    [token_answer, without_token] = sdk_calls(
        sdk,
        app,
        [
            ("alipay.open.auth.token.app", exchange),
            ("alipay.trade.query", {"out_trade_no": "ISV-1"}),
        ],
    )
    token = _ok(token_answer, sdk)
    pair = {
        "app_auth_token": token["app_auth_token"],
        "app_refresh_token": token["app_refresh_token"],
        "auth_app_id": isv_app["app_id"],
        "user_id": f"20881{shop.merchant.merchant_id:011d}",
        "expires_in": 31536000,
        "re_expires_in": 32140800,
    }
    assert token == {**pair, "tokens": [pair]}
    assert _failed(without_token, sdk) == ("40006", "isv.insufficient-isv-permissions")

    [query, info] = sdk_calls(
        sdk,
        app,
        [
            ("alipay.trade.query", {"out_trade_no": "ISV-1"}),
            ("alipay.open.auth.token.app.query", {"app_auth_token": token["app_auth_token"]}),
        ],
        app_auth_token=token["app_auth_token"],
    )
    assert _ok(query, sdk) == {
        "trade_no": created.json()["trade_no"],
        "out_trade_no": "ISV-1",
        "buyer_user_id": shop.buyer_id,
        "trade_status": "WAIT_BUYER_PAY",
        "total_amount": "9.90",
        "subject": "Green tea",
    }
    info_fields = _ok(info, sdk)
    assert {k: v for k, v in info_fields.items() if k not in ("auth_start", "auth_end")} == {
        "user_id": f"20881{shop.merchant.merchant_id:011d}",
        "auth_app_id": isv_app["app_id"],
        "expires_in": info_fields["expires_in"],
        "auth_methods": [
            "alipay.open.auth.token.app",
            "alipay.open.auth.token.app.query",
            "alipay.trade.cancel",
            "alipay.trade.close",
            "alipay.trade.create",
            "alipay.trade.fastpay.refund.query",
            "alipay.trade.pay",
            "alipay.trade.query",
            "alipay.trade.refund",
        ],
        "status": "valid",
    }
    assert 31535000 < info_fields["expires_in"] <= 31536000


@pytest.mark.parametrize("sdk", SDKS)
def test_wrong_keys_fail_on_both_sides(
    sdk: SDK, client: TestClient, shop: Shop, server: str
) -> None:
    right = sdk_app(client, server, shop.app_id)
    wrong_app_key = SdkApp(right.url, right.app_id, OTHER_KEY, right.platform_keys)
    unknown_app = SdkApp(right.url, "2000000000000000", right.key, right.platform_keys)
    query = [("alipay.trade.query", {"out_trade_no": "nope"})]
    [bad_signature] = sdk_calls(sdk, wrong_app_key, query)
    [unknown] = sdk_calls(sdk, unknown_app, query)
    # The official SDK hands a signed error_response back; fzlee's raises on any.
    if sdk == "alipay-sdk-python":
        assert _failed(bad_signature, sdk) == ("40002", "isv.invalid-signature")
        assert _failed(unknown, sdk) == ("40002", "isv.invalid-app-id")
    else:
        assert bad_signature["exception"] == "AliPayException"
        assert bad_signature["response"]["sub_code"] == "isv.invalid-signature"
        assert unknown["response"]["sub_code"] == "isv.invalid-app-id"
    # The SDK refuses an answer it cannot verify with the platform key it was given.
    fmt = "base64" if sdk == "alipay-sdk-python" else "spki"
    impostor = SdkApp(right.url, right.app_id, right.key, {sdk: export_public_key(OTHER_PUB, fmt)})
    [refused] = sdk_calls(sdk, impostor, query)
    expected = "ResponseException" if sdk == "alipay-sdk-python" else "AliPayValidationError"
    assert refused["exception"] == expected
