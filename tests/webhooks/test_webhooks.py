"""Webhooks: subscriptions, fan-out, both signed formats, the retry schedule, dead letters,
replays and who may see what. Sending goes to a real HTTP server on a local port."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from ccare.client import CcareClient
from ccare.core.db import Database
from ccare.core.events import DomainEvent
from ccare.core.outbox import OutboxEvent
from ccare.core.signing import (
    SignAlgorithm,
    authorization_header,
    export_public_key,
    generate_private_key,
    response_content,
    v1_content,
    v1_verify,
    verify,
)
from ccare.core.tenancy import SYSTEM
from ccare.core.time import beijing_text, utcnow
from ccare.core.worker import to_event
from ccare.webhooks import service, tasks
from ccare.webhooks.models import DeliveryAttempt, WebhookDelivery
from ccare.webhooks.schemas import Outcome
from tests.factories import login, make_isv, make_staff
from tests.openplatform.helpers import new_app
from tests.webhooks.helpers import (
    Receiver,
    Shop,
    consumer,
    open_shop,
    place_order,
    platform_key,
    relay,
    subscribe,
)

RSA = generate_private_key(SignAlgorithm.RSA2)
ED = generate_private_key(SignAlgorithm.ED25519)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def send(db: Database, *, lease: float = 5.0, **kwargs: Any) -> int:
    return tasks.send_due(db, lease_seconds=lease, concurrency=4, **kwargs)


def deliveries(db: Database) -> list[WebhookDelivery]:
    with db.transaction() as s:
        return list(s.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


def delivery(db: Database, delivery_id: int) -> WebhookDelivery:
    with db.transaction() as s:
        row = s.get(WebhookDelivery, delivery_id)
        assert row is not None
        return row


def attempts(db: Database, delivery_id: int) -> list[DeliveryAttempt]:
    with db.transaction() as s:
        stmt = select(DeliveryAttempt).where(DeliveryAttempt.delivery_id == delivery_id)
        return list(s.scalars(stmt.order_by(DeliveryAttempt.id)))


def app_path(shop: Shop, rest: str = "") -> str:
    return f"/api/v1/apps/{shop.app['app_id']}{rest}"


# --- the schedule and the published list ------------------------------------------------------


def test_the_retry_schedule_is_alipays_reference_schedule() -> None:
    assert service.RETRY_SCHEDULE == (240, 600, 600, 3600, 7200, 21600, 54000)
    assert service.MAX_ATTEMPTS == 8
    assert [service.retry_delay(n) for n in range(1, 9)] == [
        timedelta(minutes=4),
        timedelta(minutes=10),
        timedelta(minutes=10),
        timedelta(hours=1),
        timedelta(hours=2),
        timedelta(hours=6),
        timedelta(hours=15),
        None,
    ]
    # 8 notifications within about 25 hours: the last one 24 h 24 min after the first.
    assert timedelta(seconds=sum(service.RETRY_SCHEDULE)) == timedelta(hours=24, minutes=24)
    assert service.retry_delay(1, scale=0.001) == timedelta(milliseconds=240)


def test_the_event_types_are_published(client: TestClient) -> None:
    r = client.get("/api/v1/webhook-event-types")
    assert r.status_code == 200, r.text
    assert r.json() == [
        {
            "type": "order.created",
            "description": "An order was created and waits for payment.",
            "scope": "orders",
        },
        {"type": "order.paid", "description": "An order was paid.", "scope": "orders"},
        {
            "type": "order.closed",
            "description": "An unpaid order was closed by the buyer, the merchant or on expiry.",
            "scope": "orders",
        },
        {
            "type": "order.refunded",
            "description": "Part or all of an order was refunded.",
            "scope": "orders",
        },
        {
            "type": "coupon.claimed",
            "description": "A user claimed one of the merchant's coupons (or was sent one).",
            "scope": "coupons",
        },
        {
            "type": "coupon.used",
            "description": "A coupon was used on a paid order.",
            "scope": "coupons",
        },
        {
            "type": "coupon.expired",
            "description": "A claimed coupon reached the end of its validity unused.",
            "scope": "coupons",
        },
        {
            "type": "coupon.stock_exhausted",
            "description": "A coupon activity gave out its last coupon.",
            "scope": "coupons",
        },
        {
            "type": "favorite.added",
            "description": "A user favorited one of the merchant's mini-programs.",
            "scope": "favorites",
        },
        {
            "type": "favorite.removed",
            "description": "A user stopped favoriting one of the merchant's mini-programs.",
            "scope": "favorites",
        },
        {
            "type": "segment.refreshed",
            "description": "A customer segment's membership was computed again.",
            "scope": "segments",
        },
        {
            "type": "campaign.started",
            "description": "A campaign ran its first round.",
            "scope": "campaigns",
        },
        {
            "type": "campaign.round_done",
            "description": "A campaign chose members; its treatment arm got a message or coupon.",
            "scope": "campaigns",
        },
        {
            "type": "campaign.finished",
            "description": "A campaign finished, or was cancelled.",
            "scope": "campaigns",
        },
        {
            "type": "message.sent",
            "description": "A subscription message was sent to a user.",
            "scope": "messages",
        },
        {
            "type": "message.opened",
            "description": "A user opened a subscription message.",
            "scope": "messages",
        },
        {
            "type": "message.clicked",
            "description": "A user followed a subscription message's link.",
            "scope": "messages",
        },
        {
            "type": "message.converted",
            "description": "A user paid an order within 7 days of following a message's link.",
            "scope": "messages",
        },
        {
            "type": "openplatform.app_authorized",
            "description": "A merchant authorised this ISV app (sent to that app only).",
            "scope": None,
        },
        {
            "type": "openplatform.key_rotated",
            "description": "A new public key was registered for this app (sent to it only).",
            "scope": None,
        },
    ]
    assert "/api/v1/webhook-event-types" in client.app.openapi()["paths"]  # type: ignore[attr-defined]


# --- subscriptions ------------------------------------------------------------------------------


def test_subscriptions_are_created_listed_changed_and_deleted(
    client: TestClient, db: Database
) -> None:
    shop = open_shop(client, db, RSA)
    hook = subscribe(
        client,
        shop,
        "https://till.example/notify",
        ["order.paid", "order.created", "order.paid"],
        description="till",
    )
    assert {k: v for k, v in hook.items() if k not in ("created_at", "updated_at")} == {
        "id": hook["id"],
        "app_id": shop.app["app_id"],
        "url": "https://till.example/notify",
        "event_types": ["order.created", "order.paid"],
        "format": "json",
        "status": "active",
        "description": "till",
    }
    listed = client.get(app_path(shop, "/webhooks"), headers=shop.owner).json()
    assert [h["id"] for h in listed] == [hook["id"]]

    path = app_path(shop, f"/webhooks/{hook['id']}")
    r = client.patch(path, json={"status": "disabled"}, headers=shop.owner)
    assert (r.status_code, r.json()["status"], r.json()["url"]) == (
        200,
        "disabled",
        "https://till.example/notify",
    )
    r = client.patch(path, json={"event_types": ["order.refunded"]}, headers=shop.owner)
    assert r.json()["event_types"] == ["order.refunded"]
    assert client.get(path, headers=shop.owner).json()["event_types"] == ["order.refunded"]

    assert client.delete(path, headers=shop.owner).status_code == 204
    r = client.get(path, headers=shop.owner)
    assert (r.status_code, r.json()["code"]) == (404, "webhook.not_found")
    assert client.get(app_path(shop, "/webhooks"), headers=shop.owner).json() == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://till.example/x", "event_types": ["order.paid"]}, "url"),
        ({"url": "https://till.example/x", "event_types": ["order.shipped"]}, "event_types"),
        ({"url": "https://till.example/x", "event_types": []}, "event_types"),
        (
            {"url": "https://till.example/x", "event_types": ["order.paid"], "format": "xml"},
            "format",
        ),
    ],
)
def test_bad_subscriptions_are_refused(
    client: TestClient, db: Database, body: dict[str, Any], field: str
) -> None:
    shop = open_shop(client, db, RSA)
    r = client.post(app_path(shop, "/webhooks"), json=body, headers=shop.owner)
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "invalid_request"
    assert field in r.text


def test_order_events_need_the_orders_scope(client: TestClient, db: Database) -> None:
    shop = open_shop(client, db, RSA, scopes=("catalog", "webhooks"))
    r = client.post(
        app_path(shop, "/webhooks"),
        json={"url": "https://till.example/x", "event_types": ["order.paid"]},
        headers=shop.owner,
    )
    assert (r.status_code, r.json()["code"], r.json()["details"]) == (
        422,
        "webhook.scope_missing",
        {"scopes": ["orders"]},
    )


def test_an_app_has_at_most_twenty_webhooks(client: TestClient, db: Database) -> None:
    shop = open_shop(client, db, RSA)
    for n in range(20):
        subscribe(client, shop, f"https://till.example/{n}", ["order.paid"])
    r = client.post(
        app_path(shop, "/webhooks"),
        json={"url": "https://till.example/20", "event_types": ["order.paid"]},
        headers=shop.owner,
    )
    assert (r.status_code, r.json()["code"], r.json()["details"]) == (
        409,
        "webhook.limit_reached",
        {"limit": 20},
    )


def test_clerks_read_but_do_not_change_webhooks(client: TestClient, db: Database) -> None:
    shop = open_shop(client, db, RSA)
    hook = subscribe(client, shop, "https://till.example/x", ["order.paid"])
    clerk = make_staff(db, shop.merchant.merchant_id, role="clerk")
    h = login(client, clerk.email, clerk.password)
    assert client.get(app_path(shop, "/webhooks"), headers=h).status_code == 200
    for method, path, body in [
        ("POST", "/webhooks", {"url": "https://x.example/", "event_types": ["order.paid"]}),
        ("PATCH", f"/webhooks/{hook['id']}", {"status": "disabled"}),
        ("DELETE", f"/webhooks/{hook['id']}", None),
    ]:
        r = client.request(method, app_path(shop, path), json=body, headers=h)
        assert (r.status_code, r.json()["code"]) == (403, "staff.role_forbidden"), path


# --- fan-out ------------------------------------------------------------------------------------


def test_an_event_reaches_each_matching_subscription_once(
    client: TestClient, db: Database, receiver: Receiver
) -> None:
    shop = open_shop(client, db, RSA)
    paid = subscribe(client, shop, receiver.url("/paid"), ["order.paid", "order.created"])
    subscribe(client, shop, receiver.url("/refunds"), ["order.refunded"])
    off = subscribe(client, shop, receiver.url("/off"), ["order.paid"])
    client.patch(
        app_path(shop, f"/webhooks/{off['id']}"), json={"status": "disabled"}, headers=shop.owner
    )
    second = new_app(client, shop.owner, None, scopes=("orders", "webhooks"), name="Second")
    r = client.post(
        f"/api/v1/apps/{second['app_id']}/webhooks",
        json={"url": receiver.url("/second"), "event_types": ["order.paid"]},
        headers=shop.owner,
    )
    assert r.status_code == 201, r.text
    disabled = new_app(client, shop.owner, None, scopes=("orders", "webhooks"), name="Gone")
    client.post(
        f"/api/v1/apps/{disabled['app_id']}/webhooks",
        json={"url": receiver.url("/gone"), "event_types": ["order.paid"]},
        headers=shop.owner,
    )
    client.patch(
        f"/api/v1/apps/{disabled['app_id']}", json={"status": "disabled"}, headers=shop.owner
    )
    other = open_shop(client, db, RSA, name="Other")
    subscribe(client, other, receiver.url("/other"), ["order.paid"])

    place_order(db, shop)
    relay(db)
    relay(db)  # nothing is relayed twice, and a second relay makes no second row

    got = sorted((d.url.rsplit("/", 1)[1], d.event_type, d.subscription_id) for d in deliveries(db))
    assert got == [
        ("paid", "order.created", paid["id"]),
        ("paid", "order.paid", paid["id"]),
        ("second", "order.paid", r.json()["id"]),
    ]


def test_an_isv_app_hears_of_its_authorisation_and_then_of_the_merchants_orders(
    client: TestClient, db: Database, receiver: Receiver
) -> None:
    shop = open_shop(client, db, RSA)
    subscribe(client, shop, receiver.url("/own"), ["openplatform.app_authorized", "order.paid"])
    isv = make_isv(db)
    isv_h = login(client, isv.email, isv.password)
    isv_key = generate_private_key(SignAlgorithm.RSA2)
    isv_app = new_app(client, isv_h, isv_key, scopes=("orders", "webhooks"), name="ISV till")
    r = client.post(
        f"/api/v1/apps/{isv_app['app_id']}/webhooks",
        json={
            "url": receiver.url("/isv"),
            "event_types": ["openplatform.app_authorized", "order.paid"],
        },
        headers=isv_h,
    )
    assert r.status_code == 201, r.text
    r = client.post(
        "/api/v1/app-authorizations", json={"app_id": isv_app["app_id"]}, headers=shop.owner
    )
    assert r.status_code == 201, r.text
    code = r.json()["app_auth_code"]
    relay(db)
    assert [(d.app_id, d.event_type) for d in deliveries(db)] == [
        (isv_app["app_id"], "openplatform.app_authorized")
    ]

    # Until the ISV holds a token it does not act for the merchant.
    api = CcareClient(
        app_id=isv_app["app_id"],
        private_key=isv_key,
        platform_public_key=export_public_key(platform_key(client), "spki"),
        http=client,
    )
    api.post("/api/v1/app-auth/token", json={"grant_type": "authorization_code", "code": code})
    place_order(db, shop)
    relay(db)
    paid = [(d.app_id, d.url) for d in deliveries(db) if d.event_type == "order.paid"]
    assert sorted(paid) == sorted(
        [(shop.app["app_id"], receiver.url("/own")), (isv_app["app_id"], receiver.url("/isv"))]
    )


# --- sending: the JSON format -----------------------------------------------------------------


def test_a_paid_order_reaches_the_webhook_signed_by_the_platform(
    client: TestClient, db: Database, receiver: Receiver
) -> None:
    shop = open_shop(client, db, RSA)
    hook = subscribe(client, shop, receiver.url(), ["order.paid"])
    order_id = place_order(db, shop)
    relay(db)
    [row] = deliveries(db)
    assert (row.status, row.event_type, row.format, row.url, row.attempts) == (
        "pending",
        "order.paid",
        "json",
        receiver.url(),
        0,
    )
    assert (row.app_id, row.subscription_id, row.merchant_id) == (
        shop.app["app_id"],
        hook["id"],
        shop.merchant.merchant_id,
    )

    assert send(db) == 1
    [got] = receiver.requests
    h = got.headers
    assert h["content-type"] == "application/json; charset=utf-8"
    assert (h["ccare-notify-id"], h["ccare-sign-type"]) == (row.notify_id, "RSA2")
    signed = response_content(h["ccare-timestamp"], h["ccare-nonce"], got.body)
    assert verify(platform_key(client), signed, h["ccare-signature"])
    tampered = response_content(h["ccare-timestamp"], h["ccare-nonce"], got.body + b" ")
    assert not verify(platform_key(client), tampered, h["ccare-signature"])
    body = json.loads(got.body)
    assert sorted(body) == ["app_id", "created_at", "data", "id", "merchant_id", "type"]
    assert (body["id"], body["type"], body["app_id"], body["merchant_id"]) == (
        row.notify_id,
        "order.paid",
        shop.app["app_id"],
        shop.merchant.merchant_id,
    )
    assert (body["data"]["order_id"], body["data"]["amount"], body["data"]["items"]) == (
        order_id,
        8888,
        [{"item_id": shop.item_id, "quantity": 1}],
    )

    r = client.get(app_path(shop, f"/deliveries/{row.id}"), headers=shop.owner)
    assert r.status_code == 200, r.text
    detail = r.json()
    assert (detail["status"], detail["attempts"], detail["next_attempt_at"]) == (
        "delivered",
        1,
        None,
    )
    assert (detail["notify_id"], detail["payload"]) == (row.notify_id, body)
    [attempt] = detail["history"]
    assert {k: attempt[k] for k in ("number", "status_code", "response_body", "error")} == {
        "number": 1,
        "status_code": 200,
        "response_body": "success",
        "error": None,
    }
    assert attempt["succeeded"] is True
    assert send(db) == 0


def test_an_ed25519_app_gets_ed25519_signed_notifications(
    client: TestClient, db: Database, receiver: Receiver
) -> None:
    shop = open_shop(client, db, ED)
    subscribe(client, shop, receiver.url(), ["order.created"])
    place_order(db, shop, pay=False)
    relay(db)
    assert send(db) == 1
    [got] = receiver.requests
    h = got.headers
    assert h["ccare-sign-type"] == "ED25519"
    signed = response_content(h["ccare-timestamp"], h["ccare-nonce"], got.body)
    assert verify(platform_key(client, SignAlgorithm.ED25519), signed, h["ccare-signature"])
    assert json.loads(got.body)["type"] == "order.created"


# --- sending: the Alipay v1 form --------------------------------------------------------------


def _events(db: Database, event_type: str) -> list[DomainEvent]:
    with db.transaction() as s:
        stmt = select(OutboxEvent).where(OutboxEvent.type == event_type).order_by(OutboxEvent.id)
        return [to_event(r) for r in s.scalars(stmt)]


# What order events carry of the trade's state; events written before they did lack it.
SNAPSHOT = ("out_trade_no", "subject", "total_amount_fen", "payable_fen", "gmt_create")


def _notify(
    db: Database, event: DomainEvent, url: str, app_id: str, *, snapshot: bool
) -> WebhookDelivery:
    """What the subscriber does for a gateway trade: the order event names the app and
    its notify_url."""
    update: dict[str, Any] = {"notify_url": url, "app_id": app_id}
    if not snapshot:
        update.update({name: None for name in SNAPSHOT})
    with db.transaction() as s:
        [made] = service.enqueue(s, event.model_copy(update=update))
        return made


def _form(got: Any) -> dict[str, str]:
    assert got.headers["content-type"] == "application/x-www-form-urlencoded; charset=utf-8"
    form = parse_qsl(got.body.decode("ascii"), keep_blank_values=True, strict_parsing=True)
    return dict(form)


def _order(db: Database, order_id: int) -> Any:
    from ccare.orders import service as orders

    with db.transaction() as s:
        return orders.describe(s, orders.get_order(s, SYSTEM, order_id))


def _staff(db: Database, staff_id: int) -> Any:
    from ccare.merchants.service import staff_principal

    with db.transaction() as s:
        return staff_principal(s, staff_id)


@pytest.mark.parametrize("snapshot", [True, False], ids=["event-state", "order-read"])
def test_trade_status_sync_notifications_are_signed_the_v1_way(
    client: TestClient, db: Database, receiver: Receiver, snapshot: bool
) -> None:
    from ccare.orders import service as orders
    from ccare.orders.schemas import RefundCreate

    shop = open_shop(client, db, RSA)
    app_id = shop.app["app_id"]
    order_id = place_order(db, shop, out_trade_no="T-1001")
    owner = _staff(db, shop.merchant.owner_staff_id)
    for amount, no in ((1000, "R1"), (7888, "R2")):
        with db.transaction() as s:
            orders.refund_order(
                s, owner, order_id, RefundCreate(amount_fen=amount, out_request_no=no)
            )
    unpaid = place_order(db, shop, pay=False, out_trade_no="T-1002")
    with db.transaction() as s:
        orders.close_order(s, consumer(shop.consumer_id), unpaid)
    [paid_event] = _events(db, "order.paid")
    partial, full = _events(db, "order.refunded")
    [closed_event] = _events(db, "order.closed")
    rows = [
        _notify(db, e, receiver.url("/notify"), app_id, snapshot=snapshot)
        for e in (paid_event, partial, full, closed_event)
    ]
    assert [r.format for r in rows] == ["alipay_v1"] * 4

    now = utcnow() + timedelta(seconds=1)
    assert send(db, now=now) == 4
    forms = {f["notify_id"]: f for f in (_form(g) for g in receiver.requests)}
    assert sorted(forms) == sorted(r.notify_id for r in rows)
    public = platform_key(client)
    order, closed = _order(db, order_id), _order(db, unpaid)
    common = {
        "notify_type": "trade_status_sync",
        "notify_time": beijing_text(now),
        "app_id": app_id,
        "auth_app_id": app_id,
        "charset": "utf-8",
        "version": "1.0",
        "sign_type": "RSA2",
        "buyer_id": f"20880{shop.consumer_id:011d}",
        "seller_id": f"20881{shop.merchant.merchant_id:011d}",
        "total_amount": "88.88",
        "subject": "乌龙茶 Oolong",
    }
    trade = {
        **common,
        "trade_no": order.trade_no,
        "out_trade_no": "T-1001",
        "receipt_amount": "88.88",
        "buyer_pay_amount": "88.88",
        "gmt_create": beijing_text(order.created_at),
        "gmt_payment": beijing_text(order.paid_at),
    }
    expected = [
        {**trade, "trade_status": "TRADE_SUCCESS"},
        {
            **trade,
            "trade_status": "TRADE_SUCCESS",
            "refund_fee": "10.00",
            "gmt_refund": beijing_text(partial.occurred_at),
            "out_biz_no": "R1",
        },
        {
            **trade,
            "trade_status": "TRADE_CLOSED",
            "refund_fee": "88.88",
            "gmt_refund": beijing_text(full.occurred_at),
            "out_biz_no": "R2",
            "gmt_close": beijing_text(full.occurred_at),
        },
        {
            **common,
            "trade_no": closed.trade_no,
            "out_trade_no": "T-1002",
            "trade_status": "TRADE_CLOSED",
            "gmt_create": beijing_text(closed.created_at),
            "gmt_close": beijing_text(closed_event.occurred_at),
        },
    ]
    for row, want in zip(rows, expected, strict=True):
        form = forms[row.notify_id]
        signature = form.pop("sign")
        assert form == {**want, "notify_id": row.notify_id}
        # The "V1" rule: everything but sign and sign_type, sorted, raw values.
        text = v1_content(form, exclude=("sign", "sign_type")).encode()
        assert verify(public, text, signature)
        assert v1_verify(public, form, signature, exclude=("sign", "sign_type"))
        assert not v1_verify(public, form, signature, exclude=("sign",))
    assert (
        client.get(app_path(shop, "/deliveries"), headers=shop.owner).json()["items"][0]["format"]
        == "alipay_v1"
    )


# --- failures, the schedule, dead letters and replays -------------------------------------------


def test_a_failing_receiver_is_retried_on_the_schedule_then_dead_then_replayed(
    client: TestClient, db: Database, receiver: Receiver
) -> None:
    shop = open_shop(client, db, RSA)
    subscribe(client, shop, receiver.url(), ["order.paid"])
    place_order(db, shop)
    relay(db)
    [row] = deliveries(db)
    receiver.answer = lambda _r: (200, "fail", 0.0)

    at = row.next_attempt_at
    starts = []
    for n in range(1, 9):
        assert send(db, now=at - timedelta(seconds=1)) == 0  # not due yet
        assert send(db, now=at) == 1
        starts.append(at)
        row = delivery(db, row.id)
        assert (row.attempts, row.last_status_code) == (n, 200)
        assert row.last_error == "HTTP 200: expected exactly 'success', got 'fail'"
        if n < 8:
            assert row.status == "pending"
            assert row.next_attempt_at - at == timedelta(seconds=service.RETRY_SCHEDULE[n - 1])
            at = row.next_attempt_at
    assert row.status == "dead"
    assert send(db, now=at + timedelta(days=30)) == 0
    history = attempts(db, row.id)
    assert [
        (a.number, a.started_at, a.status_code, a.response_body, a.succeeded) for a in history
    ] == [(n, starts[n - 1], 200, "fail", False) for n in range(1, 9)]
    assert starts[-1] - starts[0] == timedelta(hours=24, minutes=24)

    dead = client.get(app_path(shop, "/deliveries"), params={"status": "dead"}, headers=shop.owner)
    assert [d["id"] for d in dead.json()["items"]] == [row.id]
    assert (
        client.get(app_path(shop, "/deliveries?status=pending"), headers=shop.owner).json()["items"]
        == []
    )

    receiver.answer = lambda _r: (200, "success", 0.0)
    r = client.post(app_path(shop, f"/deliveries/{row.id}/retry"), headers=shop.owner)
    assert (r.status_code, r.json()["status"], r.json()["attempts"]) == (200, "pending", 8)
    assert send(db) == 1
    row = delivery(db, row.id)
    assert (row.status, row.attempts) == ("delivered", 9)
    assert {g.headers["ccare-notify-id"] for g in receiver.requests} == {row.notify_id}
    assert len(receiver.requests) == 9

    # A delivered one may be replayed too: same id, once more.
    r = client.post(app_path(shop, f"/deliveries/{row.id}/retry"), headers=shop.owner)
    assert r.json()["status"] == "pending"
    assert send(db) == 1
    assert (delivery(db, row.id).status, len(receiver.requests)) == ("delivered", 10)
    assert receiver.requests[-1].headers["ccare-notify-id"] == row.notify_id


def test_a_replayed_dead_delivery_that_fails_again_is_dead_again(
    client: TestClient, db: Database, receiver: Receiver
) -> None:
    shop = open_shop(client, db, RSA)
    subscribe(client, shop, receiver.url(), ["order.paid"])
    place_order(db, shop)
    relay(db)
    receiver.answer = lambda _r: (503, "busy", 0.0)
    [row] = deliveries(db)
    for _ in range(8):
        assert tasks.send_due(db, lease_seconds=5, concurrency=1, retry_scale=0.0) == 1
    assert delivery(db, row.id).status == "dead"
    client.post(app_path(shop, f"/deliveries/{row.id}/retry"), headers=shop.owner)
    assert tasks.send_due(db, lease_seconds=5, concurrency=1, retry_scale=0.0) == 1
    row = delivery(db, row.id)
    assert (row.status, row.attempts, row.last_status_code) == ("dead", 9, 503)


@pytest.mark.parametrize(
    ("status", "text", "ok"),
    [
        (200, "success", True),
        (200, "  success\r\n", True),
        (204, "", False),
        (200, "SUCCESS", False),
        (200, "success!", False),
        (500, "success", False),
        (302, "success", False),
        (200, '{"code":"success"}', False),
    ],
)
def test_only_exactly_success_with_2xx_counts(
    client: TestClient, db: Database, receiver: Receiver, status: int, text: str, ok: bool
) -> None:
    shop = open_shop(client, db, RSA)
    subscribe(client, shop, receiver.url(), ["order.created"])
    place_order(db, shop, pay=False)
    relay(db)
    receiver.answer = lambda _r: (status, text, 0.0)
    assert send(db) == 1
    [row] = deliveries(db)
    assert (row.status, row.attempts, row.last_status_code) == (
        "delivered" if ok else "pending",
        1,
        status,
    )
    [attempt] = attempts(db, row.id)
    assert (attempt.succeeded, attempt.response_body) == (ok, text or None)


def test_a_slow_receiver_times_out_and_the_answer_is_kept_to_500_characters(
    client: TestClient, db: Database, receiver: Receiver
) -> None:
    shop = open_shop(client, db, RSA)
    subscribe(client, shop, receiver.url("/slow"), ["order.created"])
    subscribe(client, shop, receiver.url("/long"), ["order.created"])
    place_order(db, shop, pay=False)
    relay(db)
    receiver.answer = lambda r: (200, "success", 1.5) if r.path == "/slow" else (500, "x" * 3000, 0)
    # A 1 s lease gives each step of a request 0.25 s.
    now = utcnow()
    assert send(db, lease=1.0, now=now) == 2
    slow, long = deliveries(db)
    [attempt] = attempts(db, slow.id)
    assert (attempt.status_code, attempt.response_body, attempt.error) == (
        None,
        None,
        "ReadTimeout: timed out",
    )
    assert 200 <= attempt.duration_ms < 700
    assert (slow.status, slow.next_attempt_at - now) == ("pending", timedelta(minutes=4))
    [attempt] = attempts(db, long.id)
    assert (attempt.status_code, attempt.response_body) == (500, "x" * 500)


def test_an_answer_trickled_past_the_lease_is_cut_off(
    client: TestClient, db: Database, receiver: Receiver
) -> None:
    shop = open_shop(client, db, RSA)
    subscribe(client, shop, receiver.url(), ["order.created"])
    place_order(db, shop, pay=False)
    relay(db)
    # Each byte comes within the 0.5 s read timeout; the whole answer would take 4 s.
    receiver.answer = lambda _r: (200, "success" + " " * 9, 0.0)
    receiver.trickle = 0.25
    assert send(db, lease=2.0) == 1
    [row] = deliveries(db)
    [attempt] = attempts(db, row.id)
    assert (attempt.status_code, attempt.error) == (
        200,
        "AnswerTooSlow: no complete answer within 1.6 s",
    )
    assert 1600 <= attempt.duration_ms < 2500
    assert (row.status, attempt.succeeded) == ("pending", False)


def test_an_unreachable_receiver_is_an_error_on_the_attempt(
    client: TestClient, db: Database
) -> None:
    closed = Receiver()
    url = closed.url()
    closed.close()
    shop = open_shop(client, db, RSA)
    subscribe(client, shop, url, ["order.created"])
    place_order(db, shop, pay=False)
    relay(db)
    assert send(db) == 1
    [row] = deliveries(db)
    [attempt] = attempts(db, row.id)
    assert attempt.status_code is None
    assert attempt.error is not None and attempt.error.startswith("ConnectError")
    assert row.status == "pending"


# --- leases ---------------------------------------------------------------------------------


def test_a_claimed_delivery_is_nobody_elses_until_its_lease_ends(
    client: TestClient, db: Database
) -> None:
    shop = open_shop(client, db, RSA)
    subscribe(client, shop, "http://127.0.0.1:9/", ["order.created"])
    place_order(db, shop, pay=False)
    relay(db)
    t = utcnow()
    with db.transaction() as s:
        [first] = service.claim(s, now=t, lease_seconds=60, limit=10)
    with db.transaction() as s:
        assert service.claim(s, now=t + timedelta(seconds=59), lease_seconds=60, limit=10) == []
    with db.transaction() as s:
        [second] = service.claim(s, now=t + timedelta(seconds=60), lease_seconds=60, limit=10)
    assert (second.delivery_id, second.notify_id) == (first.delivery_id, first.notify_id)
    assert second.token != first.token

    # The first worker's late failure is kept, but the row stays the second one's.
    failed = Outcome(t, 900, 502, "bad gateway", None)
    with db.transaction() as s:
        service.record(s, first, failed)
    row = delivery(db, first.delivery_id)
    assert (row.status, row.attempts, row.claim_token) == ("pending", 1, second.token)
    # A late success still counts: the receiver has it.
    ok = Outcome(t, 900, 200, "success", None)
    with db.transaction() as s:
        service.record(s, first, ok)
    row = delivery(db, first.delivery_id)
    assert (row.status, row.attempts) == ("delivered", 2)
    with db.transaction() as s:
        service.record(s, second, failed)
    assert delivery(db, first.delivery_id).status == "delivered"


def test_concurrent_claims_never_share_a_delivery(client: TestClient, db: Database) -> None:
    shop = open_shop(client, db, RSA)
    subscribe(client, shop, "http://127.0.0.1:9/", ["order.created"])
    for _ in range(20):
        place_order(db, shop, pay=False)
    relay(db)
    claimed: list[list[int]] = []
    barrier = threading.Barrier(4)

    def claim() -> None:
        barrier.wait()
        with db.transaction() as s:
            got = service.claim(
                s,
                now=utcnow(),
                lease_seconds=60,
                limit=6,
                skip_locked=db.dialect == "postgresql",
            )
            claimed.append([o.delivery_id for o in got])

    threads = [threading.Thread(target=claim) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = [i for batch in claimed for i in batch]
    assert len(ids) == len(set(ids)) == 20


# --- who sees what -----------------------------------------------------------------------------


def _app_routes(shop: Shop, hook_id: int, delivery_id: int) -> list[tuple[str, str, Any]]:
    return [
        ("GET", app_path(shop, "/webhooks"), None),
        (
            "POST",
            app_path(shop, "/webhooks"),
            {"url": "https://x.example/", "event_types": ["order.paid"]},
        ),
        ("GET", app_path(shop, f"/webhooks/{hook_id}"), None),
        ("PATCH", app_path(shop, f"/webhooks/{hook_id}"), {"status": "disabled"}),
        ("DELETE", app_path(shop, f"/webhooks/{hook_id}"), None),
        ("GET", app_path(shop, "/deliveries"), None),
        ("GET", app_path(shop, f"/deliveries/{delivery_id}"), None),
        ("POST", app_path(shop, f"/deliveries/{delivery_id}/retry"), None),
    ]


def test_another_merchant_or_app_sees_nothing(
    client: TestClient, db: Database, receiver: Receiver
) -> None:
    shop = open_shop(client, db, RSA)
    hook = subscribe(client, shop, receiver.url(), ["order.paid"])
    place_order(db, shop)
    relay(db)
    [row] = deliveries(db)
    other_key = generate_private_key(SignAlgorithm.RSA2)
    other = open_shop(client, db, other_key, name="Other")
    other_hook = subscribe(client, other, receiver.url(), ["order.paid"])

    for method, path, body in _app_routes(shop, hook["id"], row.id):
        r = client.request(method, path, json=body, headers=other.owner)
        assert (r.status_code, r.json()["code"]) == (404, "app.not_found"), (method, path)
        content = json.dumps(body).encode() if body is not None else b""
        signed = {
            "Authorization": authorization_header(
                other.app["app_id"], other_key, method, path, content
            ),
            "content-type": "application/json",
        }
        r = client.request(method, path, content=content, headers=signed)
        assert (r.status_code, r.json()["code"]) == (404, "app.not_found"), (method, path)
    # Another app's ids through one's own app id: not found either.
    r = client.get(app_path(other, f"/deliveries/{row.id}"), headers=other.owner)
    assert (r.status_code, r.json()["code"]) == (404, "webhook_delivery.not_found")
    r = client.post(app_path(other, f"/deliveries/{row.id}/retry"), headers=other.owner)
    assert (r.status_code, r.json()["code"]) == (404, "webhook_delivery.not_found")
    r = client.get(app_path(other, f"/webhooks/{hook['id']}"), headers=other.owner)
    assert (r.status_code, r.json()["code"]) == (404, "webhook.not_found")
    assert client.get(app_path(other, "/deliveries"), headers=other.owner).json()["items"] == []
    # Nothing changed for the owner.
    assert (
        client.get(app_path(shop, f"/webhooks/{hook['id']}"), headers=shop.owner).json()["status"]
        == "active"
    )
    assert other_hook["id"] != hook["id"]


def test_the_app_itself_reads_and_replays_its_deliveries_with_signed_calls(
    client: TestClient, db: Database, receiver: Receiver
) -> None:
    shop = open_shop(client, db, RSA)
    subscribe(client, shop, receiver.url(), ["order.paid"])
    place_order(db, shop)
    relay(db)
    [row] = deliveries(db)
    api = CcareClient(
        app_id=shop.app["app_id"],
        private_key=RSA,
        platform_public_key=export_public_key(platform_key(client), "spki"),
        http=client,
    )
    page = api.get(app_path(shop, "/deliveries"))
    assert [d["notify_id"] for d in page["items"]] == [row.notify_id]
    assert api.post(app_path(shop, f"/deliveries/{row.id}/retry"))["status"] == "pending"
    hooks = api.get(app_path(shop, "/webhooks"))
    assert [h["url"] for h in hooks] == [receiver.url()]

    no_scope_key = generate_private_key(SignAlgorithm.RSA2)
    bare = new_app(client, shop.owner, no_scope_key, scopes=("orders",), name="No webhooks")
    path = f"/api/v1/apps/{bare['app_id']}/webhooks"
    h = {"Authorization": authorization_header(bare["app_id"], no_scope_key, "GET", path, b"")}
    r = client.get(path, headers=h)
    assert (r.status_code, r.json()["code"]) == (403, "app.scope_missing")


# --- the worker ---------------------------------------------------------------------------------


def test_the_embedded_worker_sends_what_events_queue(
    client: TestClient, db: Database, runtime: Any, receiver: Receiver
) -> None:
    import time

    shop = open_shop(client, db, RSA)
    subscribe(client, shop, receiver.url(), ["order.paid"])
    runtime.start_worker(poll=0.2)
    place_order(db, shop)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not (
        (rows := deliveries(db)) and rows[0].status == "delivered"
    ):
        time.sleep(0.05)
    [row] = deliveries(db)
    assert (row.status, row.attempts) == ("delivered", 1)
    assert [g.headers["ccare-notify-id"] for g in receiver.requests] == [row.notify_id]


def test_the_worker_runs_the_delivery_loop_as_a_poller() -> None:
    from ccare.core.worker import pollers

    assert pollers()["webhooks.deliver"] is tasks.deliver
    assert tasks.request_timeout(60) == 10.0
    assert tasks.request_timeout(2) == 0.5


def test_yuan_strings() -> None:
    assert [service.yuan(f) for f in (8888, 1000, 1, 0, 10_000_000_000)] == [
        "88.88",
        "10.00",
        "0.01",
        "0.00",
        "100000000.00",
    ]
    assert service.buyer_id(42) == "2088000000000042"


def test_notify_times_are_beijing_time() -> None:
    assert beijing_text(datetime(2025, 3, 1, 4, 5, 6, tzinfo=UTC)) == "2025-03-01 12:05:06"
