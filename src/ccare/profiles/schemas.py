"""Requests, responses and domain events of this product."""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, Field, StringConstraints, field_validator

from ccare.core.events import DomainEvent, domain_event
from ccare.core.schemas import Output, StrictInput
from ccare.profiles.models import EventChannel

MAX_BATCH = 500
MAX_PROPERTIES = 20
MAX_PROPERTY_TEXT = 256
MAX_FEN = 10**12
# JSON numbers beyond 2^53 lose precision in some readers; refuse them instead.
MAX_PROPERTY_INT = 2**53

Id = Annotated[int, Field(gt=0, lt=2**62)]
ExternalId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64, pattern=r"^[!-~]+$"),
    Field(description="your own id of the event: 1–64 visible ASCII characters, no spaces"),
]
EventName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=40, pattern=r"^[a-z][a-z0-9_]*$"),
    Field(description='a lowercase token, e.g. "visit", "page_view", "share", "purchase"'),
]
PROPERTY_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,39}")
PropertyValue = bool | int | float | str


class CustomerEventIn(StrictInput):
    """One event about one of your customers."""

    event_id: ExternalId
    consumer_id: Id
    name: EventName
    occurred_at: AwareDatetime = Field(
        description="with a time zone; at most 5 minutes ahead, at most 400 days old"
    )
    channel: EventChannel | None = None
    amount_fen: Annotated[int, Field(ge=0, le=MAX_FEN)] | None = None
    properties: dict[str, PropertyValue] = Field(
        default_factory=dict,
        description=f"flat: at most {MAX_PROPERTIES} keys (identifiers), each a string "
        f"(≤ {MAX_PROPERTY_TEXT} characters), number or boolean",
        json_schema_extra={"maxProperties": MAX_PROPERTIES},
    )

    @field_validator("properties", mode="plain")
    @classmethod
    def _flat(cls, value: Any) -> dict[str, PropertyValue]:
        # One readable error per property instead of pydantic's per-union-member ones.
        if not isinstance(value, dict):
            raise ValueError("must be an object")
        if len(value) > MAX_PROPERTIES:
            raise ValueError(f"at most {MAX_PROPERTIES} keys, got {len(value)}")
        for key, item in value.items():
            if not isinstance(key, str) or not _is_property_key(key):
                raise ValueError(f"key {key!r} is not an identifier of at most 40 characters")
            problem = _property_problem(item)
            if problem:
                raise ValueError(f"{key}: {problem}")
        return dict(value)


def _is_property_key(key: str) -> bool:
    return PROPERTY_KEY.fullmatch(key) is not None


def _property_problem(item: Any) -> str | None:
    if isinstance(item, bool):
        return None
    if isinstance(item, int):
        return None if abs(item) <= MAX_PROPERTY_INT else "integer out of range"
    if isinstance(item, float):
        return None if math.isfinite(item) else "must be a finite number"
    if isinstance(item, str):
        if len(item) > MAX_PROPERTY_TEXT:
            return f"text longer than {MAX_PROPERTY_TEXT} characters"
        return "NUL characters are not allowed" if "\x00" in item else None
    return "must be a string, number or boolean (flat: no objects or lists)"


class CustomerEventBatch(StrictInput):
    """A batch of customer events: all are accepted, or none (the error names the path)."""

    merchant_id: Id | None = Field(
        default=None, description="ISVs and operators: the merchant the events belong to"
    )
    events: list[CustomerEventIn] = Field(min_length=1, max_length=MAX_BATCH)


class IngestResult(BaseModel):
    merchant_id: int
    accepted: int = Field(description="events stored now")
    duplicates: int = Field(description="events already received earlier: not stored again")
    accepted_ids: list[str]
    duplicate_ids: list[str]


class CustomerProfile(Output):
    """A customer of one merchant, computed from the analytics store."""

    consumer_id: int
    first_seen: datetime
    last_seen: datetime
    visits: int
    orders: int
    gmv_fen: int = Field(description="paid minus refunded, fen")
    last_order_at: datetime | None
    favorites: int = Field(description="your mini-programs this customer has favorited now")
    coupons_claimed: int
    coupons_used: int
    acquisition_channel: str | None = Field(description="channel of the first event with one")
    member_level: str | None = Field(description="the platform member level")
    recency_days: int | None = Field(description="whole days since the last order")
    r_score: int = Field(description="1–5 recency quintile among buyers; 0 without orders")
    f_score: int = Field(description="1–5 order-count quintile among buyers; 0 without orders")
    m_score: int = Field(description="1–5 GMV quintile among buyers; 0 without orders")
    rfm_segment: str


class ProfilePage(BaseModel):
    merchant_id: int
    total: int = Field(description="customers matching the filters")
    limit: int
    offset: int
    items: list[CustomerProfile]


class TimelineEvent(BaseModel):
    event_id: str
    type: str
    occurred_at: datetime
    amount: int | None
    name: str | None = Field(description="customer events: the name you gave")
    channel: str | None
    payload: dict[str, Any]


class ProfileDetail(BaseModel):
    merchant_id: int
    profile: CustomerProfile
    timeline: list[TimelineEvent] = Field(description="recent events with you, newest first")


class RfmLabelOut(BaseModel):
    segment: str
    r: tuple[int, int]
    f: tuple[int, int]
    m: tuple[int, int]


class RfmBucket(BaseModel):
    segment: str
    customers: int
    gmv_fen: int


class RfmDistribution(BaseModel):
    merchant_id: int
    customers: int
    segments: list[RfmBucket] = Field(description="every segment of the label table, in order")
    labels: list[RfmLabelOut] = Field(
        description="score ranges (inclusive) per segment; the first match wins"
    )


@domain_event("customer.event")
class CustomerEvent(DomainEvent):
    """An event a merchant sent through the ingestion API; event_id is
    `ext:{merchant_id}:{external_id}`, occurred_at the merchant's timestamp."""

    amount: int | None = None
    name: str
    channel: str | None = None
    external_id: str
    properties: dict[str, bool | int | float | str] = Field(default_factory=dict)
