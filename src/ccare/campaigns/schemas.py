"""Requests, responses and domain events of campaigns."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, Field, StringConstraints

from ccare.campaigns.models import Arm, CampaignStatus
from ccare.core.events import DomainEvent, domain_event
from ccare.core.schemas import Output, StrictInput

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]
RequestNo = Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z_-]{1,64}$")]
Id = Annotated[int, Field(gt=0, lt=2**62)]


class Trigger(StrictInput):
    kind: Literal["favorited_no_order", "entered_segment"] = Field(
        description="favorited_no_order: favorited one of your mini-programs at least `days`"
        " days ago, still a favoriter, and no paid order since; entered_segment: a new member"
        " of the campaign's segment"
    )
    days: int | None = Field(default=None, ge=1, le=90, description="favorited_no_order only")
    check_every_minutes: int = Field(default=60, ge=15, le=1440)


class CampaignCreate(StrictInput):
    merchant_id: Id | None = Field(default=None, description="omitted: your merchant")
    name: Name
    out_request_no: RequestNo = Field(description="the same number again: the same campaign")
    segment_id: Id | None = Field(
        default=None, description="who: the segment's members (at the start, or as they enter)"
    )
    trigger: Trigger | None = Field(
        default=None, description="omitted: once, at the start; given: whenever it fires"
    )
    template_id: Id | None = Field(default=None, description="a message template to send")
    variables: dict[str, Annotated[str, StringConstraints(max_length=200)]] = Field(
        default_factory=dict, max_length=20
    )
    activity_id: Id | None = Field(default=None, description="a coupon activity to give from")
    holdout_percent: int = Field(
        default=10,
        ge=0,
        le=50,
        description="share of the chosen consumers, drawn at random, who get nothing:"
        " the baseline of the uplift",
    )
    conversion_days: int = Field(
        default=7, ge=1, le=30, description="a paid order this many days after being chosen"
    )
    start_at: AwareDatetime | None = Field(default=None, description="omitted: when started")
    end_at: AwareDatetime | None = Field(
        default=None, description="trigger campaigns stop taking members then (default 30 days)"
    )
    start: bool = Field(default=False, description="start at once (or schedule for start_at)")


class CampaignOut(Output):
    id: int
    merchant_id: int
    name: str
    out_request_no: str
    status: CampaignStatus
    segment_id: int | None
    trigger: dict[str, Any] | None
    template_id: int | None
    activity_id: int | None
    holdout_percent: int
    conversion_days: int
    start_at: datetime | None
    end_at: datetime | None
    rounds: int
    treated: int
    held_out: int
    coupons_sent: int
    coupons_failed: int
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None
    created_at: datetime


class RoundOut(Output):
    round: int
    ran_at: datetime
    treated: int
    held_out: int
    coupons_sent: int
    coupons_failed: int
    broadcast_id: int | None = Field(description="the broadcast that carried the message")


class ArmResult(Output):
    arm: Arm
    members: int
    converters: int = Field(description="members with a paid order in their conversion window")
    conversion_rate: float
    gmv_fen: int = Field(description="paid in the windows, less refunds")
    gmv_per_member_fen: float


class CampaignResults(Output):
    campaign_id: int
    as_of: datetime
    conversion_days: int
    treatment: ArmResult
    holdout: ArmResult
    uplift: float | None = Field(
        description="treatment conversion rate minus holdout's (None without both arms)"
    )
    uplift_low: float | None = Field(description="95% confidence interval (Newcombe)")
    uplift_high: float | None
    significant: bool = Field(description="the interval excludes zero")
    incremental_conversions: float
    incremental_gmv_fen: int = Field(
        description="(treatment GMV per member − holdout's) × treatment members"
    )
    cost_fen: int = Field(description="discounts of the campaign's coupons used in the windows")
    roi: float | None = Field(
        description="(incremental GMV − cost) ÷ cost; None when nothing was spent"
    )


class MemberOut(Output):
    consumer_id: int
    arm: Arm
    round: int
    assigned_at: datetime
    coupon_id: int | None
    coupon_error: str | None


@domain_event("campaign.started")
class CampaignStarted(DomainEvent):
    campaign_id: int
    name: str
    kind: Literal["once", "trigger"]


@domain_event("campaign.round_done")
class CampaignRoundDone(DomainEvent):
    campaign_id: int
    round: int
    treated: int
    held_out: int
    coupons_sent: int
    broadcast_id: int | None


@domain_event("campaign.finished")
class CampaignFinished(DomainEvent):
    campaign_id: int
    status: Literal["done", "cancelled"]
    treated: int
    held_out: int
