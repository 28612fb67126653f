"""Requests and responses of the promotion platform's plans, ad groups and creatives."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from ccare.core.events import DomainEvent, domain_event
from ccare.core.schemas import Output, StrictInput
from ccare.promotion.models import AdStatus, BidType, ChargeType, Objective, ReviewStatus

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]
RequestNo = Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z_-]{1,64}$")]
Id = Annotated[int, Field(gt=0, lt=2**62)]
Hours = Annotated[
    str,
    StringConstraints(pattern=r"^[01]{168}$"),
    Field(description="7 × 24 characters, Monday 00:00 first, local time; 1 = may serve"),
]
ALL_HOURS = "1" * 168
MAX_BID_FEN = 100_000  # ¥1,000 a click or a thousand impressions: anything above is a typo
Budget = Annotated[int, Field(ge=1_000, le=10**10, description="fen; at least ¥10")]
Word = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20)]


class SearchWord(StrictInput):
    word: Word
    match: Literal["exact", "phrase", "broad"] = Field(
        default="broad",
        description="exact: the query is the word; phrase: the query holds the word's"
        " segmented tokens in order; broad: all its tokens (or synonyms) in any order",
    )


class PlanCreate(StrictInput):
    merchant_id: Id | None = Field(default=None, description="omitted: your merchant")
    out_request_no: RequestNo = Field(description="the same number again: the same plan")
    name: Name
    objective: Objective
    charge_type: ChargeType = ChargeType.CPC
    daily_budget_fen: Budget
    total_budget_fen: Budget | None = None
    hours: Hours = ALL_HOURS


def _no_nulls(model: StrictInput, nullable: frozenset[str]) -> None:
    """A PATCH leaves out what it does not change; an explicit null is only for what may
    be removed (a total budget, a frequency cap)."""
    nulled = sorted(
        f for f in model.model_fields_set if getattr(model, f) is None and f not in nullable
    )
    if nulled:
        raise ValueError(f"{', '.join(nulled)} cannot be null: leave it out to keep it")


class PlanUpdate(StrictInput):
    name: Name | None = None
    daily_budget_fen: Budget | None = None
    total_budget_fen: Budget | None = Field(default=None, description="null: no total budget")
    hours: Hours | None = None
    status: AdStatus | None = None

    @model_validator(mode="after")
    def _only_removable_nulls(self) -> PlanUpdate:
        _no_nulls(self, frozenset({"total_budget_fen"}))
        return self


class Targeting(StrictInput):
    placements: list[Annotated[str, StringConstraints(max_length=40)]] = Field(
        min_length=1, max_length=20, description="placement keys: GET /api/v1/ad-placements"
    )
    segments_include: list[Id] = Field(default_factory=list, max_length=20)
    segments_exclude: list[Id] = Field(default_factory=list, max_length=20)
    cities: list[Annotated[str, StringConstraints(min_length=1, max_length=30)]] = Field(
        default_factory=list, max_length=100
    )
    member_levels: list[Literal["public", "gold", "platinum", "diamond"]] = Field(
        default_factory=list, max_length=4
    )
    search_words: list[Word | SearchWord] = Field(
        default_factory=list,
        max_length=200,
        description="search placements only: a word (broad match) or {word, match}",
    )
    exclude_converted: bool = Field(
        default=False, description="leave out users who already converted for this plan"
    )


class GroupCreate(StrictInput):
    plan_id: Id
    name: Name
    bid_type: BidType = BidType.MANUAL
    bid_fen: int = Field(
        ge=1, le=MAX_BID_FEN, description="per click (CPC plans) or per 1,000 impressions"
    )
    target_cpa_fen: int | None = Field(default=None, ge=1, le=10**7, description="oCPC only")
    target_roi_bp: int | None = Field(
        default=None, ge=100, le=1_000_000, description="target_roi only: 25000 = GMV 2.5× spend"
    )
    targeting: Targeting
    frequency_per_day: int | None = Field(default=None, ge=1, le=50)


class GroupUpdate(StrictInput):
    name: Name | None = None
    bid_fen: int | None = Field(default=None, ge=1, le=MAX_BID_FEN)
    target_cpa_fen: int | None = Field(default=None, ge=1, le=10**7)
    target_roi_bp: int | None = Field(default=None, ge=100, le=1_000_000)
    targeting: Targeting | None = None
    frequency_per_day: int | None = Field(default=None, ge=1, le=50, description="null: no cap")
    status: AdStatus | None = None

    @model_validator(mode="after")
    def _only_removable_nulls(self) -> GroupUpdate:
        _no_nulls(self, frozenset({"target_cpa_fen", "target_roi_bp", "frequency_per_day"}))
        return self


class CreativeCreate(StrictInput):
    group_id: Id
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
    description: Annotated[str, StringConstraints(strip_whitespace=True, max_length=80)] = ""
    mini_program_id: Id = Field(description="the landing mini-program, one of yours")
    page: Annotated[
        str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9_./-]{1,200}$")
    ] = Field(description="the landing page inside the mini-program, e.g. pages/menu/index")
    coupon_activity_id: Id | None = Field(default=None, description="a coupon the ad carries")


class ReviewRequest(StrictInput):
    decision: Literal["approved", "rejected"]
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None


class PlacementOut(Output):
    key: str
    scene: str
    name: str
    slots: int
    reserve_cpc_fen: int
    reserve_cpm_fen: int
    cpm: bool
    auctioned: bool


class PlanOut(Output):
    id: int
    merchant_id: int
    out_request_no: str
    name: str
    objective: Objective
    charge_type: ChargeType
    daily_budget_fen: int
    total_budget_fen: int | None
    hours: str
    status: AdStatus
    created_at: datetime


class GroupOut(Output):
    id: int
    plan_id: int
    merchant_id: int
    name: str
    bid_type: BidType
    bid_fen: int
    target_cpa_fen: int | None
    target_roi_bp: int | None
    targeting: Targeting
    frequency_per_day: int | None
    status: AdStatus
    created_at: datetime


class CreativeOut(Output):
    id: int
    group_id: int
    merchant_id: int
    title: str
    description: str
    mini_program_id: int
    page: str
    coupon_activity_id: int | None
    review_status: ReviewStatus
    review_note: str | None
    reviewed_at: datetime | None
    status: AdStatus
    created_at: datetime


# --- tracking events (analytics and reports read these) ------------------------------


@domain_event("ad.impression")
class AdImpressed(DomainEvent):
    """A served ad was seen. `booking_id` is set for brand bookings (品牌宝), `grant_id` for
    free exposure paid with incentive points (繁星); both are then not charged here."""

    impression_id: int
    placement: str
    plan_id: int | None
    group_id: int | None
    creative_id: int
    booking_id: int | None = None
    grant_id: int | None = None
    cost_millifen: int = 0


@domain_event("ad.click")
class AdClicked(DomainEvent):
    click_id: int
    impression_id: int
    placement: str
    plan_id: int | None
    group_id: int | None
    creative_id: int
    status: str  # billed, free, invalid, unfunded
    cost_millifen: int = 0


@domain_event("ad.conversion")
class AdConverted(DomainEvent):
    conversion_id: int
    click_id: int
    placement: str
    plan_id: int | None
    group_id: int | None
    creative_id: int
    source: str
    kind: str
    value_fen: int


@domain_event("promotion.charged")
class PromotionCharged(DomainEvent):
    """Whole fen moved from the advertiser's account to the platform; `amount` is what the
    C-CARE dashboard counts as promotion spend."""

    plan_id: int
    amount: int
    entry_id: int


class ReservedTermCreate(StrictInput):
    term: Word = Field(description="the brand's search term, e.g. 肯德基")
    merchant_id: Id = Field(description="the merchant certified as that brand")


class ReservedTermOut(Output):
    id: int
    term: str = Field(description="compact form: normalised, without spaces")
    merchant_id: int
    created_at: datetime
