"""Requests, responses and domain events of this product."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints, field_validator

from ccare.core.events import DomainEvent, domain_event
from ccare.core.schemas import Output, StrictInput
from ccare.favorites.models import MAX_BENEFITS, FavoriteChannel, GiftOutcome

Id = Annotated[int, Field(gt=0, lt=2**62)]
Key = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=48, pattern=r"^\S+$")
]
DeviceId = Annotated[str, StringConstraints(min_length=1, max_length=80)]


# --- requests ----------------------------------------------------------------------------


class FavoriteIn(StrictInput):
    channel: FavoriteChannel | None = Field(default=None, description="where the tap happened")


class BenefitClaimIn(StrictInput):
    claim_key: Key = Field(description="the caller's id for this claim: sent again, same coupon")
    device_id: DeviceId | None = None


class SettingsIn(StrictInput):
    gift_activity_id: Id | None = Field(
        default=None, description="coupon activity given at a consumer's first favorite"
    )
    benefit_activity_ids: list[Id] = Field(
        default_factory=list,
        max_length=MAX_BENEFITS,
        description="coupon activities only current favoriters see and claim",
    )

    @field_validator("benefit_activity_ids")
    @classmethod
    def _distinct(cls, ids: list[int]) -> list[int]:
        if len(set(ids)) != len(ids):
            raise ValueError("an activity is named twice")
        return ids


# --- responses ---------------------------------------------------------------------------


class ActivityBrief(Output):
    """What a consumer (and the settings) show of a coupon activity."""

    id: int
    merchant_id: int
    name: str
    status: str
    kind: str
    amount_fen: int
    floor_fen: int
    pay_rate_bp: int
    ceiling_fen: int | None
    special_fen: int
    claim_end: datetime


class GiftOut(BaseModel):
    outcome: GiftOutcome
    activity_id: int | None = None
    coupon_id: int | None = None
    refusal_code: str | None = Field(default=None, description="why no coupon was given")


class FavoriteOut(BaseModel):
    mini_program_id: int
    favorited: bool
    changed: bool = Field(description="false: it already was so (nothing announced)")
    favorited_at: datetime | None
    first_favorited_at: datetime | None
    channel: str | None
    gift: GiftOut | None = Field(description="the once-ever gift of the first favorite")


class BenefitOut(BaseModel):
    activity: ActivityBrief
    held: bool = Field(description="the consumer holds a coupon of this activity")
    claimable: bool = Field(description="open, with stock, under the consumer's limits")


class FavoriteState(BaseModel):
    """What a storefront shows about favoriting: the gift before, the benefits after."""

    mini_program_id: int
    favorited: bool
    favorited_at: datetime | None
    gift_offer: ActivityBrief | None = Field(
        description="offered to a consumer who never favorited this mini-program"
    )
    gift: GiftOut | None
    benefits: list[BenefitOut] = Field(description="shown to current favoriters only")


class MyFavorite(BaseModel):
    mini_program_id: int
    merchant_id: int
    name: str
    category: str
    city: str
    open: bool = Field(description="false: offline, or its merchant is suspended")
    favorited_at: datetime


class BenefitClaimOut(Output):
    id: int
    activity_id: int
    code: str
    channel: str
    valid_from: datetime
    valid_until: datetime


class SettingsOut(BaseModel):
    mini_program_id: int
    merchant_id: int
    gift: ActivityBrief | None
    benefits: list[ActivityBrief]
    updated_at: datetime | None
    updated_by: str | None


class DayCount(BaseModel):
    day: date = Field(description="a day in Beijing time")
    added: int
    removed: int


class FavoriterOut(Output):
    consumer_id: int
    favorited_at: datetime
    first_favorited_at: datetime
    channel: str | None


class FavoriterPage(BaseModel):
    items: list[FavoriterOut]
    total: int
    limit: int
    offset: int


class FavoritesReport(BaseModel):
    mini_program_id: int
    current: int = Field(description="consumers who favorite the mini-program now")
    days: list[DayCount] = Field(description="the last 30 days, oldest first, from analytics")
    favoriters: FavoriterPage = Field(description="current favoriters, newest first")


# --- events ------------------------------------------------------------------------------


@domain_event("favorite.added")
class FavoriteAdded(DomainEvent):
    mini_program_id: int
    channel: str | None = None


@domain_event("favorite.removed")
class FavoriteRemoved(DomainEvent):
    mini_program_id: int
    channel: str | None = None
