"""The anti-cheating filter on real claims: every consumer claim is screened, the decision
and its explanation are stored (blocked ones too), the merchant sets the strictness and
sees the blocked claims and the budget they would have taken."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from ccare.core.db import Database
from tests.coupons.test_activities import activity
from tests.factories import consumer_login, login, make_consumer, make_merchant, make_operator


def _setup(client: TestClient, db: Database, **overrides: Any) -> tuple[dict[str, str], int]:
    merchant = make_merchant(db)
    owner = login(client, merchant.owner_email, merchant.password)
    body = activity(**{"quantity": 50, **overrides})
    r = client.post("/api/v1/coupon-activities", json=body, headers=owner)
    assert r.status_code == 201, r.text
    return owner, int(r.json()["id"])


def _claim(client: TestClient, aid: int, who: dict[str, str], device: str, key: str) -> Any:
    return client.post(
        f"/api/v1/coupon-activities/{aid}/claim",
        json={"channel": "coupon_venue", "claim_key": key, "device_id": device},
        headers=who,
    )


def test_a_device_farm_is_challenged_then_rejected_and_the_record_survives(
    client: TestClient, db: Database
) -> None:
    owner, aid = _setup(client, db)
    accounts = [consumer_login(client, make_consumer(db)) for _ in range(6)]

    answers = [_claim(client, aid, a, "farm-phone", f"k{n}") for n, a in enumerate(accounts)]

    # New accounts (25) on one device: 3-4 accounts add 10 (35: pass), 5+ add 25 (50: at
    # standard's challenge score of 40, below its reject score of 70).
    assert [a.status_code for a in answers] == [200, 200, 200, 200, 403, 403]
    assert [a.json().get("code") for a in answers[4:]] == ["coupon.claim_challenge"] * 2
    assert answers[4].json()["details"]["reasons"] == ["risk.device_shared", "risk.new_account"]
    report = client.get(f"/api/v1/coupon-activities/{aid}/risk", headers=owner).json()
    assert report["totals"] == {
        "pass": {"claims": 4, "face_fen": 2000},
        "challenge": {"claims": 2, "face_fen": 1000},
        "reject": {"claims": 0, "face_fen": 0},
    }
    assert report["budget_saved_fen"] == 1000
    blocked = report["blocked"][0]
    assert (blocked["outcome"], blocked["score"], blocked["device_id"]) == (
        "challenge",
        50,
        "farm-phone",
    )
    assert blocked["explanation"]["features"]["accounts_on_device"] == 6
    assert blocked["explanation"]["thresholds"] == {"challenge": 40, "reject": 70}
    # The blocked claims took no stock and counted against no limit.
    assert client.get(f"/api/v1/coupon-activities/{aid}", headers=owner).json()["issued"] == 4


def test_the_merchant_chooses_the_strictness_and_off_lets_everything_through(
    client: TestClient, db: Database
) -> None:
    owner, aid = _setup(client, db)
    before = client.get("/api/v1/coupon-settings", headers=owner).json()
    off = client.put("/api/v1/coupon-settings", json={"strictness": "off"}, headers=owner)
    accounts = [consumer_login(client, make_consumer(db)) for _ in range(6)]

    answers = [_claim(client, aid, a, "farm-phone", f"k{n}") for n, a in enumerate(accounts)]

    assert before["strictness"] == "standard"
    assert off.json()["strictness"] == "off"
    assert [a.status_code for a in answers] == [200] * 6
    report = client.get(f"/api/v1/coupon-activities/{aid}/risk", headers=owner).json()
    # Off still scores and records, so the merchant sees what the filter would have done.
    assert report["totals"]["pass"]["claims"] == 6
    assert report["budget_saved_fen"] == 0


def test_a_blacklisted_device_is_rejected_under_any_strictness_but_off(
    client: TestClient, db: Database
) -> None:
    owner, aid = _setup(client, db)
    op = make_operator(db)
    operator = login(client, op.email, op.password)
    listed = client.post(
        "/api/v1/coupon-blacklist",
        json={"kind": "device", "value": "stolen-phone", "reason": "resold coupons"},
        headers=operator,
    )
    again = client.post(
        "/api/v1/coupon-blacklist",
        json={"kind": "device", "value": "stolen-phone"},
        headers=operator,
    )
    by_owner = client.post(
        "/api/v1/coupon-blacklist", json={"kind": "ip", "value": "1.2.3.4"}, headers=owner
    )
    buyer = consumer_login(client, make_consumer(db))

    rejected = _claim(client, aid, buyer, "stolen-phone", "k1")
    client.put("/api/v1/coupon-settings", json={"strictness": "lenient"}, headers=owner)
    lenient = _claim(client, aid, buyer, "stolen-phone", "k2")
    client.put("/api/v1/coupon-settings", json={"strictness": "off"}, headers=owner)
    off = _claim(client, aid, buyer, "stolen-phone", "k3")

    assert listed.status_code == 201 and again.json()["id"] == listed.json()["id"]
    assert (by_owner.status_code, by_owner.json()["code"]) == (403, "auth.operator_only")
    assert (rejected.status_code, rejected.json()["code"]) == (403, "coupon.claim_reject")
    assert "risk.blacklisted" in rejected.json()["details"]["reasons"]
    assert lenient.json()["code"] == "coupon.claim_reject"
    assert off.status_code == 200
