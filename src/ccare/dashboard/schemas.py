"""Responses of the C-CARE dashboard. This product declares no domain events: it only reads
the ones every other product emits."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

MIN_DAYS = 7
MAX_DAYS = 90
DEFAULT_DAYS = 30


class CountMetric(BaseModel):
    """A whole number (a count or an amount in fen) for the period and the one before."""

    current: int
    previous: int = Field(description="the same number for the previous period")
    change: int = Field(description="current − previous")
    change_ratio: float | None = Field(
        description="change ÷ previous (0.25 = +25%); null when previous is 0"
    )


class FenMetric(BaseModel):
    """An average amount in fen, rounded half up to a whole fen; null when undefined
    (nothing to divide by)."""

    current: int | None
    previous: int | None
    change: int | None = Field(description="current − previous; null unless both are known")


class RateMetric(BaseModel):
    """A ratio (0.25 = 25%); null when undefined (nothing to divide by)."""

    current: float | None
    previous: float | None
    change: float | None = Field(description="current − previous; null unless both are known")


class Period(BaseModel):
    days: int = Field(description="length of each period in local days")
    first_day: date = Field(description="first local day of the period (UTC+8)")
    last_day: date = Field(description="last local day of the period: today, still running")
    previous_first_day: date
    previous_last_day: date
    starts_at: datetime = Field(description="first instant of the period, UTC")
    ends_at: datetime = Field(description="end of the period (exclusive), UTC")
    previous_starts_at: datetime
    time_zone: str = Field(default="UTC+08:00", description="days are counted in this zone")


# --- Scale ------------------------------------------------------------------------------


class ChannelCount(BaseModel):
    channel: str = Field(
        description="acquisition channel (the channel of the customer's first event that has "
        'one; "unknown" when none has)'
    )
    current: int = Field(description="new customers from this channel in the period")
    previous: int = Field(description="in the previous period")


class NewCustomersDay(BaseModel):
    day: date
    total: int
    by_channel: dict[str, int] = Field(description="channels with new customers that day")


class ScaleOut(BaseModel):
    """New customers: consumers whose first event ever with you falls in the period."""

    new_customers: CountMetric
    by_channel: list[ChannelCount] = Field(description="most new customers first")
    daily: list[NewCustomersDay] = Field(description="every day of the period, oldest first")


# --- Active -----------------------------------------------------------------------------


class ActiveDay(BaseModel):
    day: date
    dau: int = Field(description="consumers active with you that day")
    wau: int = Field(description="consumers active with you on any of the 7 days ending that day")


class ActiveOut(BaseModel):
    """A consumer is active on a day when they visit, order, claim or use a coupon, favorite,
    open or click a message, or you send an event about them (queries.ACTIVE_TYPES)."""

    daily: list[ActiveDay] = Field(description="every day of the period, oldest first")
    average_dau: RateMetric = Field(description="mean of the daily active consumers")
    wau: CountMetric = Field(description="weekly active consumers on the period's last day")
    active_consumers: CountMetric = Field(description="consumers active in the period")
    repeat_visitors: CountMetric = Field(description="of those, active on 2 or more days")
    repeat_visit_rate: RateMetric = Field(description="repeat_visitors ÷ active_consumers")
    favorites_added: CountMetric
    favorites_removed: CountMetric
    favorites_net: CountMetric = Field(description="added − removed")
    favoriters: CountMetric = Field(
        description="consumers with one of your mini-programs favorited at the period's end"
    )


# --- Worth ------------------------------------------------------------------------------


class SalesDay(BaseModel):
    day: date
    paid_orders: int
    paid_fen: int
    refunded_fen: int
    gmv_fen: int = Field(description="paid − refunded")


class WorthOut(BaseModel):
    """Refunds count on the day they happen, whenever the order was paid."""

    gmv_fen: CountMetric = Field(description="paid_fen − refunded_fen")
    paid_fen: CountMetric = Field(description="sum of paid orders' amounts")
    refunded_fen: CountMetric = Field(description="sum of refunds")
    paid_orders: CountMetric
    average_order_value_fen: FenMetric = Field(description="paid_fen ÷ paid_orders")
    buyers: CountMetric = Field(description="consumers with a paid order in the period")
    repeat_buyers: CountMetric = Field(description="of those, with 2 or more paid orders")
    repurchase_rate: RateMetric = Field(description="repeat_buyers ÷ buyers")
    daily: list[SalesDay] = Field(description="every day of the period, oldest first")


# --- Efficiency -------------------------------------------------------------------------


class SpendOut(BaseModel):
    source: str = Field(description='spend source key, e.g. "coupon_discounts"')
    event_type: str = Field(description="the events it is counted from")
    current_fen: int
    previous_fen: int


class CampaignRoiOut(BaseModel):
    """One campaign's return in the period (filled from the campaigns product)."""

    campaign_id: int
    name: str
    cost_fen: int
    incremental_gmv_fen: int = Field(description="GMV above the campaign's holdout group")
    roi: float | None = Field(description="incremental_gmv_fen ÷ cost_fen; null when no cost")


class EfficiencyOut(BaseModel):
    spend_fen: CountMetric = Field(description="marketing spend: the sum of by_source")
    by_source: list[SpendOut] = Field(description="every spend source, in a fixed order")
    cost_per_new_customer_fen: FenMetric = Field(description="spend ÷ new customers")
    gmv_per_spend_fen: RateMetric = Field(description="GMV (fen) per fen of spend")
    campaigns: list[CampaignRoiOut] = Field(
        default_factory=list, description="campaign ROI rows (empty without campaigns)"
    )


class CcareDashboard(BaseModel):
    """Scale, Active, woRth and Efficiency for one merchant, computed from the analytics
    events; every metric is given for the period and the previous one of the same length."""

    merchant_id: int
    period: Period
    generated_at: datetime
    scale: ScaleOut
    active: ActiveOut
    worth: WorthOut
    efficiency: EfficiencyOut
