from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ccare.core.db import Base, BigId, IdMixin, JSONType, TimestampMixin, str_enum
from ccare.core.time import utcnow


class WebhookFormat(StrEnum):
    # ccare's own JSON envelope, signed in headers like a native API response.
    JSON = "json"
    # Alipay's v1 asynchronous notification: a signed form POST to an order's notify_url.
    ALIPAY_V1 = "alipay_v1"


class SubscriptionStatus(StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    # Every attempt of the schedule failed; only a replay sends it again.
    DEAD = "dead"


class WebhookSubscription(IdMixin, TimestampMixin, Base):
    """An app's endpoint for some event types. Rows belong to the app, not to a merchant:
    an ISV app receives the events of every merchant it acts for."""

    __tablename__ = "webhook_subscriptions"

    app_pk: Mapped[int] = mapped_column(ForeignKey("developer_apps.id"), index=True)
    app_id: Mapped[str] = mapped_column(String(32))
    url: Mapped[str] = mapped_column(String(500))
    event_types: Mapped[list[str]] = mapped_column(JSONType)
    format: Mapped[WebhookFormat] = mapped_column(str_enum(WebhookFormat))
    status: Mapped[SubscriptionStatus] = mapped_column(
        str_enum(SubscriptionStatus), default=SubscriptionStatus.ACTIVE
    )
    description: Mapped[str] = mapped_column(String(200), default="")


class WebhookDelivery(IdMixin, Base):
    """One notification to one endpoint, kept with every attempt until delivered or dead."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        # One delivery per event and endpoint, however often the event itself is relayed.
        UniqueConstraint("event_id", "target"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    )

    # Sent with every attempt: receivers deduplicate on it.
    notify_id: Mapped[str] = mapped_column(String(64), unique=True)
    app_pk: Mapped[int | None] = mapped_column(ForeignKey("developer_apps.id"), index=True)
    app_id: Mapped[str | None] = mapped_column(String(32))
    # No foreign key: deleting a subscription keeps the history of what it received.
    subscription_id: Mapped[int | None] = mapped_column(BigId)
    merchant_id: Mapped[int | None] = mapped_column(index=True)
    event_id: Mapped[str] = mapped_column(String(100))
    event_type: Mapped[str] = mapped_column(String(64))
    # "subscription:<id>" or "notify_url".
    target: Mapped[str] = mapped_column(String(40))
    format: Mapped[WebhookFormat] = mapped_column(str_enum(WebhookFormat))
    url: Mapped[str] = mapped_column(String(500))
    # JSON: the body; v1: the form fields except notify_time, sign (both set per attempt).
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    status: Mapped[DeliveryStatus] = mapped_column(
        str_enum(DeliveryStatus), default=DeliveryStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A worker's lease: until then no other worker sends this row. A worker that dies
    # mid-request leaves it to be claimed again when the lease ends.
    claimed_until: Mapped[datetime | None]
    claim_token: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_attempt_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    last_status_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(String(500))


class DeliveryAttempt(IdMixin, Base):
    __tablename__ = "webhook_attempts"

    delivery_id: Mapped[int] = mapped_column(BigId, ForeignKey("webhook_deliveries.id"), index=True)
    number: Mapped[int]
    started_at: Mapped[datetime]
    duration_ms: Mapped[int]
    status_code: Mapped[int | None]
    # The first 500 characters of the receiver's answer.
    response_body: Mapped[str | None] = mapped_column(String(500))
    error: Mapped[str | None] = mapped_column(String(500))
    succeeded: Mapped[bool]
