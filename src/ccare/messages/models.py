"""Subscription messages: templates, the consent ledger, broadcasts and the inbox rows.

Consents are spent, caps counted and broadcast recipients claimed only by conditional
UPDATEs and upserts, so concurrent sends can neither send without consent, pass a cap,
nor deliver one broadcast twice to anybody.
"""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ccare.core.db import Base, BigId, IdMixin, JSONType, TimestampMixin, str_enum
from ccare.core.time import utcnow

DEFAULT_TIME_ZONE = "Asia/Shanghai"


class Category(StrEnum):
    MARKETING = "marketing"  # capped, and held back during quiet hours
    SERVICE = "service"  # order and account notices: exempt from caps and quiet hours


class TemplateStatus(StrEnum):
    ACTIVE = "active"
    ARCHIVED = "archived"


class ConsentKind(StrEnum):
    ONCE = "once"  # one opt-in, one send
    LONG_TERM = "long_term"  # until revoked


class ConsentStatus(StrEnum):
    ACTIVE = "active"
    USED = "used"
    REVOKED = "revoked"


class MessageState(StrEnum):
    PENDING = "pending"  # claimed for sending, not decided yet (never committed as such by a send)
    SCHEDULED = "scheduled"  # marketing due in quiet hours: goes out at due_at
    SENT = "sent"
    DELIVERED = "delivered"  # the consumer's app fetched it
    OPENED = "opened"
    CLICKED = "clicked"
    CONVERTED = "converted"  # the consumer paid the merchant within 7 days after the click
    REFUSED = "refused"


class RefusalReason(StrEnum):
    NO_CONSENT = "no_consent"
    DAILY_CAP = "daily_cap"
    WEEKLY_CAP = "weekly_cap"


class BroadcastStatus(StrEnum):
    DRAFT = "draft"
    SENDING = "sending"
    DONE = "done"
    FAILED = "failed"


class MessageTemplate(IdMixin, TimestampMixin, Base):
    __tablename__ = "message_templates"
    __table_args__ = (UniqueConstraint("merchant_id", "name"),)

    merchant_id: Mapped[int] = mapped_column(BigInteger, index=True)
    name: Mapped[str] = mapped_column(String(60))
    category: Mapped[Category] = mapped_column(str_enum(Category))
    title: Mapped[str] = mapped_column(String(60))
    body: Mapped[str] = mapped_column(String(500))
    link: Mapped[str | None] = mapped_column(String(200))
    mini_program_id: Mapped[int | None] = mapped_column(BigInteger)
    variables: Mapped[list[str]] = mapped_column(JSONType, default=list)
    status: Mapped[TemplateStatus] = mapped_column(
        str_enum(TemplateStatus), default=TemplateStatus.ACTIVE
    )


class Consent(IdMixin, Base):
    """One opt-in of a consumer to a template: a one-time consent is spent by one send."""

    __tablename__ = "message_consents"
    __table_args__ = (
        Index("ix_message_consents_lookup", "template_id", "consumer_id", "status"),
        Index("ix_message_consents_consumer", "consumer_id", "status"),
    )

    merchant_id: Mapped[int] = mapped_column(BigInteger)
    template_id: Mapped[int] = mapped_column(BigId, ForeignKey("message_templates.id"))
    consumer_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[ConsentKind] = mapped_column(str_enum(ConsentKind))
    status: Mapped[ConsentStatus] = mapped_column(
        str_enum(ConsentStatus), default=ConsentStatus.ACTIVE
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    # The send that spent it (one-time consents).
    message_id: Mapped[int | None] = mapped_column(BigInteger, index=True)


class Recipient(Base):
    """A consumer's message settings: the time zone their quiet hours and days follow."""

    __tablename__ = "message_recipients"

    consumer_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    time_zone: Mapped[str] = mapped_column(String(40), default=DEFAULT_TIME_ZONE)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class PlatformSettings(Base):
    """The platform's caps and quiet hours (one row, id 1; absent means the defaults)."""

    __tablename__ = "message_platform_settings"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    marketing_per_day: Mapped[int]
    marketing_per_week: Mapped[int]
    quiet_start_minute: Mapped[int]  # minutes after local midnight
    quiet_end_minute: Mapped[int]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class CapCounter(Base):
    """Marketing messages a consumer got (or is scheduled to get) in a local period,
    across every merchant: "d:2026-11-24", "w:2026-W48"."""

    __tablename__ = "message_cap_counters"

    consumer_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    period: Mapped[str] = mapped_column(String(16), primary_key=True)
    count: Mapped[int] = mapped_column(default=0)


class RefusalCount(Base):
    """Sends refused, per template and reason."""

    __tablename__ = "message_refusal_counts"

    template_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("message_templates.id"), primary_key=True, autoincrement=False
    )
    reason: Mapped[RefusalReason] = mapped_column(str_enum(RefusalReason), primary_key=True)
    merchant_id: Mapped[int] = mapped_column(BigInteger, index=True)
    count: Mapped[int] = mapped_column(BigInteger, default=0)


class Broadcast(IdMixin, TimestampMixin, Base):
    __tablename__ = "message_broadcasts"
    __table_args__ = (UniqueConstraint("merchant_id", "out_request_no"),)

    merchant_id: Mapped[int] = mapped_column(BigInteger, index=True)
    template_id: Mapped[int] = mapped_column(BigId, ForeignKey("message_templates.id"))
    out_request_no: Mapped[str] = mapped_column(String(64))
    variables: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # Filled in when the broadcast is created: every recipient gets the same words.
    title: Mapped[str] = mapped_column(String(120))
    body: Mapped[str] = mapped_column(String(1000))
    # Where the recipients come from: {"kind": "consumers", "consumer_ids": [...]}.
    recipients: Mapped[dict[str, Any]] = mapped_column(JSONType)
    status: Mapped[BroadcastStatus] = mapped_column(
        str_enum(BroadcastStatus), default=BroadcastStatus.DRAFT
    )
    # Source batches fully decided: a new run resumes after them.
    chunks_done: Mapped[int] = mapped_column(default=0)
    total: Mapped[int] = mapped_column(BigInteger, default=0)
    error: Mapped[str | None] = mapped_column(String(300))
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class Message(IdMixin, Base):
    """One message to one consumer (a row of their inbox once sent), or a refused send.

    (broadcast_id, consumer_id) is unique: the row is the broadcast's send-once lock.
    """

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("broadcast_id", "consumer_id"),
        UniqueConstraint("merchant_id", "request_no"),
        Index("ix_messages_inbox", "consumer_id", "state"),
        Index("ix_messages_due", "state", "due_at"),
    )

    merchant_id: Mapped[int] = mapped_column(BigInteger)
    template_id: Mapped[int] = mapped_column(BigId, ForeignKey("message_templates.id"))
    consumer_id: Mapped[int] = mapped_column(BigInteger)
    broadcast_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("message_broadcasts.id"))
    request_no: Mapped[str | None] = mapped_column(String(64))
    category: Mapped[Category] = mapped_column(str_enum(Category))
    title: Mapped[str] = mapped_column(String(120))
    body: Mapped[str] = mapped_column(String(1000))
    link: Mapped[str | None] = mapped_column(String(200))
    time_zone: Mapped[str] = mapped_column(String(40), default=DEFAULT_TIME_ZONE)
    state: Mapped[MessageState] = mapped_column(
        str_enum(MessageState), default=MessageState.PENDING
    )
    reason: Mapped[RefusalReason | None] = mapped_column(str_enum(RefusalReason))
    consent_id: Mapped[int | None] = mapped_column(BigInteger)
    # The claim of the send that is deciding this row (a transaction-local token).
    batch: Mapped[str | None] = mapped_column(String(32), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    opened_at: Mapped[datetime | None]
    clicked_at: Mapped[datetime | None]
    converted_at: Mapped[datetime | None]
    order_id: Mapped[int | None] = mapped_column(BigInteger)
