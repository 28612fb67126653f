"""Coupon notifications reach the merchant's apps that subscribed: claimed, used, expired,
stock exhausted; unused coupons expire by the worker's poller."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from ccare.core.db import Database
from ccare.core.signing import SignAlgorithm, generate_private_key
from ccare.core.time import utcnow
from ccare.core.worker import InProcessTransport, drain
from ccare.coupons import redemption
from tests.coupons.test_activities import activity
from tests.factories import consumer_login, login, make_consumer, make_merchant
from tests.openplatform.helpers import new_app

EVENTS = ["coupon.claimed", "coupon.used", "coupon.expired", "coupon.stock_exhausted"]


def test_subscribed_apps_hear_of_claims_exhaustion_and_expiry(
    client: TestClient, db: Database
) -> None:
    merchant = make_merchant(db)
    owner = login(client, merchant.owner_email, merchant.password)
    app_id = new_app(
        client, owner, generate_private_key(SignAlgorithm.ED25519), scopes=["coupons"]
    )["app_id"]
    r = client.post(
        f"/api/v1/apps/{app_id}/webhooks",
        json={"url": "https://till.example/notify", "event_types": EVENTS},
        headers=owner,
    )
    assert r.status_code == 201, r.text
    body = activity(quantity=2, validity={"days_after_claim": 1})
    aid = client.post("/api/v1/coupon-activities", json=body, headers=owner).json()["id"]
    buyers = [consumer_login(client, make_consumer(db)) for _ in range(2)]
    codes = [
        client.post(
            f"/api/v1/coupon-activities/{aid}/claim",
            json={"channel": "fan_group", "claim_key": "k"},
            headers=b,
        ).json()["code"]
        for b in buyers
    ]
    with db.transaction() as s:
        nothing_yet = redemption.expire_due(s)
    with db.transaction() as s:
        expired = redemption.expire_due(s, now=utcnow() + timedelta(days=3))
    drain(db, InProcessTransport(db, None))

    deliveries = client.get(f"/api/v1/apps/{app_id}/deliveries", headers=owner).json()["items"]
    assert (nothing_yet, expired) == (0, 2)
    assert sorted(d["event_type"] for d in deliveries) == sorted(
        ["coupon.claimed"] * 2 + ["coupon.stock_exhausted"] + ["coupon.expired"] * 2
    )
    mine = client.get("/api/v1/me/coupons", headers=buyers[0]).json()
    assert [(c["code"], c["status"]) for c in mine] == [(codes[0], "expired")]
