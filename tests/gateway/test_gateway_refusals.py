"""Refused gateway calls: the exact Alipay code and sub_code, always a signed 200, and
nothing written (the failed call's transaction is rolled back although it answers 200)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ccare.core.db import Database
from ccare.core.errors import RateLimited
from ccare.core.signing import SignAlgorithm, generate_private_key
from ccare.core.time import beijing_text, utcnow
from ccare.web.gateway.errors import MESSAGES
from tests.factories import login, make_isv
from tests.gateway.conftest import (
    APP_KEY,
    OTHER_KEY,
    Shop,
    gateway,
    open_shop,
    snapshot,
    v1_params,
    verified,
)
from tests.openplatform.helpers import new_app

QUERY = "alipay.trade.query"
CREATE = "alipay.trade.create"


@pytest.fixture
def ready(client: TestClient, shop: Shop) -> Shop:
    # The platform's RSA key is made on first use; make it before the snapshots.
    client.get("/api/v1/platform-key")
    return shop


def _refused(
    client: TestClient, db: Database, params: dict[str, str], where: str, code: str, sub: str
) -> dict[str, Any]:
    before = snapshot(db)
    name, body = gateway(client, params)
    assert (name, body["code"], body["msg"], body["sub_code"]) == (where, code, MESSAGES[code], sub)
    assert snapshot(db) == before
    return body


def _create(shop: Shop, **biz: Any) -> dict[str, Any]:
    return {
        "out_trade_no": "T-1",
        "total_amount": "10.00",
        "subject": "Tea",
        "buyer_id": shop.buyer_id,
        **biz,
    }


def _ok(client: TestClient, params: dict[str, str]) -> dict[str, Any]:
    _, body = gateway(client, params)
    assert body["code"] == "10000", body
    return body


def _code_pay(client: TestClient, shop: Shop, out_trade_no: str, amount: str) -> dict[str, str]:
    code = client.post("/api/v1/me/payment-code", headers=shop.buyer).json()["auth_code"]
    biz = {
        "out_trade_no": out_trade_no,
        "scene": "bar_code",
        "auth_code": code,
        "subject": "Tea",
        "total_amount": amount,
    }
    return v1_params(shop.app_id, "alipay.trade.pay", biz)


# --- the call itself: error_response -----------------------------------------------------


def test_signature_app_and_timestamp_refusals(
    client: TestClient, db: Database, ready: Shop
) -> None:
    app_id = ready.app_id
    tampered = {**v1_params(app_id, QUERY, {"out_trade_no": "T-1"}), "biz_content": "{}"}
    old = beijing_text(utcnow() - timedelta(minutes=20))
    cases = [
        (tampered, "40002", "isv.invalid-signature"),
        (v1_params(app_id, QUERY, {}, key=OTHER_KEY), "40002", "isv.invalid-signature"),
        (v1_params("2999999999999999", QUERY, {}), "40002", "isv.invalid-app-id"),
        (v1_params(app_id, QUERY, {}, timestamp=old), "40002", "isv.invalid-timestamp"),
        (
            v1_params(app_id, QUERY, {}, timestamp="2026/01/01 10:00"),
            "40002",
            "isv.invalid-timestamp",
        ),
        (v1_params(app_id, QUERY, {}, sign_type="RSA"), "40002", "isv.invalid-signature-type"),
    ]
    for params, code, sub in cases:
        _refused(client, db, params, "error_response", code, sub)


def test_missing_and_malformed_common_parameters(
    client: TestClient, db: Database, ready: Shop
) -> None:
    app_id = ready.app_id
    no_sign = v1_params(app_id, QUERY, {})
    del no_sign["sign"]
    cases = [
        (v1_params(app_id, None, {}), "40001", "isv.missing-method"),
        (v1_params(app_id, "alipay.trade.teleport", {}), "40002", "isv.invalid-method"),
        (v1_params("", QUERY, {}), "40001", "isv.missing-app-id"),
        (no_sign, "40001", "isv.missing-signature"),
        (v1_params(app_id, QUERY, {}, sign_type=""), "40001", "isv.missing-signature-type"),
        (v1_params(app_id, QUERY, {}, format="xml"), "40002", "isv.invalid-format"),
        (v1_params(app_id, QUERY, {}, version="2.0"), "40002", "isv.invalid-parameter"),
        (v1_params(app_id, QUERY, {}, encrypt_type="AES"), "40002", "isv.invalid-encrypt-type"),
        (v1_params(app_id, QUERY, {}, charset="latin-1"), "40002", "isv.invalid-charset"),
    ]
    for params, code, sub in cases:
        _refused(client, db, params, "error_response", code, sub)
    body = _refused(client, db, cases[1][0], "error_response", "40002", "isv.invalid-method")
    assert body["sub_msg"] == "no method 'alipay.trade.teleport'"


def test_a_disabled_app_and_an_app_without_an_rsa_key(
    client: TestClient, db: Database, ready: Shop
) -> None:
    ed_only = new_app(client, ready.owner, generate_private_key(SignAlgorithm.ED25519))
    _refused(
        client,
        db,
        v1_params(ed_only["app_id"], QUERY, {}),
        "error_response",
        "40001",
        "isv.missing-signature-key",
    )
    r = client.patch(
        f"/api/v1/apps/{ready.app_id}", json={"status": "disabled"}, headers=ready.owner
    )
    assert r.status_code == 200, r.text
    _refused(
        client,
        db,
        v1_params(ready.app_id, QUERY, {}),
        "error_response",
        "40002",
        "isv.invalid-app-id",
    )


def _sent(client: TestClient, response: Any) -> tuple[str, dict[str, Any]]:
    assert response.status_code == 200, response.text
    return verified(client, response.content)


def test_transport_refusals(client: TestClient, db: Database, ready: Shop) -> None:
    params = v1_params(ready.app_id, QUERY, {"out_trade_no": "T-1"})
    before = snapshot(db)
    # The same parameter twice with different values: which one was signed?
    r = client.post("/gateway.do", params={"app_id": "2000000000000001"}, data=params)
    assert _sent(client, r)[1]["sub_code"] == "isv.invalid-parameter"
    r = client.post("/gateway.do", params=params, json={"biz_content": "{}"})
    name, body = _sent(client, r)
    assert (name, body["code"], body["sub_msg"]) == (
        "error_response",
        "40002",
        "send parameters as application/x-www-form-urlencoded, not application/json",
    )
    r = client.post("/gateway.do", params=params, content=b"biz_content=%FF%FE")
    assert _sent(client, r)[1]["sub_code"] == "isv.invalid-charset"
    # Over the 1 MB body limit, announced or streamed: refused before anything is read.
    big = {**params, "biz_content": "x" * 1_000_001}
    r = client.post("/gateway.do", data=big)
    assert (r.status_code, r.json()["code"]) == (413, "payload_too_large")
    r = client.post("/gateway.do", content=(b"x" * 500_000 for _ in range(3)))
    assert (r.status_code, r.json()["code"]) == (413, "payload_too_large")
    assert snapshot(db) == before


def test_the_common_parameters_may_all_travel_in_a_get(client: TestClient, ready: Shop) -> None:
    params = v1_params(ready.app_id, CREATE, _create(ready))
    name, body = _sent(client, client.get("/gateway.do", params=params))
    assert (name, body["code"], body["out_trade_no"]) == (
        "alipay_trade_create_response",
        "10000",
        "T-1",
    )


def test_gbk_calls_are_answered_in_gbk(client: TestClient, ready: Shop) -> None:
    params = v1_params(ready.app_id, CREATE, _create(ready), charset="GBK")
    r = client.post("/gateway.do", data=params)
    assert r.headers["content-type"] == "application/json;charset=gbk"
    assert _sent(client, r)[1]["code"] == "10000"


# --- biz_content: answered in <method>_response --------------------------------------------


@pytest.mark.parametrize(
    ("biz", "code", "sub", "message"),
    [
        ("{oops", "40002", "isv.invalid-parameter", "biz_content is not valid JSON"),
        ("[1, 2]", "40002", "isv.invalid-parameter", "biz_content must be a JSON object"),
        (
            {"total_amount": None},
            "40001",
            "isv.missing-parameter",
            'total_amount: Value error, an amount in yuan such as "88.88"',
        ),
        (
            {"total_amount": "8.888"},
            "40002",
            "isv.invalid-parameter",
            "total_amount: Value error, at most two decimals",
        ),
        (
            {"total_amount": "-1.00"},
            "40002",
            "isv.invalid-parameter",
            "total_amount: Value error, must not be negative",
        ),
        (
            {"total_amount": "0.00"},
            "40002",
            "isv.invalid-parameter",
            "total_amount: Value error, must be between 0.01 and 100000000.00",
        ),
        (
            {"total_amount": {"yuan": 1}},
            "40002",
            "isv.invalid-parameter",
            'total_amount: Value error, an amount in yuan such as "88.88"',
        ),
        (
            {"buyer_id": "2088123"},
            "40002",
            "isv.invalid-parameter",
            "buyer_id: String should match pattern '^20880[0-9]{11}$'",
        ),
        (
            {"subject": ["Tea"]},
            "40002",
            "isv.invalid-parameter",
            "subject: Input should be a valid string",
        ),
        (
            {"timeout_express": "16d"},
            "40002",
            "isv.invalid-parameter",
            "timeout_express: Value error, at most 15d",
        ),
    ],
)
def test_bad_biz_content(
    client: TestClient,
    db: Database,
    ready: Shop,
    biz: dict[str, Any] | str,
    code: str,
    sub: str,
    message: str,
) -> None:
    content = biz if isinstance(biz, str) else _create(ready, **biz)
    if isinstance(content, dict):
        content = {k: v for k, v in content.items() if v is not None}
    params = v1_params(ready.app_id, CREATE, content)
    body = _refused(client, db, params, "alipay_trade_create_response", code, sub)
    expected = (
        "missing required parameter total_amount" if sub.startswith("isv.missing") else message
    )
    assert body["sub_msg"] == expected


def test_missing_trade_reference_and_bad_scene(
    client: TestClient, db: Database, ready: Shop
) -> None:
    body = _refused(
        client,
        db,
        v1_params(ready.app_id, QUERY, {}),
        "alipay_trade_query_response",
        "40001",
        "isv.missing-parameter",
    )
    assert body["sub_msg"] == "trade_no or out_trade_no is required"
    params = _code_pay(client, ready, "P-1", "1.00")
    biz = params["biz_content"].replace("bar_code", "qr_code")
    body = _refused(
        client,
        db,
        v1_params(ready.app_id, "alipay.trade.pay", biz),
        "alipay_trade_pay_response",
        "40002",
        "isv.invalid-parameter",
    )
    assert body["sub_msg"] == "scene: Input should be 'bar_code' or 'wave_code'"
    body = _refused(
        client,
        db,
        v1_params(ready.app_id, CREATE, _create(ready), notify_url="ftp://x"),
        "alipay_trade_create_response",
        "40002",
        "isv.invalid-parameter",
    )
    assert body["sub_msg"].startswith("notify_url: String should match pattern")


def test_unknown_fields_and_numbers_for_strings_are_tolerated(
    client: TestClient, ready: Shop
) -> None:
    biz = {
        **_create(ready, out_trade_no=20240101, total_amount=12.5),
        "goods_detail": [{"goods_id": "g1", "quantity": 1}],
        "extend_params": {"sys_service_provider_id": "2088511833207846"},
    }
    body = _ok(client, v1_params(ready.app_id, CREATE, biz))
    assert body["out_trade_no"] == "20240101"
    query = _ok(client, v1_params(ready.app_id, QUERY, {"out_trade_no": "20240101"}))
    assert query["total_amount"] == "12.50"


# --- business refusals --------------------------------------------------------------------


def test_trades_of_other_merchants_do_not_exist_for_an_app(
    client: TestClient, db: Database, ready: Shop
) -> None:
    other = open_shop(client, db, name="Rival Tea")
    theirs = _ok(client, v1_params(other.app_id, CREATE, _create(other, out_trade_no="O-1")))
    for biz in (
        {"out_trade_no": "O-1"},
        {"trade_no": theirs["trade_no"]},
        {"trade_no": "2026010100000000000000000000"},
    ):
        body = _refused(
            client,
            db,
            v1_params(ready.app_id, QUERY, biz),
            "alipay_trade_query_response",
            "40004",
            "ACQ.TRADE_NOT_EXIST",
        )
        assert body["sub_msg"] == "no such trade"
    refund = {"trade_no": theirs["trade_no"], "refund_amount": "1.00"}
    _refused(
        client,
        db,
        v1_params(ready.app_id, "alipay.trade.refund", refund),
        "alipay_trade_refund_response",
        "40004",
        "ACQ.TRADE_NOT_EXIST",
    )


def test_refund_refusals(client: TestClient, db: Database, ready: Shop) -> None:
    _ok(client, _code_pay(client, ready, "P-1", "20.00"))
    _ok(client, v1_params(ready.app_id, CREATE, _create(ready, out_trade_no="U-1")))
    refund = "alipay.trade.refund"
    where = "alipay_trade_refund_response"
    first = {"out_trade_no": "P-1", "refund_amount": "5.00", "out_request_no": "R1"}
    _ok(client, v1_params(ready.app_id, refund, first))
    cases = [
        (
            {**first, "refund_amount": "15.01", "out_request_no": "R2"},
            "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL",
        ),
        ({**first, "refund_amount": "6.00"}, "ACQ.DISCORDANT_REPEAT_REQUEST"),
        ({"out_trade_no": "U-1", "refund_amount": "1.00"}, "ACQ.TRADE_STATUS_ERROR"),
    ]
    for biz, sub in cases:
        _refused(client, db, v1_params(ready.app_id, refund, biz), where, "40004", sub)
    everything = {"out_trade_no": "P-1", "refund_amount": "15.00", "out_request_no": "R3"}
    assert _ok(client, v1_params(ready.app_id, refund, everything))["refund_fee"] == "20.00"
    _refused(
        client,
        db,
        v1_params(ready.app_id, refund, {**everything, "out_request_no": "R4"}),
        where,
        "40004",
        "ACQ.TRADE_HAS_CLOSE",
    )


def test_create_and_pay_refusals(client: TestClient, db: Database, ready: Shop) -> None:
    where = "alipay_trade_create_response"
    _ok(client, v1_params(ready.app_id, CREATE, _create(ready)))
    # The same out_trade_no again: the same trade, unless something differs or it moved on.
    assert _ok(client, v1_params(ready.app_id, CREATE, _create(ready)))["out_trade_no"] == "T-1"
    _refused(
        client,
        db,
        v1_params(ready.app_id, CREATE, _create(ready, total_amount="11.00")),
        where,
        "40004",
        "ACQ.CONTEXT_INCONSISTENT",
    )
    stranger = "20880" + "9" * 11
    body = _refused(
        client,
        db,
        v1_params(ready.app_id, CREATE, _create(ready, out_trade_no="T-2", buyer_id=stranger)),
        where,
        "40004",
        "ACQ.INVALID_PARAMETER",
    )
    assert body["sub_msg"] == "no buyer with this buyer_id"
    _ok(client, _code_pay(client, ready, "P-1", "1.00"))
    _refused(
        client,
        db,
        v1_params(ready.app_id, CREATE, _create(ready, out_trade_no="P-1", total_amount="1.00")),
        where,
        "40004",
        "ACQ.TRADE_HAS_SUCCESS",
    )


def test_a_payment_that_fails_late_leaves_nothing_behind(
    client: TestClient, db: Database, ready: Shop
) -> None:
    # The trade is created and the payment code used up before the wallet proves short:
    # all of it must roll back although the answer is an HTTP 200.
    params = _code_pay(client, ready, "P-9", "500.01")
    body = _refused(
        client, db, params, "alipay_trade_pay_response", "40004", "ACQ.BUYER_BALANCE_NOT_ENOUGH"
    )
    assert body["sub_msg"] == "insufficient funds"
    # The code was not used up: the buyer can still pay with it.
    biz = params["biz_content"].replace("500.01", "500.00")
    assert _ok(client, v1_params(ready.app_id, "alipay.trade.pay", biz))["total_amount"] == "500.00"


def test_expired_and_unknown_payment_codes(client: TestClient, db: Database, ready: Shop) -> None:
    from ccare.consumers.service import issue_payment_code
    from tests.orders.conftest import as_consumer

    with db.transaction() as s:
        old = issue_payment_code(
            s, as_consumer(ready.consumer_id), utcnow() - timedelta(seconds=61)
        )
    for code, message in (
        (old.auth_code, "this payment code expired"),
        ("28" + "0" * 16, "unknown payment code"),
    ):
        params = _code_pay(client, ready, "P-1", "1.00")
        biz = params["biz_content"]
        fresh = biz[biz.index('"auth_code": "') + 14 :][:18]
        body = _refused(
            client,
            db,
            v1_params(ready.app_id, "alipay.trade.pay", biz.replace(fresh, code)),
            "alipay_trade_pay_response",
            "40004",
            "ACQ.PAYMENT_AUTH_CODE_INVALID",
        )
        assert body["sub_msg"] == message


def test_an_app_without_the_orders_scope(client: TestClient, db: Database, ready: Shop) -> None:
    catalog_only = new_app(client, ready.owner, APP_KEY, scopes=["catalog"], name="Menu sync")
    body = _refused(
        client,
        db,
        v1_params(catalog_only["app_id"], QUERY, {"out_trade_no": "T-1"}),
        "alipay_trade_query_response",
        "40006",
        "isv.insufficient-isv-permissions",
    )
    assert body["sub_msg"] == "the app has no 'orders' scope"


# --- ISV apps and app auth tokens ----------------------------------------------------------


def _isv_token(client: TestClient, db: Database, shop: Shop, **grant: Any) -> tuple[str, str, int]:
    """(the ISV app's id, its app_auth_token for the shop, the grant id)."""
    isv = make_isv(db, name="Till Software Ltd")
    isv_app = new_app(client, login(client, isv.email, isv.password), APP_KEY, name="Till SaaS")
    r = client.post(
        "/api/v1/app-authorizations",
        json={"app_id": isv_app["app_id"], **grant},
        headers=shop.owner,
    )
    assert r.status_code == 201, r.text
    exchange = {"grant_type": "authorization_code", "code": r.json()["app_auth_code"]}
    token = _ok(client, v1_params(isv_app["app_id"], "alipay.open.auth.token.app", exchange))
    return isv_app["app_id"], token["app_auth_token"], r.json()["grant_id"]


def test_revoked_and_narrow_grants(client: TestClient, db: Database, ready: Shop) -> None:
    _ok(client, v1_params(ready.app_id, CREATE, _create(ready)))
    app_id, token, grant_id = _isv_token(client, db, ready)
    query = {"out_trade_no": "T-1"}
    assert _ok(client, v1_params(app_id, QUERY, query, app_auth_token=token))["trade_no"]
    where = "alipay_trade_query_response"
    body = _refused(
        client,
        db,
        v1_params(app_id, QUERY, query, app_auth_token="202601BBnope"),
        where,
        "20001",
        "aop.invalid-app-auth-token",
    )
    r = client.post(f"/api/v1/isv-grants/{grant_id}/revoke", headers=ready.owner)
    assert r.status_code == 200, r.text
    body = _refused(
        client,
        db,
        v1_params(app_id, QUERY, query, app_auth_token=token),
        where,
        "20001",
        "aop.invalid-app-auth-token",
    )

    narrow_app, narrow, _ = _isv_token(client, db, ready, scopes=["catalog"])
    body = _refused(
        client,
        db,
        v1_params(narrow_app, QUERY, query, app_auth_token=narrow),
        where,
        "20001",
        "aop.invalid-app-auth-token-no-api",
    )
    assert body["sub_msg"] == "the merchant did not grant 'orders' to this app"


def test_token_exchange_refusals(client: TestClient, db: Database, ready: Shop) -> None:
    app_id, _, _ = _isv_token(client, db, ready)
    method, where = "alipay.open.auth.token.app", "alipay_open_auth_token_app_response"
    cases = [
        ({"grant_type": "authorization_code"}, "40001", "isv.missing-parameter"),
        ({"grant_type": "password", "code": "x"}, "40002", "isv.invalid-parameter"),
        ({"grant_type": "authorization_code", "code": "nope"}, "40002", "isv.code-invalid"),
        (
            {"grant_type": "refresh_token", "refresh_token": "nope"},
            "40002",
            "isv.refresh-token-invalid",
        ),
    ]
    for biz, code, sub in cases:
        _refused(client, db, v1_params(app_id, method, biz), where, code, sub)


# --- the platform -------------------------------------------------------------------------


def test_unexpected_failures_and_rate_limits_are_20000(
    client: TestClient, db: Database, ready: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ccare.orders import service
    from ccare.web import signed

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(service, "find_trade", broken)
    body = _refused(
        client,
        db,
        v1_params(ready.app_id, QUERY, {"out_trade_no": "T-1"}),
        "alipay_trade_query_response",
        "20000",
        "isp.unknow-error",
    )
    assert body["sub_msg"] == "internal error"

    def limited(*args: object) -> None:
        raise RateLimited("over 600 calls per minute for this app; retry later", headers={})

    monkeypatch.setattr(signed, "check_rate", limited)
    _refused(
        client,
        db,
        v1_params(ready.app_id, QUERY, {"out_trade_no": "T-1"}),
        "alipay_trade_query_response",
        "20000",
        "aop.app-call-limited",
    )
