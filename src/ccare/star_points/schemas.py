"""Requests, responses and domain events of 繁星 points."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from ccare.core.events import DomainEvent, domain_event
from ccare.core.schemas import Output, StrictInput
from ccare.star_points.models import GrantStatus

RequestNo = Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z_-]{1,64}$")]
Id = Annotated[int, Field(gt=0, lt=2**62)]


class RuleOut(Output):
    key: str
    name: str
    description: str
    points: int = Field(description="points (free impressions) per occurrence")
    daily_cap: int = Field(description="occurrences per merchant and local day that earn")
    daily_cap_points: int


class RuleTable(Output):
    pv_per_uv: int = Field(description="impressions a visitor you bring in is worth")
    own_channels: list[str] = Field(description="visit channels that count as your own")
    repeat_window_days: int
    rules: list[RuleOut]


class BalanceOut(Output):
    merchant_id: int
    balance: int = Field(description="points left: one point is one free impression")
    earned_total: int
    redeemed_total: int


class EntryOut(Output):
    id: int
    merchant_id: int
    rule: str = Field(description="the rule that earned, or `redeem`")
    points: int = Field(description="positive: earned; negative: redeemed")
    consumer_id: int | None
    grant_id: int | None
    day: date = Field(description="local day (UTC+8) of what earned the points")
    created_at: datetime


class RedemptionCreate(StrictInput):
    merchant_id: Id | None = Field(default=None, description="omitted: your merchant")
    ad_group_id: Id = Field(description="one of your ad groups that has not ended")
    points: int = Field(
        description="points to spend, 1 to 1,000,000: one point is one free impression"
    )
    out_request_no: RequestNo = Field(description="the same number again: the same grant")


class GrantOut(Output):
    id: int
    merchant_id: int
    group_id: int
    out_request_no: str
    points: int
    impressions_total: int
    impressions_used: int
    impressions_left: int
    status: GrantStatus
    created_at: datetime
    exhausted_at: datetime | None


@domain_event("star_points.earned")
class StarPointsEarned(DomainEvent):
    rule: str
    points: int
    entry_id: int
    source_event_id: str


@domain_event("star_points.redeemed")
class StarPointsRedeemed(DomainEvent):
    grant_id: int
    group_id: int
    points: int
    impressions: int
