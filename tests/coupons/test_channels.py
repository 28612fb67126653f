"""Channels that bring consumers to a coupon (the venue, search passphrases) and uses the
merchant reports from its own till (native API and gateway)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from ccare.core.db import Database
from tests.coupons.test_activities import activity
from tests.factories import consumer_login, login, make_consumer, make_merchant
from tests.gateway.conftest import APP_KEY, gateway, v1_params
from tests.openplatform.helpers import new_app


def _owner(client: TestClient, db: Database, name: str = "Merchant A") -> dict[str, str]:
    merchant = make_merchant(db, name=name)
    return login(client, merchant.owner_email, merchant.password)


def _create(client: TestClient, owner: dict[str, str], **overrides: Any) -> dict[str, Any]:
    r = client.post("/api/v1/coupon-activities", json=activity(**overrides), headers=owner)
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created


def test_the_venue_shows_open_activities_and_a_passphrase_pops_its_coupon(
    client: TestClient, db: Database
) -> None:
    a, b = _owner(client, db), _owner(client, db, "Merchant B")
    open_a = _create(client, a, out_biz_no="a1", passphrase="早餐半价")
    _create(client, a, out_biz_no="a2", activate=False)
    open_b = _create(client, b, out_biz_no="b1")
    ended = _create(client, b, out_biz_no="b2", claim_end="2026-02-01T00:00:00+08:00")
    taken = client.post(
        "/api/v1/coupon-activities",
        json=activity(out_biz_no="b3", passphrase="早餐半价"),
        headers=b,
    )
    buyer = consumer_login(client, make_consumer(db))

    venue = client.get("/api/v1/coupon-venue").json()
    found = client.get("/api/v1/coupon-passphrases/早餐半价")
    missing = client.get("/api/v1/coupon-passphrases/午餐")
    claimed = client.post(
        f"/api/v1/coupon-activities/{found.json()['id']}/claim",
        json={"channel": "search_passphrase", "claim_key": "s1"},
        headers=buyer,
    )

    assert [x["id"] for x in venue] == [open_b["id"], open_a["id"]]
    assert ended["id"] not in [x["id"] for x in venue]
    assert (found.status_code, found.json()["id"], found.json()["amount_fen"]) == (
        200,
        open_a["id"],
        500,
    )
    assert (missing.status_code, missing.json()["code"]) == (404, "coupon.passphrase_not_found")
    assert (taken.status_code, taken.json()["code"]) == (409, "coupon.passphrase_taken")
    assert claimed.json()["channel"] == "search_passphrase"


def test_a_use_reported_from_the_till_is_checked_once_and_can_be_undone(
    client: TestClient, db: Database
) -> None:
    owner = _owner(client, db)
    aid = _create(client, owner)["id"]
    buyer = consumer_login(client, make_consumer(db))
    code = client.post(
        f"/api/v1/coupon-activities/{aid}/claim",
        json={"channel": "offline_qr", "claim_key": "q"},
        headers=buyer,
    ).json()["code"]
    url = f"/api/v1/coupon-activities/{aid}"

    def use(**body: Any) -> Any:
        return client.post(f"{url}/use", json={"voucher_code": code, **body}, headers=owner)

    low = use(out_biz_no="u0", total_fee_fen=2999)
    first = use(out_biz_no="u1", total_fee_fen=4200, trade_no="T-1")
    again = use(out_biz_no="u1", total_fee_fen=4200, trade_no="T-1")
    other = use(out_biz_no="u2", total_fee_fen=4200)
    undo = client.post(
        f"{url}/unuse", json={"voucher_code": code, "out_biz_no": "r1"}, headers=owner
    )
    undo_again = client.post(
        f"{url}/unuse", json={"voucher_code": code, "out_biz_no": "r1"}, headers=owner
    )
    not_used = client.post(
        f"{url}/unuse", json={"voucher_code": code, "out_biz_no": "r2"}, headers=owner
    )

    assert (low.status_code, low.json()["code"]) == (422, "coupon.below_minimum_spend")
    assert (first.json()["status"], first.json()["discount_fen"]) == ("used", 500)
    assert again.json() == first.json()
    assert (other.status_code, other.json()["code"]) == (422, "coupon.not_available")
    assert (undo.json()["status"], undo.json()["discount_fen"]) == ("available", 0)
    assert undo_again.json()["status"] == "available"
    assert (not_used.status_code, not_used.json()["code"]) == (409, "coupon.not_used")


def test_the_gateway_reports_and_refunds_a_use(client: TestClient, db: Database) -> None:
    owner = _owner(client, db)
    app_id = new_app(client, owner, APP_KEY, scopes=["coupons"])["app_id"]
    aid = _create(client, owner)["id"]
    buyer = consumer_login(client, make_consumer(db))
    code = client.post(
        f"/api/v1/coupon-activities/{aid}/claim",
        json={"channel": "offline_qr", "claim_key": "q"},
        headers=buyer,
    ).json()["code"]

    _, used = gateway(
        client,
        v1_params(
            app_id,
            "alipay.marketing.activity.ordervoucher.use",
            {"activity_id": aid, "voucher_code": code, "out_biz_no": "u1", "total_fee": "42.00"},
        ),
    )
    _, refunded = gateway(
        client,
        v1_params(
            app_id,
            "alipay.marketing.activity.ordervoucher.refund",
            {"activity_id": aid, "voucher_code": code, "out_biz_no": "r1"},
        ),
    )

    assert used == {
        "code": "10000",
        "msg": "Success",
        "activity_id": str(aid),
        "voucher_use_detail_result_info": {"voucher_code": code, "deduct_amount": "5.00"},
    }
    assert refunded == {"code": "10000", "msg": "Success"}
    mine = client.get("/api/v1/me/coupons", headers=buyer).json()
    assert [c["status"] for c in mine] == ["available"]
