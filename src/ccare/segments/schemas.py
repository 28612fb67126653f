"""Requests, responses and domain events of segments."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from ccare.core.events import DomainEvent, domain_event
from ccare.core.schemas import Output, StrictInput

RULE_DOC = (
    "A rule tree: one key per node, `all`/`any` (lists), `not`, or a leaf `event`,"
    " `profile`, `favorited`, `coupon`. Its JSON Schema: GET /api/v1/segments/schema."
)
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]
RequestNo = Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z_-]{1,64}$")]
Minutes = Annotated[int, Field(ge=15, le=43_200, description="refresh every N minutes")]
MerchantId = Annotated[int, Field(gt=0, lt=2**62)]
Rule = Annotated[
    dict[str, Any],
    Field(
        description=RULE_DOC,
        examples=[
            {
                "all": [
                    {"event": {"type": "order.paid", "count": {"gte": 2}, "within_days": 90}},
                    {"not": {"coupon": {"state": "used"}}},
                    {"favorited": {"within_days": 30}},
                ]
            }
        ],
    ),
]


class SegmentCreate(StrictInput):
    merchant_id: MerchantId | None = Field(default=None, description="omitted: your merchant")
    name: Name
    out_request_no: RequestNo | None = Field(
        default=None, description="the same out_request_no again returns the same segment"
    )
    rule: Rule
    refresh_every_minutes: Minutes | None = Field(
        default=1440, description="null: refreshed on demand only"
    )


class SegmentUpdate(StrictInput):
    name: Name | None = None
    rule: Rule | None = None
    refresh_every_minutes: Minutes | None = Field(
        default=None, description="send null explicitly to refresh on demand only"
    )


class EstimateRequest(StrictInput):
    merchant_id: MerchantId | None = None
    rule: Rule


class EstimateOut(Output):
    merchant_id: int
    size: int
    computed_at: datetime
    compute_ms: int


class SegmentOut(Output):
    id: int
    merchant_id: int
    name: str
    out_request_no: str | None
    rule: dict[str, Any]
    refresh_every_minutes: int | None
    next_refresh_at: datetime | None
    size: int = Field(description="members at the last successful computation")
    last_computed_at: datetime | None
    compute_ms: int | None
    last_error: str | None = Field(description="the last refresh's error; members are kept")
    last_error_at: datetime | None
    status: Literal["pending", "ready", "failed"]
    created_at: datetime
    updated_at: datetime


class SizePoint(Output):
    computed_at: datetime
    size: int
    added: int
    removed: int


@domain_event("segment.refreshed")
class SegmentRefreshed(DomainEvent):
    segment_id: int
    size: int
    added: int
    removed: int
