"""Cross-tenant matrix: merchant A's staff (and an ISV without B's grant, and another
consumer) can neither read nor change merchant B's objects through any API route.

Every OpenAPI route whose path takes an id must appear in ROUTES or PUBLIC_ROUTES;
a new route without an entry fails `test_every_id_route_is_in_the_matrix`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from ccare.catalog import service as catalog_service
from ccare.catalog.models import VisitChannel
from ccare.client import CcareClient
from ccare.core.db import Base
from ccare.core.signing import (
    SignAlgorithm,
    authorization_header,
    export_public_key,
    generate_private_key,
)
from ccare.core.time import utcnow
from ccare.core.worker import InProcessTransport, drain
from ccare.ledger import service as ledger
from ccare.openplatform.schemas import SCOPES
from ccare.promotion import brand_terms
from ccare.promotion import service as promotion
from ccare.promotion.schemas import ReviewRequest
from tests.factories import (
    FACTORY_OPERATOR,
    consumer_login,
    grant,
    login,
    make_consumer,
    make_isv,
    make_item,
    make_merchant,
    make_mini_program,
    make_staff,
    make_store,
)

APP_KEY = generate_private_key(SignAlgorithm.ED25519)
APP_PUBLIC = export_public_key(APP_KEY.public_key())
ATTACKER_KEY = export_public_key(generate_private_key(SignAlgorithm.ED25519).public_key())
# Rows that legitimately change while attackers only fail: their sign-in sessions.
VOLATILE_TABLES = {"auth_sessions"}


@dataclass(frozen=True)
class Probe:
    method: str
    path: str  # a template filled from the world fixture's ids
    body: dict[str, Any] | None = None
    money: bool = False  # needs an Idempotency-Key


ROUTES: list[Probe] = [
    Probe("GET", "/api/v1/merchants/{merchant_id}"),
    Probe("PATCH", "/api/v1/merchants/{merchant_id}", {"status": "suspended"}),
    Probe("GET", "/api/v1/merchants/{merchant_id}/stores"),
    Probe(
        "POST",
        "/api/v1/merchants/{merchant_id}/stores",
        {"name": "X", "city": "Hangzhou", "address": "1 Road"},
    ),
    Probe("GET", "/api/v1/stores/{store_id}"),
    Probe("PATCH", "/api/v1/stores/{store_id}", {"status": "closed"}),
    Probe("GET", "/api/v1/merchants/{merchant_id}/staff"),
    Probe(
        "POST",
        "/api/v1/merchants/{merchant_id}/staff",
        {"name": "Mole", "email": "mole@x.test", "password": "mole-pass-1", "role": "owner"},
    ),
    Probe("PATCH", "/api/v1/staff/{staff_id}", {"active": False}),
    Probe("GET", "/api/v1/mini-programs/{mini_program_id}"),
    Probe("PATCH", "/api/v1/mini-programs/{mini_program_id}", {"status": "offline"}),
    Probe("GET", "/api/v1/mini-programs/{mini_program_id}/items"),
    Probe(
        "POST", "/api/v1/mini-programs/{mini_program_id}/items", {"name": "Fake", "price_fen": 1}
    ),
    Probe("GET", "/api/v1/items/{item_id}"),
    Probe("PATCH", "/api/v1/items/{item_id}", {"price_fen": 1}),
    Probe("GET", "/api/v1/merchants/{merchant_id}/balance"),
    Probe("GET", "/api/v1/orders/{order_id}"),
    Probe("POST", "/api/v1/orders/{order_id}/close"),
    Probe("POST", "/api/v1/orders/{order_id}/pay", money=True),
    Probe("GET", "/api/v1/orders/{order_id}/refunds"),
    Probe(
        "POST",
        "/api/v1/orders/{order_id}/refunds",
        {"amount_fen": 100, "out_request_no": "steal-1"},
        money=True,
    ),
    Probe("POST", "/api/v1/isv-grants/{grant_id}/revoke"),
    Probe("GET", "/api/v1/apps/{app_id}"),
    Probe("PATCH", "/api/v1/apps/{app_id}", {"status": "disabled"}),
    Probe("GET", "/api/v1/apps/{app_id}/keys"),
    Probe("POST", "/api/v1/apps/{app_id}/keys", {"public_key": ATTACKER_KEY}),
    Probe("POST", "/api/v1/apps/{app_id}/keys/{key_id}/revoke"),
    Probe("GET", "/api/v1/apps/{app_id}/webhooks"),
    Probe(
        "POST",
        "/api/v1/apps/{app_id}/webhooks",
        {"url": "https://attacker.example/", "event_types": ["order.paid"]},
    ),
    Probe("GET", "/api/v1/apps/{app_id}/webhooks/{webhook_id}"),
    Probe(
        "PATCH",
        "/api/v1/apps/{app_id}/webhooks/{webhook_id}",
        {"url": "https://attacker.example/"},
    ),
    Probe("DELETE", "/api/v1/apps/{app_id}/webhooks/{webhook_id}"),
    Probe("GET", "/api/v1/apps/{app_id}/deliveries"),
    Probe("GET", "/api/v1/apps/{app_id}/deliveries/{delivery_id}"),
    Probe("POST", "/api/v1/apps/{app_id}/deliveries/{delivery_id}/retry"),
    Probe("GET", "/api/v1/coupon-activities/{activity_id}"),
    Probe("GET", "/api/v1/coupon-activities/{activity_id}/history"),
    Probe("GET", "/api/v1/coupon-activities/{activity_id}/coupons"),
    Probe("GET", "/api/v1/coupon-activities/{activity_id}/risk"),
    Probe("GET", "/api/v1/coupon-activities/{activity_id}/qr.svg"),
    Probe(
        "POST",
        "/api/v1/coupon-activities/{activity_id}/use",
        {"voucher_code": "0000000000000000", "out_biz_no": "hijack", "total_fee_fen": 10000},
    ),
    Probe(
        "POST",
        "/api/v1/coupon-activities/{activity_id}/unuse",
        {"voucher_code": "0000000000000000", "out_biz_no": "hijack"},
    ),
    Probe("PATCH", "/api/v1/coupon-activities/{activity_id}", {"name": "Hijack"}),
    Probe("POST", "/api/v1/coupon-activities/{activity_id}/status", {"status": "stopped"}),
    Probe(
        "POST",
        "/api/v1/coupon-activities/{activity_id}/append",
        {"add": 100, "out_request_no": "hijack"},
    ),
    Probe("POST", "/api/v1/coupon-activities/{activity_id}/codes", {"codes": ["HIJACK1"]}),
    Probe(
        "POST",
        "/api/v1/coupon-activities/{activity_id}/send",
        {"consumer_id": "{consumer_id}", "channel": "message", "claim_key": "hijack"},
    ),
    # Consumers claim from any merchant's active activity; staff and apps cannot claim.
    Probe(
        "POST",
        "/api/v1/coupon-activities/{activity_id}/claim",
        {"channel": "coupon_venue", "claim_key": "hijack"},
    ),
    Probe("GET", "/api/v1/customer-profiles/{consumer_id}"),
    Probe("GET", "/api/v1/mini-programs/{mini_program_id}/favorite-settings"),
    Probe(
        "PUT",
        "/api/v1/mini-programs/{mini_program_id}/favorite-settings",
        {"gift_activity_id": "{activity_id}"},
    ),
    Probe("GET", "/api/v1/mini-programs/{mini_program_id}/favorites"),
    # Consumers claim a benefit of a mini-program they favorite; staff and apps cannot.
    Probe(
        "POST",
        "/api/v1/me/favorites/{mini_program_id}/benefits/{activity_id}/claim",
        {"claim_key": "hijack"},
    ),
    Probe("GET", "/api/v1/segments/{segment_id}"),
    Probe("PATCH", "/api/v1/segments/{segment_id}", {"name": "Stolen"}),
    Probe("DELETE", "/api/v1/segments/{segment_id}"),
    Probe("POST", "/api/v1/segments/{segment_id}/refresh"),
    Probe("GET", "/api/v1/segments/{segment_id}/sizes"),
    Probe("GET", "/api/v1/segments/{segment_id}/members"),
    Probe("GET", "/api/v1/segments/{segment_id}/members.csv"),
    Probe("GET", "/api/v1/campaigns/{campaign_id}"),
    Probe("POST", "/api/v1/campaigns/{campaign_id}/start"),
    Probe("POST", "/api/v1/campaigns/{campaign_id}/cancel"),
    Probe("GET", "/api/v1/campaigns/{campaign_id}/results"),
    Probe("GET", "/api/v1/campaigns/{campaign_id}/rounds"),
    Probe("GET", "/api/v1/campaigns/{campaign_id}/members"),
    Probe("GET", "/api/v1/ad-plans/{plan_id}"),
    Probe("PATCH", "/api/v1/ad-plans/{plan_id}", {"status": "paused"}),
    Probe("GET", "/api/v1/ad-plans/{plan_id}/groups"),
    Probe("GET", "/api/v1/ad-groups/{group_id}"),
    Probe("PATCH", "/api/v1/ad-groups/{group_id}", {"bid_fen": 99}),
    Probe("GET", "/api/v1/ad-creatives/{creative_id}"),
    Probe("POST", "/api/v1/ad-creatives/{creative_id}/review", {"decision": "approved"}),
    Probe("GET", "/api/v1/star-point-grants/{grant_id}"),
    Probe("DELETE", "/api/v1/ad-reserved-terms/{term_id}"),
    Probe("GET", "/api/v1/brand-bookings/{booking_id}"),
    Probe("GET", "/api/v1/brand-bookings/{booking_id}/delivery"),
    Probe("POST", "/api/v1/brand-bookings/{booking_id}/cancel", money=True),
    Probe("GET", "/api/v1/message-templates/{template_id}"),
    Probe("PATCH", "/api/v1/message-templates/{template_id}", {"name": "Stolen"}),
    Probe("POST", "/api/v1/message-templates/{template_id}/archive"),
    Probe("GET", "/api/v1/message-templates/{template_id}/refusals"),
    Probe(
        "POST",
        "/api/v1/message-templates/{template_id}/send",
        {"consumer_id": "{consumer_id}", "variables": {"name": "x"}, "out_request_no": "hijack"},
    ),
    Probe("GET", "/api/v1/messages/{message_id}"),
    Probe("GET", "/api/v1/message-broadcasts/{broadcast_id}"),
    Probe("POST", "/api/v1/message-broadcasts/{broadcast_id}/start"),
    Probe("GET", "/api/v1/message-broadcasts/{broadcast_id}/report"),
    # Operator-only routes: a merchant's staff is refused before any lookup.
    Probe("GET", "/api/v1/consumers/{consumer_id}"),
]
# Id routes that are public or not tenant-owned, and why.
PUBLIC_ROUTES = {
    ("GET", "/api/v1/public/mini-programs/{mini_program_id}"): "storefront is public by design",
    ("GET", "/api/v1/isvs/{isv_id}"): "ISV directory merchants choose from; ISVs see only "
    "themselves (test_isv_cannot_look_up_another_isv)",
    ("GET", "/api/v1/coupon-passphrases/{passphrase}"): "a passphrase is published to be "
    "searched; it shows only what the coupon venue shows",
    ("GET", "/api/v1/me/favorites/{mini_program_id}"): "a consumer's own favorite of a public "
    "mini-program; staff and apps get auth.consumer_only",
    ("PUT", "/api/v1/me/favorites/{mini_program_id}"): "a consumer's own favorite of a public "
    "mini-program; staff and apps get auth.consumer_only",
    ("DELETE", "/api/v1/me/favorites/{mini_program_id}"): "a consumer's own favorite of a public "
    "mini-program; staff and apps get auth.consumer_only",
    ("POST", "/api/v1/me/messages/{message_id}/open"): "a consumer's own inbox row; other "
    "consumers get 404 (tests/messages/test_api.py)",
    ("POST", "/api/v1/me/messages/{message_id}/click"): "a consumer's own inbox row; other "
    "consumers get 404 (tests/messages/test_api.py)",
    ("POST", "/api/v1/me/message-consents/{consent_id}/revoke"): "a consumer's own consent; "
    "other consumers get 404 (tests/messages/test_api.py)",
}
# Routes that take a merchant in the body rather than the path.
BODY_ROUTES: list[Probe] = [
    Probe("GET", "/api/v1/ad-reports?merchant_id={merchant_id}"),
    Probe("GET", "/api/v1/ad-reports?plan_id={plan_id}"),
    Probe("GET", "/api/v1/ad-reports?group_id={group_id}"),
    Probe("GET", "/api/v1/ad-reports.csv?merchant_id={merchant_id}"),
    Probe("GET", "/api/v1/ad-reports.csv?plan_id={plan_id}"),
    Probe("GET", "/api/v1/ad-account?merchant_id={merchant_id}"),
    Probe(
        "POST",
        "/api/v1/ad-account/top-ups",
        {"merchant_id": "{merchant_id}", "amount_fen": 1, "source": "settlement"},
        money=True,
    ),
    Probe("GET", "/api/v1/star-points/balance?merchant_id={merchant_id}"),
    Probe("GET", "/api/v1/star-points/entries?merchant_id={merchant_id}"),
    Probe("GET", "/api/v1/star-points/grants?merchant_id={merchant_id}"),
    Probe(
        "POST",
        "/api/v1/star-points/redemptions",
        {
            "merchant_id": "{merchant_id}",
            "ad_group_id": "{group_id}",
            "points": 1,
            "out_request_no": "hijack",
        },
    ),
    Probe(
        "POST",
        "/api/v1/brand-bookings",
        {
            "merchant_id": "{merchant_id}",
            "out_request_no": "hijack",
            "placement": "five_blessings",
            "creative_id": "{creative_id}",
            "start_day": "2099-01-01",
            "end_day": "2099-01-02",
            "guaranteed": 1000,
        },
        money=True,
    ),
    Probe(
        "POST",
        "/api/v1/mini-programs",
        {"merchant_id": "{merchant_id}", "name": "Hijack", "category": "x"},
    ),
    Probe(
        "POST",
        "/api/v1/coupon-activities",
        {
            "merchant_id": "{merchant_id}",
            "out_biz_no": "hijack",
            "name": "Hijack",
            "kind": "fixed",
            "amount_fen": 100,
            "quantity": 1,
            "claim_begin": "2026-01-01T00:00:00+08:00",
            "claim_end": "2099-01-01T00:00:00+08:00",
            "validity": {"days_after_claim": 1},
        },
    ),
    Probe("PUT", "/api/v1/coupon-settings", {"merchant_id": "{merchant_id}", "strictness": "off"}),
    Probe(
        "POST",
        "/api/v1/message-templates",
        {
            "merchant_id": "{merchant_id}",
            "name": "Hijack",
            "category": "service",
            "title": "t",
            "body": "b",
        },
    ),
    Probe("GET", "/api/v1/message-funnel?merchant_id={merchant_id}"),
    Probe("GET", "/api/v1/customer-profiles?merchant_id={merchant_id}"),
    Probe("GET", "/api/v1/customer-profiles/rfm?merchant_id={merchant_id}"),
    Probe(
        "POST",
        "/api/v1/customer-events",
        {
            "merchant_id": "{merchant_id}",
            "events": [
                {
                    "event_id": "hijack",
                    "consumer_id": 1,
                    "name": "visit",
                    "occurred_at": "2026-11-24T08:00:00+08:00",
                }
            ],
        },
    ),
]


@pytest.fixture
def world(client, db):  # type: ignore[no-untyped-def]
    a = make_merchant(db, name="Merchant A")
    b = make_merchant(db, name="Merchant B")
    b_clerk = make_staff(db, b.merchant_id, role="clerk")
    mp = make_mini_program(db, b.merchant_id)
    item = make_item(db, b.merchant_id, mp, price_fen=2500, stock=10)
    b_open_mp = make_mini_program(db, b.merchant_id, name="Second")
    buyer = make_consumer(db)
    other_consumer = make_consumer(db)
    isv_b = make_isv(db, name="ISV of B")
    isv_a = make_isv(db, name="ISV of A")
    grant_b = grant(db, b.merchant_id, isv_b.isv_id)
    grant(db, a.merchant_id, isv_a.isv_id)

    buyer_h = consumer_login(client, buyer)
    r = client.post(
        "/api/v1/wallet/top-ups",
        json={"amount_fen": 10_000},
        headers={**buyer_h, "Idempotency-Key": "t1"},
    )
    assert r.status_code in (200, 201), r.text
    order = _order(client, buyer_h, mp, item, "o1")
    assert (
        client.post(
            f"/api/v1/orders/{order}/pay", headers={**buyer_h, "Idempotency-Key": "p1"}
        ).status_code
        == 200
    )
    unpaid = _order(client, buyer_h, mp, item, "o2")
    b_owner = login(client, b.owner_email, b.password)
    app_key = export_public_key(generate_private_key(SignAlgorithm.ED25519).public_key())
    r = client.post(
        "/api/v1/apps", json={"name": "B's till", "public_key": app_key}, headers=b_owner
    )
    assert r.status_code == 201, r.text
    app_id = r.json()["app_id"]
    key_id = client.get(f"/api/v1/apps/{app_id}/keys", headers=b_owner).json()[0]["id"]
    r = client.post(
        f"/api/v1/apps/{app_id}/webhooks",
        json={"url": "https://b.example/notify", "event_types": ["order.paid"]},
        headers=b_owner,
    )
    assert r.status_code == 201, r.text
    webhook_id = r.json()["id"]
    # The paid order becomes a delivery to B's app, and B's customer in analytics.
    drain(db, InProcessTransport(db, client.app.state.platform.analytics))
    r = client.get(f"/api/v1/apps/{app_id}/deliveries", headers=b_owner)
    [delivery] = r.json()["items"]
    r = client.post(
        "/api/v1/coupon-activities",
        json={
            "out_biz_no": "b-spring",
            "name": "B's coupon",
            "kind": "fixed",
            "amount_fen": 500,
            "quantity": 10,
            "claim_begin": "2026-01-01T00:00:00+08:00",
            "claim_end": "2099-01-01T00:00:00+08:00",
            "validity": {"days_after_claim": 7},
            "activate": True,
        },
        headers=b_owner,
    )
    assert r.status_code == 201, r.text
    activity_id = r.json()["id"]
    r = client.post(
        "/api/v1/segments",
        json={"name": "B's buyers", "rule": {"event": {"type": "order.paid"}}},
        headers=b_owner,
    )
    assert r.status_code == 201, r.text
    segment_id = r.json()["id"]
    r = client.post(
        "/api/v1/message-templates",
        json={"name": "B's notice", "category": "service", "title": "Hi {name}", "body": "Ready"},
        headers=b_owner,
    )
    assert r.status_code == 201, r.text
    message_template_id = r.json()["id"]
    r = client.post(
        "/api/v1/me/message-consents",
        json={"template_id": message_template_id, "kind": "long_term"},
        headers=buyer_h,
    )
    assert r.status_code == 201, r.text
    r = client.post(
        f"/api/v1/message-templates/{message_template_id}/send",
        json={"consumer_id": buyer, "variables": {"name": "B"}, "out_request_no": "m1"},
        headers=b_owner,
    )
    assert r.status_code == 200, r.text
    message_id = r.json()["id"]
    r = client.post(
        "/api/v1/message-broadcasts",
        json={
            "template_id": message_template_id,
            "variables": {"name": "all"},
            "recipients": {"kind": "consumers", "consumer_ids": [buyer]},
            "out_request_no": "bc1",
        },
        headers=b_owner,
    )
    assert r.status_code == 201, r.text
    message_broadcast_id = r.json()["id"]
    r = client.post(
        "/api/v1/campaigns",
        json={
            "name": "B's campaign",
            "out_request_no": "camp1",
            "segment_id": segment_id,
            "activity_id": activity_id,
        },
        headers=b_owner,
    )
    assert r.status_code == 201, r.text
    campaign_id = r.json()["id"]
    r = client.post(
        "/api/v1/ad-plans",
        json={
            "out_request_no": "plan1",
            "name": "B's plan",
            "objective": "transactions",
            "daily_budget_fen": 10_000,
        },
        headers=b_owner,
    )
    assert r.status_code == 201, r.text
    plan_id = r.json()["id"]
    r = client.post(
        "/api/v1/ad-groups",
        json={
            "plan_id": plan_id,
            "name": "B's group",
            "bid_fen": 50,
            "targeting": {"placements": ["home_feed"]},
        },
        headers=b_owner,
    )
    assert r.status_code == 201, r.text
    group_id = r.json()["id"]
    r = client.post(
        "/api/v1/ad-creatives",
        json={
            "group_id": group_id,
            "title": "B's ad",
            "mini_program_id": b_open_mp,
            "page": "pages/index/index",
        },
        headers=b_owner,
    )
    assert r.status_code == 201, r.text
    creative_id = r.json()["id"]
    with db.transaction() as s:
        promotion.review_creative(
            s, FACTORY_OPERATOR, creative_id, ReviewRequest(decision="approved")
        )
        ledger.fund_advertiser(s, b.merchant_id, 100_000, "matrix-ads", from_settlement=False)
        catalog_service.record_visit(s, buyer, b_open_mp, VisitChannel.OFFLINE_QR)
    drain(db, InProcessTransport(db, client.app.state.platform.analytics))
    r = client.post(
        "/api/v1/star-points/redemptions",
        json={"ad_group_id": group_id, "points": 100, "out_request_no": "sp1"},
        headers=b_owner,
    )
    assert r.status_code == 201, r.text
    star_point_grant_id = r.json()["id"]
    day = ((utcnow() + timedelta(hours=8)).date() + timedelta(days=1)).isoformat()
    r = client.post(
        "/api/v1/brand-bookings",
        json={
            "out_request_no": "bb1",
            "placement": "five_blessings",
            "creative_id": creative_id,
            "start_day": day,
            "end_day": day,
            "guaranteed": 1000,
        },
        headers={**b_owner, "Idempotency-Key": "bb1"},
    )
    assert r.status_code == 201, r.text
    booking_id = r.json()["id"]
    with db.transaction() as s:
        term_id = brand_terms.reserve(s, FACTORY_OPERATOR, "品牌乙", b.merchant_id)[0].id
    ids = {
        "merchant_id": b.merchant_id,
        "store_id": make_store(db, b.merchant_id),
        "staff_id": b_clerk.staff_id,
        "mini_program_id": b_open_mp,
        "item_id": item,
        "order_id": order,
        "unpaid_order_id": unpaid,
        "grant_id": grant_b,
        "consumer_id": buyer,
        "isv_id": isv_b.isv_id,
        "app_id": app_id,
        "key_id": key_id,
        "webhook_id": webhook_id,
        "delivery_id": delivery["id"],
        "activity_id": activity_id,
        "segment_id": segment_id,
        "template_id": message_template_id,
        "message_id": message_id,
        "broadcast_id": message_broadcast_id,
        "campaign_id": campaign_id,
        "plan_id": plan_id,
        "group_id": group_id,
        "creative_id": creative_id,
        "star_point_grant_id": star_point_grant_id,
        "booking_id": booking_id,
        "term_id": term_id,
    }
    a_owner = login(client, a.owner_email, a.password)
    return {
        "ids": ids,
        "b_owner": b_owner,
        "a_owner": a_owner,
        "isv_a_app": _isv_app_of(client, login(client, isv_a.email, isv_a.password), a_owner),
        "isv_b": login(client, isv_b.email, isv_b.password),
        "isv_a": login(client, isv_a.email, isv_a.password),
        "buyer": buyer_h,
        "other_consumer": consumer_login(client, other_consumer),
    }


@dataclass(frozen=True)
class SignedApp:
    """An ISV's app with every scope, acting for merchant A through A's app auth token."""

    app_id: str
    token: str


def _isv_app_of(client, isv_staff, merchant_owner) -> SignedApp:  # type: ignore[no-untyped-def]
    r = client.post(
        "/api/v1/apps",
        json={"name": "ISV A's app", "scopes": list(SCOPES), "public_key": APP_PUBLIC},
        headers=isv_staff,
    )
    assert r.status_code == 201, r.text
    app_id = r.json()["app_id"]
    r = client.post("/api/v1/app-authorizations", json={"app_id": app_id}, headers=merchant_owner)
    assert r.status_code == 201, r.text
    api = CcareClient(app_id=app_id, private_key=APP_KEY, http=client)
    token = api.post(
        "/api/v1/app-auth/token",
        {"grant_type": "authorization_code", "code": r.json()["app_auth_code"]},
    )["app_auth_token"]
    return SignedApp(app_id, token)


def _order(client, headers, mp: int, item: int, key: str) -> int:  # type: ignore[no-untyped-def]
    body = {"mini_program_id": mp, "lines": [{"item_id": item, "quantity": 1}]}
    r = client.post("/api/v1/orders", json=body, headers={**headers, "Idempotency-Key": key})
    assert r.status_code in (200, 201), r.text
    return int(r.json()["id"])


def _fill(probe: Probe, ids: dict[str, int]) -> tuple[str, dict[str, Any] | None]:
    # Writes to an order use the unpaid one where paying/closing would otherwise be legal.
    order_id = (
        ids["unpaid_order_id"] if probe.path.endswith(("/pay", "/close")) else ids["order_id"]
    )
    grant_id = (
        ids["star_point_grant_id"]
        if probe.path.startswith("/api/v1/star-point-grants/")
        else ids["grant_id"]
    )
    path = probe.path.format(**{**ids, "order_id": order_id, "grant_id": grant_id})
    body = None
    if probe.body is not None:
        body = {
            k: (ids[v[1:-1]] if isinstance(v, str) and v.startswith("{") else v)
            for k, v in probe.body.items()
        }
    return path, body


def _call(client, probe: Probe, headers, ids):  # type: ignore[no-untyped-def]
    path, body = _fill(probe, ids)
    if isinstance(headers, SignedApp):
        content = b"" if body is None else json.dumps(body).encode()
        headers = {
            "Authorization": authorization_header(
                headers.app_id, APP_KEY, probe.method, path, content, headers.token
            ),
            "ccare-app-auth-token": headers.token,
            "content-type": "application/json",
        }
        h = {**headers, "Idempotency-Key": "attack"} if probe.money else headers
        return client.request(probe.method, path, content=content or None, headers=h)
    h = {**headers, "Idempotency-Key": "attack"} if probe.money else headers
    return client.request(probe.method, path, json=body, headers=h)


def _snapshot(db) -> dict[str, list[tuple[Any, ...]]]:  # type: ignore[no-untyped-def]
    with db.transaction() as s:
        return {
            t.name: sorted(map(tuple, s.execute(select(t)).all()), key=repr)
            for t in Base.metadata.sorted_tables
            if t.name not in VOLATILE_TABLES
        }


def _operator_only(probe: Probe) -> bool:
    return (
        probe.path.startswith("/api/v1/consumers/")
        or (probe.method == "PATCH" and probe.path == "/api/v1/merchants/{merchant_id}")
        or probe.path.endswith("/review")
        or probe.path.startswith("/api/v1/ad-reserved-terms/")
    )


def _consumer_only(probe: Probe) -> bool:
    return probe.path.endswith(("/pay", "/claim"))


@pytest.mark.parametrize("attacker", ["a_owner", "isv_a", "isv_a_app"])
def test_other_merchants_staff_cannot_read_or_change_b(client, db, world, attacker) -> None:  # type: ignore[no-untyped-def]
    before = _snapshot(db)
    for probe in ROUTES + BODY_ROUTES:
        r = _call(client, probe, world[attacker], world["ids"])
        if attacker == "isv_a_app" and probe.path.startswith("/api/v1/consumers/"):
            expected = (403, "app.scope_missing")  # no app scope reaches consumers
        elif _operator_only(probe):
            expected = (403, "auth.operator_only")
        elif _consumer_only(probe):
            expected = (403, "auth.consumer_only")
        else:
            expected = (404, r.json().get("code", ""))
        assert (r.status_code, r.json().get("code")) == expected, (attacker, probe, r.text)
        if expected[0] == 404:
            assert r.json()["code"].endswith("not_found"), (probe, r.text)
    assert _snapshot(db) == before


def test_isv_cannot_look_up_another_isv(client, world) -> None:  # type: ignore[no-untyped-def]
    r = client.get(f"/api/v1/isvs/{world['ids']['isv_id']}", headers=world["isv_a"])
    assert (r.status_code, r.json()["code"]) == (404, "isv.not_found")


def test_matrix_paths_are_real_for_the_owner(client, world) -> None:  # type: ignore[no-untyped-def]
    """Positive control: the same reads succeed for B's owner and B's granted ISV."""
    for who in ("b_owner", "isv_b"):
        for probe in ROUTES:
            if probe.method != "GET" or _operator_only(probe):
                continue
            if who == "isv_b" and probe.path.startswith("/api/v1/apps/"):
                continue  # a merchant's developer apps are its own, not its ISVs'

            r = _call(client, probe, world[who], world["ids"])
            assert r.status_code == 200, (who, probe, r.text)


def test_revoked_isv_loses_access_at_once(client, world) -> None:  # type: ignore[no-untyped-def]
    order = world["ids"]["order_id"]
    assert client.get(f"/api/v1/orders/{order}", headers=world["isv_b"]).status_code == 200
    r = client.post(
        f"/api/v1/isv-grants/{world['ids']['grant_id']}/revoke", headers=world["b_owner"]
    )
    assert r.status_code == 200, r.text
    r = client.get(f"/api/v1/orders/{order}", headers=world["isv_b"])
    assert (r.status_code, r.json()["code"]) == (404, "order.not_found")


def test_consumer_cannot_touch_another_consumers_order(client, db, world) -> None:  # type: ignore[no-untyped-def]
    before = _snapshot(db)
    ids, h = world["ids"], world["other_consumer"]
    for method, path in [
        ("GET", f"/api/v1/orders/{ids['order_id']}"),
        ("POST", f"/api/v1/orders/{ids['unpaid_order_id']}/pay"),
        ("POST", f"/api/v1/orders/{ids['unpaid_order_id']}/close"),
        ("GET", f"/api/v1/orders/{ids['order_id']}/refunds"),
    ]:
        r = client.request(method, path, headers={**h, "Idempotency-Key": "x"})
        assert (r.status_code, r.json()["code"]) == (404, "order.not_found"), (path, r.text)
    r = client.get("/api/v1/orders", headers=h)
    assert r.json()["items"] == []
    assert _snapshot(db) == before


def test_listings_only_show_own_tenant(client, world) -> None:  # type: ignore[no-untyped-def]
    a = world["a_owner"]
    b_id = world["ids"]["merchant_id"]
    assert [m["id"] for m in client.get("/api/v1/merchants", headers=a).json()] != []
    assert b_id not in [m["id"] for m in client.get("/api/v1/merchants", headers=a).json()]
    assert client.get("/api/v1/orders", headers=a).json()["items"] == []
    assert client.get("/api/v1/mini-programs", headers=a).json() == []
    assert client.get("/api/v1/coupon-activities", headers=a).json() == []
    assert all(g["merchant_id"] != b_id for g in client.get("/api/v1/isv-grants", headers=a).json())


def test_every_id_route_is_in_the_matrix(client) -> None:  # type: ignore[no-untyped-def]
    covered = {(p.method, p.path) for p in ROUTES} | set(PUBLIC_ROUTES)
    routes = {
        (method.upper(), path)
        for path, ops in client.app.openapi()["paths"].items()
        if "{" in path
        for method in ops
    }
    assert routes - covered == set(), "add these routes to the tenancy matrix"
    assert covered - routes == set(), "the matrix names routes that no longer exist"
