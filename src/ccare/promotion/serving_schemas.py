"""Requests and responses of serving, tracking, conversions and the advertiser account."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from ccare.core.schemas import Output, StrictInput
from ccare.ledger.schemas import MAX_TOP_UP_FEN

Id = Annotated[int, Field(gt=0, lt=2**62)]
Token = Annotated[str, StringConstraints(min_length=1, max_length=2000)]


class DecisionRequest(StrictInput):
    placement: Annotated[str, StringConstraints(min_length=1, max_length=40)] = Field(
        description="placement key: GET /api/v1/ad-placements"
    )
    query: Annotated[str, StringConstraints(strip_whitespace=True, max_length=60)] | None = Field(
        default=None, description="the search words (search_results only)"
    )
    city: Annotated[str, StringConstraints(min_length=1, max_length=30)] | None = Field(
        default=None, description="where the user is now; default: the consumer's city"
    )


class Landing(Output):
    mini_program_id: int
    page: str


class ServedAdOut(Output):
    slot: int
    kind: str = Field(description="auction, booking (品牌宝) or free (繁星 points)")
    merchant_id: int
    creative_id: int
    title: str
    description: str
    landing: Landing
    coupon_activity_id: int | None
    keyword: str | None
    impression_token: str = Field(description="POST it to /api/v1/ad-events/impressions when shown")
    click_token: str = Field(description="POST it to /api/v1/ad-events/clicks when tapped")


class DecisionOut(Output):
    decision_id: str
    placement: str
    ads: list[ServedAdOut]


class TokenIn(StrictInput):
    token: Token


class ImpressionOut(Output):
    impression_id: int
    charged_millifen: int = Field(description="CPM ads: what this impression cost")


class ClickOut(Output):
    click_id: int
    status: str = Field(description="billed, free (not a CPC ad), invalid or unfunded")
    reason: str | None = Field(description="why not billed: the filter's or the budget's")
    charged_millifen: int
    landing: Landing


class ConversionUpload(StrictInput):
    merchant_id: Id | None = Field(default=None, description="omitted: your merchant")
    click_id: Id
    out_conversion_no: Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z_:-]{1,64}$")]
    kind: Literal["lead", "registration", "order", "store_visit", "other"]
    value_fen: int = Field(default=0, ge=0, le=10**9)
    occurred_at: datetime


class ConversionOut(Output):
    id: int
    merchant_id: int
    click_id: int
    out_conversion_no: str
    plan_id: int | None
    group_id: int | None
    creative_id: int
    source: str
    kind: str
    value_fen: int
    occurred_at: datetime


class AdAccountOut(Output):
    merchant_id: int
    balance_fen: int


class AdTopUp(StrictInput):
    merchant_id: Id | None = Field(default=None, description="omitted: your merchant")
    amount_fen: int = Field(ge=1, le=MAX_TOP_UP_FEN)
    source: Literal["settlement", "bank_transfer"] = Field(
        description="settlement: from the merchant's sales balance; bank_transfer: money"
        " received outside the platform, recorded by an operator"
    )


class AdTopUpOut(Output):
    merchant_id: int
    entry_id: int
    amount_fen: int
    balance_fen: int
