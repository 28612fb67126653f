"""Webhooks of an app: subscriptions, their deliveries with every attempt, replays.

Callers: the app's owner (merchant or ISV staff; clerks read only), operators, or the
app itself through a signed call with the `webhooks` scope. Anyone else gets 404.
"""

from typing import Annotated

from fastapi import Path, Query, Response

from ccare.web.deps import CurrentPrincipal, DbSession, IdPath, Limit, Offset
from ccare.web.routing import api_router
from ccare.webhooks import service
from ccare.webhooks.models import DeliveryStatus, WebhookDelivery
from ccare.webhooks.schemas import (
    AttemptOut,
    DeliveryDetail,
    DeliveryOut,
    DeliveryPage,
    EventTypeOut,
    WebhookCreate,
    WebhookOut,
    WebhookUpdate,
)

router = api_router(prefix="/api/v1", tags=["webhooks"])

AppIdPath = Annotated[str, Path(pattern=r"^[0-9]{16}$", description="16-digit app id")]
HOOK = "/apps/{app_id}/webhooks/{webhook_id}"
DELIVERY = "/apps/{app_id}/deliveries/{delivery_id}"


def _delivery_out(delivery: WebhookDelivery) -> DeliveryOut:
    out = DeliveryOut.model_validate(delivery)
    if delivery.status != DeliveryStatus.PENDING:
        out.next_attempt_at = None
    return out


@router.get(
    "/webhook-event-types",
    response_model=list[EventTypeOut],
    summary="The event types a webhook may subscribe to",
)
def event_types() -> list[EventTypeOut]:
    return service.event_types()


@router.post(
    "/apps/{app_id}/webhooks",
    response_model=WebhookOut,
    status_code=201,
    summary="Subscribe an endpoint to event types (signed JSON, answer `success`)",
)
def create_webhook(
    app_id: AppIdPath, body: WebhookCreate, db: DbSession, principal: CurrentPrincipal
) -> WebhookOut:
    return WebhookOut.model_validate(service.create_subscription(db, principal, app_id, body))


@router.get(
    "/apps/{app_id}/webhooks", response_model=list[WebhookOut], summary="The app's webhooks"
)
def list_webhooks(
    app_id: AppIdPath, db: DbSession, principal: CurrentPrincipal
) -> list[WebhookOut]:
    subscriptions = service.list_subscriptions(db, principal, app_id)
    return [WebhookOut.model_validate(s) for s in subscriptions]


@router.get(HOOK, response_model=WebhookOut, summary="One webhook")
def get_webhook(
    app_id: AppIdPath, webhook_id: IdPath, db: DbSession, principal: CurrentPrincipal
) -> WebhookOut:
    return WebhookOut.model_validate(service.get_subscription(db, principal, app_id, webhook_id))


@router.patch(HOOK, response_model=WebhookOut, summary="Change the URL or events; disable")
def update_webhook(
    app_id: AppIdPath,
    webhook_id: IdPath,
    body: WebhookUpdate,
    db: DbSession,
    principal: CurrentPrincipal,
) -> WebhookOut:
    subscription = service.update_subscription(db, principal, app_id, webhook_id, body)
    return WebhookOut.model_validate(subscription)


@router.delete(
    HOOK,
    status_code=204,
    response_class=Response,
    summary="Delete a webhook; deliveries already made are kept and still sent",
)
def delete_webhook(
    app_id: AppIdPath, webhook_id: IdPath, db: DbSession, principal: CurrentPrincipal
) -> Response:
    service.delete_subscription(db, principal, app_id, webhook_id)
    return Response(status_code=204)


@router.get(
    "/apps/{app_id}/deliveries",
    response_model=DeliveryPage,
    summary="Notifications to the app, newest first (webhooks and v1 notify_url)",
)
def list_deliveries(
    app_id: AppIdPath,
    db: DbSession,
    principal: CurrentPrincipal,
    status: Annotated[DeliveryStatus | None, Query()] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> DeliveryPage:
    rows = service.list_deliveries(db, principal, app_id, status=status, limit=limit, offset=offset)
    return DeliveryPage(items=[_delivery_out(d) for d in rows], limit=limit, offset=offset)


@router.get(DELIVERY, response_model=DeliveryDetail, summary="One delivery with every attempt")
def get_delivery(
    app_id: AppIdPath, delivery_id: IdPath, db: DbSession, principal: CurrentPrincipal
) -> DeliveryDetail:
    delivery, attempts = service.get_delivery(db, principal, app_id, delivery_id)
    return DeliveryDetail(
        **_delivery_out(delivery).model_dump(),
        payload=delivery.payload,
        history=[AttemptOut.model_validate(a) for a in attempts],
    )


@router.post(
    f"{DELIVERY}/retry",
    response_model=DeliveryOut,
    summary="Send again now, also a dead or delivered one (same notify_id)",
)
def retry_delivery(
    app_id: AppIdPath, delivery_id: IdPath, db: DbSession, principal: CurrentPrincipal
) -> DeliveryOut:
    return _delivery_out(service.retry_delivery(db, principal, app_id, delivery_id))
