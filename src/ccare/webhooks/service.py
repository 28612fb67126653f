"""Notifications to apps: subscriptions, the deliveries events fan out to, and their fate.

A delivery is created in the same transaction as the event's subscriber run, so every
event reaches every matching endpoint exactly once as a row; the engine (`tasks.py`) then
sends it at least once. Each attempt is signed afresh (new timestamp, nonce, notify_time)
but carries the same `notify_id`, which receivers use to drop duplicates.

Retries follow Alipay's reference schedule: after attempt n fails, attempt n+1 is due
`RETRY_SCHEDULE[n-1]` later, 8 attempts within about 25 hours; then the delivery is dead
until someone replays it. A replay is one more attempt: a dead delivery that fails again
is dead again at once.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.orm import Session

from ccare.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from ccare.core.events import DomainEvent
from ccare.core.signing import SignAlgorithm, response_content, sign, v1_content
from ccare.core.tenancy import SYSTEM, Principal
from ccare.core.time import beijing_text, utcnow
from ccare.openplatform import service as openplatform
from ccare.orders.schemas import OrderClosed, OrderPaid, OrderRefunded
from ccare.webhooks.models import (
    DeliveryAttempt,
    DeliveryStatus,
    SubscriptionStatus,
    WebhookDelivery,
    WebhookFormat,
    WebhookSubscription,
)
from ccare.webhooks.repository import WebhookRepository
from ccare.webhooks.schemas import (
    EVENT_SCOPES,
    EVENT_TYPES,
    EventTypeOut,
    Outcome,
    Outgoing,
    WebhookCreate,
    WebhookUpdate,
)

# Seconds from a failed attempt to the next one: 4m, 10m, 10m, 1h, 2h, 6h, 15h.
RETRY_SCHEDULE = (240, 600, 600, 3600, 7200, 21600, 54000)
MAX_ATTEMPTS = len(RETRY_SCHEDULE) + 1
MAX_SUBSCRIPTIONS_PER_APP = 20
# The events Alipay sends a v1 notification for; order.created is not one of them.
V1Event = OrderPaid | OrderClosed | OrderRefunded
SUCCESS_ANSWER = "success"


def retry_delay(attempts: int, scale: float = 1.0) -> timedelta | None:
    """The wait after the `attempts`-th failed attempt; None when none is left."""
    if attempts >= MAX_ATTEMPTS:
        return None
    return timedelta(seconds=RETRY_SCHEDULE[attempts - 1] * scale)


def yuan(fen: int) -> str:
    """Alipay amounts: yuan with exactly two decimals ("88.88")."""
    sign_text = "-" if fen < 0 else ""
    return f"{sign_text}{abs(fen) // 100}.{abs(fen) % 100:02d}"


def buyer_id(consumer_id: int) -> str:
    """The 16-digit buyer id Alipay-style clients expect (`2088` user ids)."""
    return f"20880{consumer_id:011d}"


def event_types() -> list[EventTypeOut]:
    return [
        EventTypeOut(type=name, description=text, scope=EVENT_SCOPES.get(name))
        for name, text in EVENT_TYPES.items()
    ]


# --- subscriptions -------------------------------------------------------------------------


@dataclass(frozen=True)
class AppRef:
    pk: int
    app_id: str
    scopes: frozenset[str]


def _app(db: Session, actor: Principal, app_id: str, *, manage: bool = False) -> AppRef:
    """The app as the actor may see it (404 otherwise); `manage`: its owner (not a clerk),
    an operator, or the app itself through a signed call."""
    app = openplatform.get_app(db, actor, app_id)
    if manage and not actor.can_manage():
        raise Forbidden("owners and managers only", code="staff.role_forbidden")
    return AppRef(app.id, app.app_id, frozenset(app.scopes))


def _check_scopes(app: AppRef, types: Sequence[str]) -> None:
    missing = sorted({EVENT_SCOPES[t] for t in types if t in EVENT_SCOPES} - app.scopes)
    if missing:
        raise InvalidInput(
            f"the app lacks the scopes {missing} these events need",
            code="webhook.scope_missing",
            scopes=missing,
        )


def create_subscription(
    db: Session, actor: Principal, app_id: str, data: WebhookCreate
) -> WebhookSubscription:
    app = _app(db, actor, app_id, manage=True)
    _check_scopes(app, data.event_types)
    repo = WebhookRepository(db)
    if len(repo.subscriptions(app.pk)) >= MAX_SUBSCRIPTIONS_PER_APP:
        raise Conflict(
            f"an app has at most {MAX_SUBSCRIPTIONS_PER_APP} webhooks",
            code="webhook.limit_reached",
            limit=MAX_SUBSCRIPTIONS_PER_APP,
        )
    subscription = WebhookSubscription(
        app_pk=app.pk,
        app_id=app.app_id,
        url=data.url,
        event_types=list(data.event_types),
        format=WebhookFormat(data.format),
        status=SubscriptionStatus.ACTIVE,
        description=data.description,
    )
    repo.add(subscription)
    return subscription


def list_subscriptions(db: Session, actor: Principal, app_id: str) -> list[WebhookSubscription]:
    return WebhookRepository(db).subscriptions(_app(db, actor, app_id).pk)


def _subscription(db: Session, app: AppRef, subscription_id: int) -> WebhookSubscription:
    subscription = WebhookRepository(db).subscription(app.pk, subscription_id)
    if subscription is None:
        raise NotFound("no such webhook", code="webhook.not_found", webhook_id=subscription_id)
    return subscription


def get_subscription(
    db: Session, actor: Principal, app_id: str, subscription_id: int
) -> WebhookSubscription:
    return _subscription(db, _app(db, actor, app_id), subscription_id)


def update_subscription(
    db: Session, actor: Principal, app_id: str, subscription_id: int, data: WebhookUpdate
) -> WebhookSubscription:
    app = _app(db, actor, app_id)
    subscription = _subscription(db, app, subscription_id)
    _app(db, actor, app_id, manage=True)
    if data.event_types is not None:
        _check_scopes(app, data.event_types)
        subscription.event_types = list(data.event_types)
    if data.url is not None:
        subscription.url = data.url
    if data.status is not None:
        subscription.status = data.status
    if data.description is not None:
        subscription.description = data.description
    db.flush()
    return subscription


def delete_subscription(db: Session, actor: Principal, app_id: str, subscription_id: int) -> None:
    """New events stop at once; deliveries already made are kept and still sent."""
    app = _app(db, actor, app_id)
    subscription = _subscription(db, app, subscription_id)
    _app(db, actor, app_id, manage=True)
    WebhookRepository(db).delete(subscription)


# --- deliveries: reading and replaying -----------------------------------------------------


def list_deliveries(
    db: Session,
    actor: Principal,
    app_id: str,
    *,
    status: DeliveryStatus | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[WebhookDelivery]:
    app = _app(db, actor, app_id)
    return WebhookRepository(db).deliveries(app.pk, status=status, limit=limit, offset=offset)


def _delivery(db: Session, app: AppRef, delivery_id: int) -> WebhookDelivery:
    delivery = WebhookRepository(db).delivery(app.pk, delivery_id)
    if delivery is None:
        raise NotFound(
            "no such delivery", code="webhook_delivery.not_found", delivery_id=delivery_id
        )
    return delivery


def get_delivery(
    db: Session, actor: Principal, app_id: str, delivery_id: int
) -> tuple[WebhookDelivery, list[DeliveryAttempt]]:
    delivery = _delivery(db, _app(db, actor, app_id), delivery_id)
    return delivery, WebhookRepository(db).attempts(delivery.id)


def retry_delivery(
    db: Session, actor: Principal, app_id: str, delivery_id: int, now: datetime | None = None
) -> WebhookDelivery:
    """Send again now, whatever the status; a delivery being sent right now keeps its
    lease, and the replay follows when that attempt has been recorded."""
    delivery = _delivery(db, _app(db, actor, app_id), delivery_id)
    _app(db, actor, app_id, manage=True)
    delivery.status = DeliveryStatus.PENDING
    delivery.next_attempt_at = now or utcnow()
    db.flush()
    return delivery


# --- fan-out: events become deliveries -----------------------------------------------------


def _recipients(db: Session, event: DomainEvent) -> list[AppRef]:
    scope = EVENT_SCOPES.get(event.type)
    if scope is not None:
        if event.merchant_id is None:
            return []
        apps = openplatform.apps_acting_for(db, event.merchant_id)
        return [AppRef(a.id, a.app_id, frozenset(a.scopes)) for a in apps if scope in a.scopes]
    # The app's own events (authorised, key rotated) go to that app alone.
    app_id = getattr(event, "app_id", None)
    app = openplatform.find_app(db, app_id) if app_id else None
    if app is None or app.status != "active":
        return []
    return [AppRef(app.id, app.app_id, frozenset(app.scopes))]


def _new_notify_id() -> str:
    return uuid.uuid4().hex


def enqueue(db: Session, event: DomainEvent, now: datetime | None = None) -> list[WebhookDelivery]:
    """The deliveries one event makes: one per matching subscription of each app that
    should hear of it, and the v1 notification to the order's notify_url if it has one."""
    now = now or utcnow()
    repo = WebhookRepository(db)
    made: list[WebhookDelivery] = []
    if event.type in EVENT_TYPES:
        apps = {a.pk: a for a in _recipients(db, event)}
        for sub in repo.active_subscriptions(list(apps)):
            if event.type not in sub.event_types:
                continue
            app = apps[sub.app_pk]
            notify_id = _new_notify_id()
            body = {
                "id": notify_id,
                "type": event.type,
                "created_at": event.occurred_at.isoformat(),
                "app_id": app.app_id,
                "merchant_id": event.merchant_id,
                "data": event.payload(),
            }
            made.append(
                WebhookDelivery(
                    notify_id=notify_id,
                    app_pk=app.pk,
                    app_id=app.app_id,
                    subscription_id=sub.id,
                    merchant_id=event.merchant_id,
                    event_id=event.event_id,
                    event_type=event.type,
                    target=f"subscription:{sub.id}",
                    format=sub.format,
                    url=sub.url,
                    payload=body,
                )
            )
    # Set on orders placed through the gateway or the native API by an app.
    notify_url = getattr(event, "notify_url", None)
    if isinstance(event, V1Event) and notify_url:
        made.append(_v1_delivery(db, event, notify_url))
    for delivery in made:
        delivery.status = DeliveryStatus.PENDING
        delivery.next_attempt_at = now
        delivery.created_at = now
        repo.add(delivery)
    return made


def _v1_delivery(db: Session, event: V1Event, notify_url: str) -> WebhookDelivery:
    app_id: str | None = getattr(event, "app_id", None)
    app = openplatform.find_app(db, app_id) if app_id else None
    notify_id = _new_notify_id()
    return WebhookDelivery(
        notify_id=notify_id,
        app_pk=app.id if app else None,
        app_id=app_id,
        subscription_id=None,
        merchant_id=event.merchant_id,
        event_id=event.event_id,
        event_type=event.type,
        target="notify_url",
        format=WebhookFormat.ALIPAY_V1,
        url=notify_url,
        payload=trade_status_sync(db, event, notify_id, app_id),
    )


@dataclass(frozen=True)
class _Trade:
    trade_no: str
    out_trade_no: str | None
    subject: str
    total_fen: int
    payable_fen: int
    created_at: datetime
    paid_at: datetime | None


def _trade(db: Session, event: V1Event) -> _Trade:
    """The trade as the event saw it; events written before order events carried the
    trade's state are completed from the order itself."""
    created_at = getattr(event, "gmt_create", None)
    total_fen = getattr(event, "total_amount_fen", None)
    payable_fen = getattr(event, "payable_fen", None)
    subject = getattr(event, "subject", None)
    if created_at is not None and total_fen is not None and payable_fen is not None and subject:
        return _Trade(
            trade_no=event.trade_no,
            out_trade_no=getattr(event, "out_trade_no", None),
            subject=subject,
            total_fen=total_fen,
            payable_fen=payable_fen,
            created_at=created_at,
            paid_at=getattr(event, "gmt_payment", None),
        )
    from ccare.orders import service as orders

    order = orders.describe(db, orders.get_order(db, SYSTEM, event.order_id))
    return _Trade(
        trade_no=order.trade_no,
        out_trade_no=order.out_trade_no,
        subject=order.subject,
        total_fen=order.amount_fen,
        payable_fen=order.payable_fen,
        created_at=order.created_at,
        paid_at=order.paid_at,
    )


def trade_status_sync(
    db: Session, event: V1Event, notify_id: str, app_id: str | None
) -> dict[str, str]:
    """The fields of Alipay's `trade_status_sync` notification for an order event, except
    `notify_time` and `sign`, which each attempt sets."""
    trade = _trade(db, event)
    refund = event if isinstance(event, OrderRefunded) else None
    closed = isinstance(event, OrderClosed) or (refund is not None and refund.fully_refunded)
    paid_at = trade.paid_at
    fields: dict[str, str | None] = {
        "notify_type": "trade_status_sync",
        "notify_id": notify_id,
        "app_id": app_id,
        "auth_app_id": app_id,
        "charset": "utf-8",
        "version": "1.0",
        "sign_type": "RSA2",
        "trade_no": trade.trade_no,
        "out_trade_no": trade.out_trade_no,
        "buyer_id": buyer_id(event.consumer_id) if event.consumer_id is not None else None,
        "seller_id": openplatform.merchant_pid(event.merchant_id)
        if event.merchant_id is not None
        else None,
        "trade_status": "TRADE_CLOSED" if closed else "TRADE_SUCCESS",
        "total_amount": yuan(trade.total_fen),
        "receipt_amount": yuan(trade.payable_fen) if paid_at else None,
        "buyer_pay_amount": yuan(trade.payable_fen) if paid_at else None,
        "subject": trade.subject,
        "gmt_create": beijing_text(trade.created_at),
        "gmt_payment": beijing_text(paid_at) if paid_at else None,
    }
    if refund is not None:
        fields["refund_fee"] = yuan(refund.refunded_total)
        fields["gmt_refund"] = beijing_text(refund.occurred_at)
        fields["out_biz_no"] = refund.out_request_no
    if closed:
        fields["gmt_close"] = beijing_text(event.occurred_at)
    return {k: v for k, v in fields.items() if v is not None and v != ""}


# --- the engine: claim, sign, record -------------------------------------------------------


def claim(
    db: Session, *, now: datetime, lease_seconds: float, limit: int, skip_locked: bool = False
) -> list[Outgoing]:
    """Lease due deliveries and sign each one for this attempt."""
    token = secrets.token_hex(16)
    until = now + timedelta(seconds=lease_seconds)
    rows = WebhookRepository(db).claim_due(now, until, token, limit, skip_locked=skip_locked)
    return [_outgoing(db, row, token, now) for row in rows]


def _outgoing(db: Session, delivery: WebhookDelivery, token: str, now: datetime) -> Outgoing:
    if delivery.format == WebhookFormat.ALIPAY_V1:
        headers, body = _signed_form(db, delivery.payload, now)
    else:
        headers, body = _signed_json(db, delivery, now)
    return Outgoing(
        delivery_id=delivery.id,
        token=token,
        notify_id=delivery.notify_id,
        url=delivery.url,
        headers={**headers, "ccare-notify-id": delivery.notify_id},
        body=body,
    )


def json_body(payload: dict[str, Any]) -> bytes:
    # Sorted keys: the same bytes on every attempt, whatever order the database keeps.
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def _app_algorithm(db: Session, app_id: str | None) -> SignAlgorithm:
    """The algorithm of the app's newest usable key; RSA2 for an app without keys."""
    from ccare.openplatform.auth import app_credentials

    creds = app_credentials(db, app_id) if app_id else None
    if creds is None or not creds.keys:
        return SignAlgorithm.RSA2
    return creds.keys[0][0]


def _signed_json(
    db: Session, delivery: WebhookDelivery, now: datetime
) -> tuple[dict[str, str], bytes]:
    body = json_body(delivery.payload)
    algorithm = _app_algorithm(db, delivery.app_id)
    timestamp = str(int(now.timestamp() * 1000))
    nonce = uuid.uuid4().hex
    key = openplatform.platform_private_key(db, algorithm)
    headers = {
        "content-type": "application/json; charset=utf-8",
        "ccare-timestamp": timestamp,
        "ccare-nonce": nonce,
        "ccare-sign-type": algorithm.value,
        "ccare-signature": sign(key, response_content(timestamp, nonce, body)),
    }
    return headers, body


def signed_form_fields(db: Session, payload: dict[str, str], now: datetime) -> dict[str, str]:
    """The v1 form of one attempt: Alipay's "V1" rule signs all but `sign` and `sign_type`."""
    fields = {**payload, "notify_time": beijing_text(now)}
    text = v1_content(fields, exclude=("sign", "sign_type"))
    fields["sign"] = sign(
        openplatform.platform_private_key(db, SignAlgorithm.RSA2), text.encode("utf-8")
    )
    return fields


def _signed_form(
    db: Session, payload: dict[str, str], now: datetime
) -> tuple[dict[str, str], bytes]:
    fields = signed_form_fields(db, payload, now)
    headers = {"content-type": "application/x-www-form-urlencoded; charset=utf-8"}
    return headers, urlencode(fields).encode("ascii")


def succeeded(outcome: Outcome) -> bool:
    """The receiver took it: a 2xx whose body is exactly `success`."""
    code = outcome.status_code
    return (
        code is not None
        and 200 <= code < 300
        and (outcome.response_body or "").strip() == (SUCCESS_ANSWER)
    )


def record(
    db: Session, outgoing: Outgoing, outcome: Outcome, *, retry_scale: float = 1.0
) -> WebhookDelivery | None:
    """Store an attempt and what follows from it.

    A success always counts, even from a worker whose lease ran out. A failure schedules
    the next attempt only while the lease is still this worker's: otherwise another
    worker has the row and will record its own attempt.
    """
    repo = WebhookRepository(db)
    delivery = repo.locked_delivery(outgoing.delivery_id)
    if delivery is None:
        return None
    ok = succeeded(outcome)
    finished = outcome.started_at + timedelta(milliseconds=outcome.duration_ms)
    ours = delivery.claim_token == outgoing.token
    delivery.attempts += 1
    repo.add(
        DeliveryAttempt(
            delivery_id=delivery.id,
            number=delivery.attempts,
            started_at=outcome.started_at,
            duration_ms=outcome.duration_ms,
            status_code=outcome.status_code,
            response_body=outcome.response_body[:500] if outcome.response_body else None,
            error=outcome.error[:500] if outcome.error else None,
            succeeded=ok,
        )
    )
    delivery.last_attempt_at = outcome.started_at
    delivery.last_status_code = outcome.status_code
    if ok:
        if delivery.status != DeliveryStatus.DELIVERED:
            delivery.status = DeliveryStatus.DELIVERED
            delivery.delivered_at = finished
        delivery.last_error = None
    else:
        delivery.last_error = (outcome.error or _unexpected_answer(outcome))[:500]
        if ours and delivery.status == DeliveryStatus.PENDING:
            delay = retry_delay(delivery.attempts, retry_scale)
            if delay is None:
                delivery.status = DeliveryStatus.DEAD
            else:
                delivery.next_attempt_at = outcome.started_at + delay
    if ours:
        delivery.claimed_until = None
        delivery.claim_token = None
    db.flush()
    return delivery


def _unexpected_answer(outcome: Outcome) -> str:
    answer = (outcome.response_body or "").strip()[:80]
    return f"HTTP {outcome.status_code}: expected exactly 'success', got {answer!r}"
