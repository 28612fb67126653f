"""The coupon methods of the v1 gateway, in Alipay's ordervoucher shape, on the same
services as the native API."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from ccare.consumers.service import buyer_id
from ccare.core.db import Database
from tests.factories import login, make_consumer, make_merchant
from tests.gateway.conftest import APP_KEY, gateway, v1_params
from tests.openplatform.helpers import new_app

CREATE = "alipay.marketing.activity.ordervoucher.create"


def _app(client: TestClient, db: Database) -> str:
    merchant = make_merchant(db)
    owner = login(client, merchant.owner_email, merchant.password)
    app_id: str = new_app(client, owner, APP_KEY, scopes=["coupons"])["app_id"]
    return app_id


def _call(client: TestClient, app_id: str, method: str, biz: dict[str, Any]) -> dict[str, Any]:
    name, inner = gateway(client, v1_params(app_id, method, biz))
    assert name == method.replace(".", "_") + "_response"
    return inner


def create_biz(**overrides: Any) -> dict[str, Any]:
    biz: dict[str, Any] = {
        "activity_name": "满30减5",
        "out_biz_no": "gw-1",
        "voucher_send_rule": {
            "voucher_quantity": 2,
            "quantity_limit_per_user": 1,
            "publish_start_time": "2026-01-01 00:00:00",
            "publish_end_time": "2099-01-01 00:00:00",
        },
        "voucher_use_rule": {
            "voucher_type": "FIX_VOUCHER",
            "fix_voucher": {"amount": "5.00", "floor_amount": "30.00"},
            "voucher_valid_period": {"type": "RELATIVE", "valid_days_after_receive": 7},
        },
    }
    biz.update(overrides)
    return biz


def test_an_app_creates_sends_appends_queries_and_stops_an_activity(
    client: TestClient, db: Database
) -> None:
    app_id = _app(client, db)
    user = buyer_id(make_consumer(db))

    created = _call(client, app_id, CREATE, create_biz())
    aid = created["activity_id"]
    again = _call(client, app_id, CREATE, create_biz())
    sent = _call(
        client,
        app_id,
        "alipay.marketing.activity.ordervoucher.send",
        {"activity_id": aid, "out_biz_no": "s1", "user_id": user},
    )
    over = _call(
        client,
        app_id,
        "alipay.marketing.activity.ordervoucher.send",
        {"activity_id": aid, "out_biz_no": "s2", "user_id": user},
    )
    appended = _call(
        client,
        app_id,
        "alipay.marketing.activity.ordervoucher.append",
        {"activity_id": aid, "out_biz_no": "a1", "voucher_quantity": 5},
    )
    query = _call(
        client, app_id, "alipay.marketing.activity.ordervoucher.query", {"activity_id": aid}
    )
    voucher = _call(
        client,
        app_id,
        "alipay.marketing.activity.user.queryvoucher",
        {"activity_id": aid, "voucher_code": sent["voucher_code"]},
    )
    modified = _call(
        client,
        app_id,
        "alipay.marketing.activity.ordervoucher.modify",
        {
            "activity_id": aid,
            "out_biz_no": "m1",
            "activity_name": "满30减5 周末",
            "publish_end_time": "2098-12-31 23:59:59",
        },
    )
    renamed = _call(
        client, app_id, "alipay.marketing.activity.ordervoucher.query", {"activity_id": aid}
    )
    stopped = _call(
        client,
        app_id,
        "alipay.marketing.activity.ordervoucher.stop",
        {"activity_id": aid, "out_biz_no": "stop-1"},
    )
    after = _call(
        client, app_id, "alipay.marketing.activity.ordervoucher.query", {"activity_id": aid}
    )

    assert (created["code"], again["activity_id"]) == ("10000", aid)
    assert len(sent["voucher_code"]) == 16
    assert (over["code"], over["sub_code"]) == ("40004", "ccare.coupon.user_limit_reached")
    assert appended["code"] == "10000"
    assert query == {
        "code": "10000",
        "msg": "Success",
        "activity_id": aid,
        "activity_name": "满30减5",
        "activity_status": "ONGOING",
        "voucher_type": "FIX_VOUCHER",
        "publish_start_time": "2026-01-01 00:00:00",
        "publish_end_time": "2099-01-01 00:00:00",
        "voucher_inventory_info": {
            "voucher_quantity": 5,
            "issued_quantity": 1,
            "remaining_quantity": 4,
        },
    }
    [detail] = voucher["vouchers"]
    assert (detail["voucher_code"], detail["user_id"], detail["voucher_status"]) == (
        sent["voucher_code"],
        user,
        "AVAILABLE",
    )
    assert modified["code"] == "10000"
    assert (renamed["activity_name"], renamed["publish_end_time"]) == (
        "满30减5 周末",
        "2098-12-31 23:59:59",
    )
    assert stopped["code"] == "10000"
    assert after["activity_status"] == "STOPPED"


def test_a_discount_voucher_maps_onto_the_native_activity(client: TestClient, db: Database) -> None:
    app_id = _app(client, db)
    rule = {
        "voucher_type": "DISCOUNT_VOUCHER",
        "discount_voucher": {"discount": "8.5", "ceiling_amount": "20", "floor_amount": "10"},
        "voucher_valid_period": {
            "type": "ABSOLUTE",
            "valid_begin_time": "2026-12-01 00:00:00",
            "valid_end_time": "2026-12-31 23:59:59",
        },
    }

    aid = _call(client, app_id, CREATE, create_biz(voucher_use_rule=rule))["activity_id"]
    bad = _call(
        client,
        app_id,
        CREATE,
        create_biz(out_biz_no="gw-2", voucher_use_rule={**rule, "discount_voucher": None}),
    )

    with db.transaction() as s:
        from ccare.coupons.models import CouponActivity

        activity = s.get(CouponActivity, int(aid))
        assert activity is not None
        assert (activity.kind, activity.pay_rate_bp, activity.ceiling_fen, activity.floor_fen) == (
            "discount",
            8500,
            2000,
            1000,
        )
        assert activity.validity["begin"] == "2026-12-01T00:00:00+08:00"
    assert (bad["code"], bad["sub_code"]) == ("40004", "ccare.coupon.invalid_rule")
