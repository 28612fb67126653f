from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, StringConstraints

from ccare.core.schemas import Output, StrictInput
from ccare.webhooks.models import DeliveryStatus, SubscriptionStatus, WebhookFormat

# The published event types: what a subscription may ask for, and what each means.
EVENT_TYPES: dict[str, str] = {
    "order.created": "An order was created and waits for payment.",
    "order.paid": "An order was paid.",
    "order.closed": "An unpaid order was closed by the buyer, the merchant or on expiry.",
    "order.refunded": "Part or all of an order was refunded.",
    "coupon.claimed": "A user claimed one of the merchant's coupons (or was sent one).",
    "coupon.used": "A coupon was used on a paid order.",
    "coupon.expired": "A claimed coupon reached the end of its validity unused.",
    "coupon.stock_exhausted": "A coupon activity gave out its last coupon.",
    "favorite.added": "A user favorited one of the merchant's mini-programs.",
    "favorite.removed": "A user stopped favoriting one of the merchant's mini-programs.",
    "segment.refreshed": "A customer segment's membership was computed again.",
    "campaign.started": "A campaign ran its first round.",
    "campaign.round_done": "A campaign chose members; its treatment arm got a message or coupon.",
    "campaign.finished": "A campaign finished, or was cancelled.",
    "message.sent": "A subscription message was sent to a user.",
    "message.opened": "A user opened a subscription message.",
    "message.clicked": "A user followed a subscription message's link.",
    "message.converted": "A user paid an order within 7 days of following a message's link.",
    "openplatform.app_authorized": "A merchant authorised this ISV app (sent to that app only).",
    "openplatform.key_rotated": "A new public key was registered for this app (sent to it only).",
}
# Event types about a merchant's business reach the apps acting for it that hold the scope;
# the others concern one app and go to that app alone.
EVENT_SCOPES: dict[str, str] = {
    "order.created": "orders",
    "order.paid": "orders",
    "order.closed": "orders",
    "order.refunded": "orders",
    "coupon.claimed": "coupons",
    "coupon.used": "coupons",
    "coupon.expired": "coupons",
    "coupon.stock_exhausted": "coupons",
    "favorite.added": "favorites",
    "favorite.removed": "favorites",
    "segment.refreshed": "segments",
    "campaign.started": "campaigns",
    "campaign.round_done": "campaigns",
    "campaign.finished": "campaigns",
    "message.sent": "messages",
    "message.opened": "messages",
    "message.clicked": "messages",
    "message.converted": "messages",
}


def _known_types(types: list[str]) -> list[str]:
    unknown = sorted(set(types) - set(EVENT_TYPES))
    if unknown:
        raise ValueError(f"unknown event types {unknown}; see /api/v1/webhook-event-types")
    return sorted(set(types))


EventTypes = Annotated[
    list[Annotated[str, StringConstraints(max_length=64)]],
    Field(min_length=1, max_length=len(EVENT_TYPES)),
    AfterValidator(_known_types),
]
Url = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=500, pattern=r"^https?://[^\s]+$")
]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]


class WebhookCreate(StrictInput):
    url: Url
    event_types: EventTypes
    format: Literal["json"] = Field(
        default="json", description="json (Alipay v1 notifications go to an order's notify_url)"
    )
    description: Description = ""


class WebhookUpdate(StrictInput):
    url: Url | None = None
    event_types: EventTypes | None = None
    status: SubscriptionStatus | None = None
    description: Description | None = None


class WebhookOut(Output):
    id: int
    app_id: str
    url: str
    event_types: list[str]
    format: WebhookFormat
    status: SubscriptionStatus
    description: str
    created_at: datetime
    updated_at: datetime


class EventTypeOut(BaseModel):
    type: str
    description: str
    scope: str | None = Field(description="the app scope needed to receive it; null: own events")


class DeliveryOut(Output):
    id: int
    notify_id: str = Field(description="the same on every attempt; deduplicate on it")
    app_id: str | None
    subscription_id: int | None
    merchant_id: int | None
    event_id: str
    event_type: str
    format: WebhookFormat
    url: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None = Field(description="null unless pending")
    created_at: datetime
    last_attempt_at: datetime | None
    delivered_at: datetime | None
    last_status_code: int | None
    last_error: str | None


class AttemptOut(Output):
    number: int
    started_at: datetime
    duration_ms: int
    status_code: int | None
    response_body: str | None
    error: str | None
    succeeded: bool


class DeliveryDetail(DeliveryOut):
    payload: dict[str, Any] = Field(
        description="JSON: the body; alipay_v1: the form fields but notify_time and sign, "
        "which each attempt sets"
    )
    history: list[AttemptOut]


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
    limit: int
    offset: int


@dataclass(frozen=True)
class Outgoing:
    """A claimed delivery, signed and ready to send; `token` proves the lease."""

    delivery_id: int
    token: str
    notify_id: str
    url: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Outcome:
    started_at: datetime
    duration_ms: int
    status_code: int | None
    response_body: str | None
    error: str | None
