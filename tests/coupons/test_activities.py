"""Coupon activities through the API: create, lifecycle, limits, stock, codes, history."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from ccare.core.db import Database
from tests.factories import consumer_login, login, make_consumer, make_merchant

WINDOW = {"claim_begin": "2026-01-01T00:00:00+08:00", "claim_end": "2099-01-01T00:00:00+08:00"}


def activity(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "out_biz_no": "spring-1",
        "name": "满30减5",
        "kind": "fixed",
        "amount_fen": 500,
        "floor_fen": 3000,
        "quantity": 3,
        "validity": {"days_after_claim": 7},
        "activate": True,
        **WINDOW,
    }
    body.update(overrides)
    return body


@pytest.fixture
def owner(client: TestClient, db: Database) -> dict[str, str]:
    merchant = make_merchant(db)
    return login(client, merchant.owner_email, merchant.password)


def _create(client: TestClient, owner: dict[str, str], **overrides: Any) -> dict[str, Any]:
    r = client.post("/api/v1/coupon-activities", json=activity(**overrides), headers=owner)
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created


def _claim(
    client: TestClient, activity_id: int, who: dict[str, str], key: str, **extra: Any
) -> Any:
    body = {"channel": "coupon_venue", "claim_key": key, **extra}
    return client.post(f"/api/v1/coupon-activities/{activity_id}/claim", json=body, headers=who)


def test_an_activity_is_created_once_per_out_biz_no(
    client: TestClient, owner: dict[str, str]
) -> None:
    first = _create(client, owner)
    again = _create(client, owner)
    other = client.post("/api/v1/coupon-activities", json=activity(quantity=4), headers=owner)

    assert again["id"] == first["id"]
    assert (first["status"], first["quantity"], first["face_fen"]) == ("active", 3, 500)
    assert (first["issued"], first["remaining"]) == (0, 3)
    assert (other.status_code, other.json()["code"]) == (409, "coupon.out_biz_no_reused")


@pytest.mark.parametrize(
    ("overrides", "status", "code"),
    [
        ({"kind": "discount"}, 422, "invalid_request"),  # no pay_rate_bp, no ceiling
        ({"kind": "exchange"}, 422, "invalid_request"),  # no goods
        ({"claim_end": "2025-01-01T00:00:00+08:00"}, 422, "invalid_request"),
        (
            {"validity": {"days_after_claim": 7, "windows": ["10:00-09:00"]}},
            422,
            "coupon.invalid_validity",
        ),
        ({"validity": {"wait_days": 1}}, 422, "coupon.invalid_validity"),
        ({"budget_fen": 499}, 422, "coupon.budget_below_face"),
        ({"amount_fen": -1}, 422, "invalid_request"),
    ],
)
def test_malformed_activities_are_refused_and_nothing_is_written(
    client: TestClient, owner: dict[str, str], overrides: dict[str, Any], status: int, code: str
) -> None:
    r = client.post("/api/v1/coupon-activities", json=activity(**overrides), headers=owner)

    assert (r.status_code, r.json()["code"]) == (status, code)
    assert client.get("/api/v1/coupon-activities", headers=owner).json() == []


def test_a_money_budget_caps_the_count_at_face_value(
    client: TestClient, owner: dict[str, str]
) -> None:
    created = _create(client, owner, quantity=10, budget_fen=1_400)

    assert (created["quantity"], created["remaining"]) == (2, 2)


def test_the_lifecycle_gates_claims_and_is_recorded(
    client: TestClient, db: Database, owner: dict[str, str]
) -> None:
    created = _create(client, owner, activate=False)
    aid = created["id"]
    buyer = consumer_login(client, make_consumer(db))

    def status(to: str) -> Any:
        return client.post(
            f"/api/v1/coupon-activities/{aid}/status", json={"status": to}, headers=owner
        )

    draft = _claim(client, aid, buyer, "k1")
    assert status("active").json()["status"] == "active"
    claimed = _claim(client, aid, buyer, "k2")
    assert status("paused").status_code == 200
    paused = _claim(client, aid, buyer, "k3")
    assert status("active").status_code == 200
    assert status("stopped").status_code == 200
    restart = status("active")

    assert (draft.status_code, draft.json()["code"]) == (409, "coupon.activity_not_active")
    assert claimed.status_code == 200
    assert (paused.status_code, paused.json()["details"]) == (409, {"status": "paused"})
    assert (restart.status_code, restart.json()["code"]) == (409, "coupon.illegal_transition")
    history = client.get(f"/api/v1/coupon-activities/{aid}/history", headers=owner).json()
    assert [h["action"] for h in history] == [
        "created",
        "activated",
        "paused",
        "activated",
        "stopped",
    ]
    assert history[2]["changes"] == {"status": ["active", "paused"]}


def test_claims_are_idempotent_limited_per_user_and_never_oversold(
    client: TestClient, db: Database, owner: dict[str, str]
) -> None:
    aid = _create(client, owner, quantity=3, user_limits={"lifetime": 2})["id"]
    alice = consumer_login(client, make_consumer(db))
    bob = consumer_login(client, make_consumer(db))

    a1 = _claim(client, aid, alice, "a1")
    a1_again = _claim(client, aid, alice, "a1")
    a2 = _claim(client, aid, alice, "a2")
    a3 = _claim(client, aid, alice, "a3")
    b1 = _claim(client, aid, bob, "b1")
    b2 = _claim(client, aid, bob, "b2")

    assert a1_again.json() == a1.json()
    assert [r.status_code for r in (a1, a2, b1)] == [200, 200, 200]
    assert (a3.status_code, a3.json()["code"], a3.json()["details"]) == (
        409,
        "coupon.user_limit_reached",
        {"period": "lifetime", "limit": 2},
    )
    assert (b2.status_code, b2.json()["code"]) == (409, "coupon.stock_exhausted")
    got = client.get(f"/api/v1/coupon-activities/{aid}", headers=owner).json()
    assert (got["issued"], got["remaining"]) == (3, 0)
    mine = client.get("/api/v1/me/coupons", headers=alice).json()
    assert sorted(c["code"] for c in mine) == sorted([a1.json()["code"], a2.json()["code"]])
    assert {c["channel"] for c in mine} == {"coupon_venue"}
    assert all(len(c["code"]) == 16 and c["status"] == "available" for c in mine)


def test_append_adds_stock_once_per_request(
    client: TestClient, db: Database, owner: dict[str, str]
) -> None:
    aid = _create(client, owner, quantity=1)["id"]
    buyer = consumer_login(client, make_consumer(db))
    assert _claim(client, aid, buyer, "1").status_code == 200
    body = {"add": 2, "out_request_no": "more-1"}

    first = client.post(f"/api/v1/coupon-activities/{aid}/append", json=body, headers=owner)
    again = client.post(f"/api/v1/coupon-activities/{aid}/append", json=body, headers=owner)
    other = client.post(
        f"/api/v1/coupon-activities/{aid}/append", json={**body, "add": 5}, headers=owner
    )

    assert (first.json()["quantity"], first.json()["remaining"]) == (3, 2)
    assert (again.json()["quantity"], again.json()["remaining"]) == (3, 2)
    assert (other.status_code, other.json()["code"]) == (409, "coupon.out_request_no_reused")
    assert [_claim(client, aid, buyer, k).status_code for k in "234"] == [200, 200, 409]


def test_merchant_codes_are_handed_out_one_each(
    client: TestClient, db: Database, owner: dict[str, str]
) -> None:
    aid = _create(client, owner, quantity=5, code_mode="merchant_upload")["id"]
    deposit = client.post(
        f"/api/v1/coupon-activities/{aid}/codes", json={"codes": ["AAAA1", "BBBB2"]}, headers=owner
    )
    buyers = [consumer_login(client, make_consumer(db)) for _ in range(3)]

    answers = [_claim(client, aid, b, "x") for b in buyers]

    assert deposit.status_code == 200
    assert sorted(a.json().get("code", "") for a in answers[:2]) == ["AAAA1", "BBBB2"]
    assert (answers[2].status_code, answers[2].json()["code"]) == (409, "coupon.codes_exhausted")
    # The refused claim took no stock: it rolled back with the rest.
    assert client.get(f"/api/v1/coupon-activities/{aid}", headers=owner).json()["remaining"] == 3


def test_a_merchant_sends_a_coupon_and_the_device_limit_holds(
    client: TestClient, db: Database, owner: dict[str, str]
) -> None:
    aid = _create(client, owner, quantity=10, device_limit=1)["id"]
    a, b = make_consumer(db), make_consumer(db)
    sent = client.post(
        f"/api/v1/coupon-activities/{aid}/send",
        json={"consumer_id": a, "channel": "message", "claim_key": "m-1"},
        headers=owner,
    )
    first = _claim(client, aid, consumer_login(client, b), "1", device_id="phone-7")
    second = _claim(client, aid, consumer_login(client, a), "2", device_id="phone-7")

    assert (sent.status_code, sent.json()["consumer_id"], sent.json()["channel"]) == (
        200,
        a,
        "message",
    )
    assert first.status_code == 200
    assert (second.status_code, second.json()["code"]) == (409, "coupon.device_limit_reached")
    issued = client.get(f"/api/v1/coupon-activities/{aid}/coupons", headers=owner).json()
    assert sorted(c["channel"] for c in issued) == ["coupon_venue", "message"]


def test_activities_past_their_claim_window_expire(
    client: TestClient, db: Database, owner: dict[str, str]
) -> None:
    from ccare.coupons import service

    ended = _create(client, owner, out_biz_no="old", claim_end="2026-02-01T00:00:00+08:00")
    running = _create(client, owner, out_biz_no="new")

    with db.transaction() as s:
        first = service.expire_activities(s)
    with db.transaction() as s:
        second = service.expire_activities(s)

    assert (first, second) == (1, 0)
    statuses = {
        a["id"]: a["status"] for a in client.get("/api/v1/coupon-activities", headers=owner).json()
    }
    assert statuses == {ended["id"]: "expired", running["id"]: "active"}
    history = client.get(f"/api/v1/coupon-activities/{ended['id']}/history", headers=owner)
    assert [(h["action"], h["actor"]) for h in history.json()] == [
        ("created", history.json()[0]["actor"]),
        ("expired", "system:0"),
    ]
