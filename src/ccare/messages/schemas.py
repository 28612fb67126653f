"""Requests, responses and domain events of this product."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from ccare.core.events import DomainEvent, domain_event
from ccare.core.schemas import Output, StrictInput
from ccare.messages.models import (
    BroadcastStatus,
    Category,
    ConsentKind,
    ConsentStatus,
    MessageState,
    TemplateStatus,
)

MerchantId = Annotated[int, Field(gt=0, lt=2**62)]
ConsumerId = Annotated[int, Field(gt=0, lt=2**62)]
RequestNo = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z_\-]+$")]
VariableValue = Annotated[str, Field(max_length=64)] | int | float
Variables = Annotated[dict[str, VariableValue], Field(max_length=20)]

# --- templates ---------------------------------------------------------------------------


class TemplateCreate(StrictInput):
    merchant_id: MerchantId | None = Field(default=None, description="defaults to your own")
    name: str = Field(min_length=1, max_length=60)
    category: Category
    title: str = Field(min_length=1, max_length=60, description="may hold {placeholders}")
    body: str = Field(min_length=1, max_length=500, description="may hold {placeholders}")
    link: str | None = Field(default=None, max_length=200, description="a mini-program page path")
    mini_program_id: Annotated[int, Field(gt=0, lt=2**62)] | None = None


class TemplateChange(StrictInput):
    name: str | None = Field(default=None, min_length=1, max_length=60)
    title: str | None = Field(default=None, min_length=1, max_length=60)
    body: str | None = Field(default=None, min_length=1, max_length=500)
    link: str | None = Field(default=None, max_length=200, description="'' removes the link")


class TemplateOut(Output):
    id: int
    merchant_id: int
    name: str
    category: Category
    title: str
    body: str
    link: str | None
    mini_program_id: int | None
    variables: list[str]
    status: TemplateStatus
    created_at: datetime
    updated_at: datetime


class RefusalsOut(BaseModel):
    template_id: int
    refused: dict[str, int] = Field(description="refused sends per reason")


# --- sending ------------------------------------------------------------------------------


class SendRequest(StrictInput):
    consumer_id: ConsumerId
    variables: Variables = Field(default_factory=dict)
    out_request_no: RequestNo = Field(description="the same number again is the same send")


class MessageOut(Output):
    id: int
    merchant_id: int
    template_id: int
    consumer_id: int
    broadcast_id: int | None
    category: Category
    title: str
    body: str
    link: str | None
    state: MessageState
    reason: str | None
    due_at: datetime | None
    sent_at: datetime | None
    delivered_at: datetime | None
    opened_at: datetime | None
    clicked_at: datetime | None
    converted_at: datetime | None


class InboxMessage(Output):
    id: int
    merchant_id: int
    category: Category
    title: str
    body: str
    link: str | None
    state: MessageState
    sent_at: datetime | None
    opened_at: datetime | None


# --- broadcasts ---------------------------------------------------------------------------


class ConsumerList(StrictInput):
    kind: Literal["consumers"] = "consumers"
    consumer_ids: list[ConsumerId] = Field(min_length=1, max_length=100_000)


class BroadcastCreate(StrictInput):
    merchant_id: MerchantId | None = None
    template_id: Annotated[int, Field(gt=0, lt=2**62)]
    variables: Variables = Field(default_factory=dict)
    recipients: ConsumerList
    out_request_no: RequestNo = Field(description="the same number again is the same broadcast")
    start: bool = Field(default=False, description="start sending at once")


class BroadcastOut(Output):
    id: int
    merchant_id: int
    template_id: int
    out_request_no: str
    variables: dict[str, Any]
    status: BroadcastStatus
    recipients_kind: str
    total: int
    error: str | None
    started_at: datetime | None
    finished_at: datetime | None
    created_at: datetime


class BroadcastReport(BaseModel):
    broadcast_id: int
    status: BroadcastStatus
    total: int
    states: dict[str, int] = Field(description="messages per delivery state")
    refused: dict[str, int] = Field(description="refused sends per reason")


# --- consent and settings -----------------------------------------------------------------


class ConsentCreate(StrictInput):
    template_id: Annotated[int, Field(gt=0, lt=2**62)]
    kind: ConsentKind = ConsentKind.ONCE


class ConsentOut(Output):
    id: int
    merchant_id: int
    template_id: int
    kind: ConsentKind
    status: ConsentStatus
    created_at: datetime
    used_at: datetime | None
    revoked_at: datetime | None


class PromptTemplate(BaseModel):
    """One line of the subscribe prompt: a template and what the consumer agreed to."""

    template_id: int
    name: str
    category: Category
    title: str
    long_term: bool = Field(description="a long-term consent is active")
    once_remaining: int = Field(description="one-time consents not yet spent")


class SubscribePrompt(BaseModel):
    merchant_id: int
    merchant_name: str
    templates: list[PromptTemplate]


class RecipientSettingsIn(StrictInput):
    time_zone: str = Field(min_length=3, max_length=40, description="IANA, e.g. Asia/Shanghai")


class RecipientSettingsOut(BaseModel):
    time_zone: str


class PlatformSettingsIn(StrictInput):
    marketing_per_day: int = Field(ge=0, le=100)
    marketing_per_week: int = Field(ge=0, le=700)
    quiet_start: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="HH:MM local")
    quiet_end: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="HH:MM local")


class PlatformSettingsOut(BaseModel):
    marketing_per_day: int
    marketing_per_week: int
    quiet_start: str
    quiet_end: str


class FunnelOut(BaseModel):
    merchant_id: int
    template_id: int | None
    broadcast_id: int | None
    sent: int
    delivered: int
    opened: int
    clicked: int
    converted: int
    converted_fen: int


# --- events -------------------------------------------------------------------------------


class _MessageEvent(DomainEvent):
    message_id: int
    template_id: int
    broadcast_id: int | None = None
    category: str


@domain_event("message.sent")
class MessageSent(_MessageEvent):
    pass


@domain_event("message.delivered")
class MessageDelivered(_MessageEvent):
    pass


@domain_event("message.opened")
class MessageOpened(_MessageEvent):
    pass


@domain_event("message.clicked")
class MessageClicked(_MessageEvent):
    pass


@domain_event("message.converted")
class MessageConverted(_MessageEvent):
    order_id: int
    amount: int = Field(description="fen the consumer paid for the order")


@domain_event("message.consented")
class MessageConsented(DomainEvent):
    consent_id: int
    template_id: int
    kind: str


@domain_event("message.consent_revoked")
class MessageConsentRevoked(DomainEvent):
    consent_id: int
    template_id: int
    kind: str
