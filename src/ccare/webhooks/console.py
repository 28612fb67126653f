"""The notification log of an app, in the developer console (docs/adr/0008).

`/console/developer/apps/{app_id}/notifications`: the app's webhook subscriptions (add,
disable or enable, delete) and its deliveries, newest first, filtered by status; a
delivery's page shows its payload and every attempt and sends it again on request.
Who may: the same people as the other developer pages (owners and managers of the app's
merchant, the ISV's staff); anyone else gets the 404 of an unknown app. The pages work
in both worlds: under `/sandbox` they show the sandbox app's notifications.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import Response
from pydantic import ValidationError

from ccare.core.errors import DomainError, NotFound
from ccare.core.tenancy import Principal
from ccare.openplatform import service as openplatform
from ccare.openplatform.console import (
    NOTIFICATIONS_PATH,
    refused_page,
    valid_app_id,
    world_context,
)
from ccare.web.deps import DbSession, Offset
from ccare.web.i18n import N_
from ccare.web.pages import ConsoleUser, PageId, error_page, redirect, run_once
from ccare.web.routing import api_router
from ccare.web.templating import problem_text, render, translate
from ccare.webhooks import service
from ccare.webhooks.models import DeliveryStatus, SubscriptionStatus, WebhookDelivery
from ccare.webhooks.schemas import WebhookCreate, WebhookUpdate

router = api_router(tags=["console"])

LOG = NOTIFICATIONS_PATH
PAGE_SIZE = 50

# The published event types' descriptions (webhooks/schemas.py), translated on the page.
EVENT_TEXTS: dict[str, str] = {
    "order.created": N_("An order was created and waits for payment."),
    "order.paid": N_("An order was paid."),
    "order.closed": N_("An unpaid order was closed by the buyer, the merchant or on expiry."),
    "order.refunded": N_("Part or all of an order was refunded."),
    "openplatform.app_authorized": N_(
        "A merchant authorised this ISV app (sent to that app only)."
    ),
    "openplatform.key_rotated": N_(
        "A new public key was registered for this app (sent to it only)."
    ),
}

PAGE_ERRORS: dict[str, str] = {
    "webhook.scope_missing": N_(
        "The app lacks a scope these events need; add it to the app first: %(scopes)s"
    ),
    "webhook.limit_reached": N_("An app has at most %(limit)s webhooks."),
}

FIELD_LABELS: dict[str, str] = {
    "url": N_("Endpoint URL"),
    "event_types": N_("Events"),
    "description": N_("Description"),
}

STATUS_FILTERS: tuple[tuple[str, str], ...] = (
    ("", N_("All")),
    (DeliveryStatus.PENDING.value, N_("Pending")),
    (DeliveryStatus.DELIVERED.value, N_("Delivered")),
    (DeliveryStatus.DEAD.value, N_("Dead")),
)


# ---------------------------------------------------------------- helpers


def _problem(request: Request, exc: Exception) -> str:
    if isinstance(exc, DomainError) and exc.code in PAGE_ERRORS:
        details = exc.details
        values = {
            "scopes": ", ".join(details.get("scopes", [])),
            "limit": details.get("limit", service.MAX_SUBSCRIPTIONS_PER_APP),
        }
        return translate(request, PAGE_ERRORS[exc.code]) % values
    if isinstance(exc, ValidationError):
        fields: list[str] = []
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ()) if isinstance(p, str)]
            if loc and loc[0] in FIELD_LABELS:
                label = translate(request, FIELD_LABELS[loc[0]])
                if label not in fields:
                    fields.append(label)
        if fields:
            message = translate(request, N_("Please check the values you entered."))
            return f"{message} ({', '.join(fields)})"
    return problem_text(request, exc)


def _status_of(exc: Exception) -> int:
    return exc.status_code if isinstance(exc, DomainError) else 422


def _status_filter(value: str | None) -> DeliveryStatus | None:
    try:
        return DeliveryStatus(value) if value else None
    except ValueError:
        return None


def _gate(request: Request, user: Principal, app_id: str) -> Response | None:
    refused = refused_page(request, user)
    if refused is not None:
        return refused
    if not valid_app_id(app_id):
        return error_page(request, NotFound("no such app", code="app.not_found"))
    return None


def _log_url(request: Request, app_id: str) -> str:
    return str(request.scope.get("root_path", "")) + LOG.format(app_id=app_id)


def _event_choices(request: Request) -> list[tuple[str, str, str | None]]:
    """(type, description, scope needed) of the published event types."""
    return [
        (e.type, translate(request, EVENT_TEXTS.get(e.type, e.description)), e.scope)
        for e in service.event_types()
    ]


def _delivery_row(delivery: WebhookDelivery) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "notify_id": delivery.notify_id,
        "event_type": delivery.event_type,
        "format": delivery.format.value,
        "target": delivery.target,
        "subscription_id": delivery.subscription_id,
        "url": delivery.url,
        "status": delivery.status.value,
        "attempts": delivery.attempts,
        "next_attempt_at": delivery.next_attempt_at
        if delivery.status == DeliveryStatus.PENDING
        else None,
        "created_at": delivery.created_at,
        "last_attempt_at": delivery.last_attempt_at,
        "delivered_at": delivery.delivered_at,
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
    }


# ---------------------------------------------------------------- the log


def _log_page(
    request: Request,
    db: DbSession,
    user: Principal,
    app_id: str,
    *,
    status: DeliveryStatus | None = None,
    offset: int = 0,
    error: str | None = None,
    notice: str | None = None,
    form: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    try:
        app = openplatform.get_app(db, user, app_id)
        subscriptions = service.list_subscriptions(db, user, app_id)
        deliveries = service.list_deliveries(
            db, user, app_id, status=status, limit=PAGE_SIZE, offset=offset
        )
    except DomainError as exc:
        return error_page(request, exc)
    base = _log_url(request, app_id)

    def page(at: int) -> str:
        query = "&".join(
            f"{k}={v}" for k, v in (("status", status.value if status else ""), ("offset", at)) if v
        )
        return base + (f"?{query}" if query else "")

    return render(
        request,
        "webhooks/log.html",
        status_code=status_code,
        **world_context(request),
        app=app,
        log_url=base,
        subscriptions=subscriptions,
        deliveries=[_delivery_row(d) for d in deliveries],
        status=status.value if status else "",
        status_filters=[(v, translate(request, t)) for v, t in STATUS_FILTERS],
        event_choices=_event_choices(request),
        can_manage=user.can_manage(),
        page_prev=page(max(offset - PAGE_SIZE, 0)) if offset > 0 else None,
        page_next=page(offset + PAGE_SIZE) if len(deliveries) == PAGE_SIZE else None,
        error=error,
        notice=notice,
        form=form or {"url": "", "event_types": [], "description": ""},
    )


NOTICES: dict[str, str] = {
    "created": N_("Webhook added: matching events are sent to it from now on."),
    "disabled": N_("Webhook disabled: new events are not sent to it."),
    "enabled": N_("Webhook enabled again."),
    "deleted": N_("Webhook deleted. Notifications already made are kept and still sent."),
}


@router.get(LOG)
def notification_log(
    request: Request,
    db: DbSession,
    user: ConsoleUser,
    app_id: str,
    status: str | None = None,
    offset: Offset = 0,
    done: str | None = None,
) -> Response:
    gate = _gate(request, user, app_id)
    if gate is not None:
        return gate
    notice = translate(request, NOTICES[done]) if done in NOTICES else None
    return _log_page(
        request, db, user, app_id, status=_status_filter(status), offset=offset, notice=notice
    )


@router.post(LOG + "/webhooks")
def add_webhook(
    request: Request,
    db: DbSession,
    user: ConsoleUser,
    app_id: str,
    url: Annotated[str, Form()] = "",
    event_types: Annotated[list[str] | None, Form()] = None,
    description: Annotated[str, Form()] = "",
    idempotency_key: Annotated[str, Form()] = "",
) -> Response:
    gate = _gate(request, user, app_id)
    if gate is not None:
        return gate
    form = {"url": url, "event_types": event_types or [], "description": description}
    try:
        data = WebhookCreate.model_validate(
            {"url": url, "event_types": event_types or [], "description": description}
        )
        run_once(
            db,
            user,
            idempotency_key,
            f"webhooks.create:{app_id}",
            data.model_dump(mode="json"),
            lambda: {"id": service.create_subscription(db, user, app_id, data).id},
        )
    except (DomainError, ValidationError) as exc:
        db.rollback()
        if isinstance(exc, DomainError) and exc.status_code in (403, 404):
            return error_page(request, exc)
        return _log_page(
            request,
            db,
            user,
            app_id,
            error=_problem(request, exc),
            form=form,
            status_code=_status_of(exc),
        )
    return redirect(f"{_log_url(request, app_id)}?done=created")


def _change(
    request: Request, db: DbSession, user: Principal, app_id: str, webhook_id: int, done: str
) -> Response:
    gate = _gate(request, user, app_id)
    if gate is not None:
        return gate
    try:
        if done == "deleted":
            service.delete_subscription(db, user, app_id, webhook_id)
        else:
            active = done == "enabled"
            status = SubscriptionStatus.ACTIVE if active else SubscriptionStatus.DISABLED
            service.update_subscription(db, user, app_id, webhook_id, WebhookUpdate(status=status))
    except DomainError as exc:
        db.rollback()
        return error_page(request, exc)
    return redirect(f"{_log_url(request, app_id)}?done={done}")


@router.post(LOG + "/webhooks/{webhook_id}/disable")
def disable_webhook(
    request: Request, db: DbSession, user: ConsoleUser, app_id: str, webhook_id: PageId
) -> Response:
    return _change(request, db, user, app_id, webhook_id, "disabled")


@router.post(LOG + "/webhooks/{webhook_id}/enable")
def enable_webhook(
    request: Request, db: DbSession, user: ConsoleUser, app_id: str, webhook_id: PageId
) -> Response:
    return _change(request, db, user, app_id, webhook_id, "enabled")


@router.post(LOG + "/webhooks/{webhook_id}/delete")
def delete_webhook(
    request: Request, db: DbSession, user: ConsoleUser, app_id: str, webhook_id: PageId
) -> Response:
    return _change(request, db, user, app_id, webhook_id, "deleted")


# ---------------------------------------------------------------- one delivery


def _payload_text(payload: dict[str, Any]) -> str:
    return json.dumps(payload, ensure_ascii=False, indent=2, sort_keys=True)


@router.get(LOG + "/{delivery_id}")
def delivery_detail(
    request: Request,
    db: DbSession,
    user: ConsoleUser,
    app_id: str,
    delivery_id: PageId,
    retried: str | None = None,
) -> Response:
    gate = _gate(request, user, app_id)
    if gate is not None:
        return gate
    try:
        app = openplatform.get_app(db, user, app_id)
        delivery, attempts = service.get_delivery(db, user, app_id, delivery_id)
    except DomainError as exc:
        return error_page(request, exc)
    notice = None
    if retried:
        notice = translate(request, N_("Sent again: the next attempt is due now."))
    return render(
        request,
        "webhooks/delivery.html",
        **world_context(request),
        app=app,
        log_url=_log_url(request, app_id),
        delivery=_delivery_row(delivery),
        payload=_payload_text(delivery.payload),
        attempts=attempts,
        can_manage=user.can_manage(),
        notice=notice,
    )


@router.post(LOG + "/{delivery_id}/retry")
def retry_delivery(
    request: Request, db: DbSession, user: ConsoleUser, app_id: str, delivery_id: PageId
) -> Response:
    gate = _gate(request, user, app_id)
    if gate is not None:
        return gate
    try:
        service.retry_delivery(db, user, app_id, delivery_id)
    except DomainError as exc:
        db.rollback()
        return error_page(request, exc)
    return redirect(f"{_log_url(request, app_id)}/{delivery_id}?retried=1")
