from __future__ import annotations

import re
from datetime import datetime, time
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, Field, StringConstraints, model_validator

from ccare.core.events import DomainEvent, domain_event
from ccare.core.schemas import Output, StrictInput
from ccare.coupons.models import ActivityStatus, Channel, CodeMode, CouponStatus, RefundPolicy
from ccare.coupons.pricing import CouponKind, DiscountBase, Stacking
from ccare.coupons.validity import TimeWindow, Validity

MAX_FEN = 100_000_000
MAX_QUANTITY = 10_000_000
MAX_IDS = 500

Fen = Annotated[int, Field(ge=0, le=MAX_FEN, description="fen")]
PositiveFen = Annotated[int, Field(gt=0, le=MAX_FEN, description="fen")]
Count = Annotated[int, Field(ge=1, le=MAX_QUANTITY)]
Id = Annotated[int, Field(gt=0, lt=2**62)]
Key = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^\S+$")
]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]
WINDOW = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")


class UserLimits(StrictInput):
    """Coupons one user may claim from the activity: in its whole life, a day, a week, a
    month (local calendar periods). Omitted: no limit for that period."""

    lifetime: Count | None = None
    day: Count | None = None
    week: Count | None = None
    month: Count | None = None


class ValiditySpec(StrictInput):
    """When a claimed coupon can be used: an absolute window, or days after the claim."""

    begin: AwareDatetime | None = None
    end: AwareDatetime | None = None
    days_after_claim: Annotated[int, Field(ge=1, le=3650)] | None = None
    wait_days: Annotated[int, Field(ge=0, le=365)] = 0
    weekdays: list[Annotated[int, Field(ge=0, le=6)]] = Field(
        default_factory=lambda: list(range(7)), description="0 = Monday", max_length=7
    )
    windows: list[str] = Field(
        default_factory=list, max_length=6, description='local times, "HH:MM-HH:MM"'
    )
    timezone: str = "Asia/Shanghai"

    def to_validity(self) -> Validity:
        windows = []
        for text in self.windows:
            match = WINDOW.match(text)
            if match is None:
                raise ValueError(f'windows: {text!r} is not "HH:MM-HH:MM"')
            h1, m1, h2, m2 = (int(g) for g in match.groups())
            end = time.max if (h2, m2) == (24, 0) else time(h2, m2)
            windows.append(TimeWindow(time(h1, m1), end))
        return Validity(
            begin=self.begin,
            end=self.end,
            days_after_claim=self.days_after_claim,
            wait_days=self.wait_days,
            weekdays=frozenset(self.weekdays),
            windows=tuple(windows),
            timezone=self.timezone,
        )


class ActivityCreate(StrictInput):
    out_biz_no: Key = Field(
        description="the merchant's id for this request: sent again, the same activity"
    )
    merchant_id: Id | None = Field(
        default=None, description="required for operators and ISVs; staff default to their own"
    )
    name: Name
    kind: CouponKind
    amount_fen: Fen = Field(0, description="fixed: taken off; exchange: most value covered")
    floor_fen: Fen = Field(0, description="minimum spend on eligible goods (0: none)")
    pay_rate_bp: Annotated[int, Field(ge=1, le=9999)] | None = Field(
        None, description="discount: the share paid, in basis points (8500 = pay 85%)"
    )
    ceiling_fen: PositiveFen | None = Field(
        None, description="discount and special price: the most one coupon takes off"
    )
    special_fen: Fen = Field(0, description="special price: what one eligible item costs")
    quantity: Count
    budget_fen: PositiveFen | None = Field(None, description="money budget, at face value")
    daily_cap: Count | None = Field(None, description="coupons issued per local day")
    user_limits: UserLimits = Field(default_factory=UserLimits)
    device_limit: Count | None = Field(None, description="coupons claimed per device")
    claim_begin: AwareDatetime
    claim_end: AwareDatetime
    validity: ValiditySpec
    items_include: list[Id] | None = Field(None, max_length=MAX_IDS)
    items_exclude: list[Id] = Field(default_factory=list, max_length=MAX_IDS)
    store_ids: list[Id] | None = Field(None, max_length=MAX_IDS)
    mini_program_ids: list[Id] | None = Field(None, max_length=MAX_IDS)
    stacking: Stacking = Stacking.EXCLUSIVE
    priority: Annotated[int, Field(ge=0, le=1000)] = 0
    base: DiscountBase = DiscountBase.DISCOUNTED
    refund_policy: RefundPolicy = RefundPolicy.RETURN
    code_mode: CodeMode = CodeMode.PLATFORM
    activate: bool = Field(False, description="start at once instead of as a draft")

    @model_validator(mode="after")
    def _by_kind(self) -> ActivityCreate:
        needs: dict[CouponKind, tuple[str, ...]] = {
            CouponKind.FIXED: ("amount_fen",),
            CouponKind.DISCOUNT: ("pay_rate_bp", "ceiling_fen"),
            CouponKind.SPECIAL_PRICE: ("ceiling_fen", "items_include"),
            CouponKind.EXCHANGE: ("amount_fen", "items_include"),
        }
        missing = [f for f in needs[self.kind] if not getattr(self, f)]
        if missing:
            raise ValueError(f"a {self.kind.value} coupon needs {', '.join(missing)}")
        if self.claim_begin >= self.claim_end:
            raise ValueError("claim_begin must be before claim_end")
        return self

    @property
    def face_fen(self) -> int:
        """The most one coupon can take off: what the money budget is counted in."""
        if self.kind in (CouponKind.FIXED, CouponKind.EXCHANGE):
            return self.amount_fen
        assert self.ceiling_fen is not None
        return self.ceiling_fen


class ActivityChangeRequest(StrictInput):
    """What may change on a live activity; stock only grows, through append."""

    name: Name | None = None
    claim_end: AwareDatetime | None = None
    daily_cap: Count | None = None
    user_limits: UserLimits | None = None


class AppendQuantity(StrictInput):
    add: Count
    out_request_no: Key


class ClaimRequest(StrictInput):
    channel: Channel
    claim_key: Key = Field(
        description="the caller's id for this claim: sent again, the same coupon"
    )
    device_id: Annotated[str, StringConstraints(min_length=1, max_length=80)] | None = None


class SendRequest(ClaimRequest):
    consumer_id: Id


class ActivityOut(Output):
    id: int
    merchant_id: int
    out_biz_no: str
    name: str
    status: ActivityStatus
    kind: CouponKind
    amount_fen: int
    floor_fen: int
    pay_rate_bp: int
    ceiling_fen: int | None
    special_fen: int
    quantity: int
    budget_fen: int | None
    face_fen: int
    daily_cap: int | None
    user_limits: dict[str, int]
    device_limit: int | None
    claim_begin: datetime
    claim_end: datetime
    validity: dict[str, object]
    items_include: list[int] | None
    items_exclude: list[int]
    store_ids: list[int] | None
    mini_program_ids: list[int] | None
    stacking: Stacking
    priority: int
    base: DiscountBase
    refund_policy: RefundPolicy
    code_mode: CodeMode
    issued: int = 0
    remaining: int = 0


class ChangeOut(Output):
    action: str
    actor: str
    changes: dict[str, object]
    at: datetime


class CouponOut(Output):
    id: int
    activity_id: int
    merchant_id: int
    consumer_id: int
    code: str
    channel: Channel
    status: CouponStatus
    claimed_at: datetime
    valid_from: datetime
    valid_until: datetime
    order_id: int | None
    discount_fen: int


class BasketLine(StrictInput):
    item_id: Id
    quantity: Annotated[int, Field(ge=1, le=999)]


class CheckoutPreview(StrictInput):
    """An order about to be placed, and the coupons the consumer would put on it."""

    mini_program_id: Id
    store_id: Id | None = None
    lines: list[BasketLine] = Field(min_length=1, max_length=50)
    coupon_ids: list[Id] = Field(min_length=1, max_length=5)


class AppliedOut(BaseModel):
    coupon_id: int
    discount_fen: int


class RefusedOut(BaseModel):
    coupon_id: int
    code: str
    message: str
    details: dict[str, int | str]


class QuoteOut(BaseModel):
    total_fen: int
    discount_fen: int
    payable_fen: int
    applied: list[AppliedOut]
    refused: list[RefusedOut]


class StatusChange(BaseModel):
    status: Literal["active", "paused", "stopped"]


# --- events ---------------------------------------------------------------------------


@domain_event("coupon.activity_changed")
class ActivityChanged(DomainEvent):
    activity_id: int
    out_biz_no: str
    action: str = Field(description="created, modified, appended, activated, paused, stopped")
    status: str


@domain_event("coupon.claimed")
class CouponClaimed(DomainEvent):
    activity_id: int
    coupon_id: int
    code: str
    channel: str


@domain_event("coupon.stock_exhausted")
class StockExhausted(DomainEvent):
    activity_id: int
    out_biz_no: str


class _CouponOnOrder(DomainEvent):
    activity_id: int
    coupon_id: int
    order_id: int


@domain_event("coupon.locked")
class CouponLocked(_CouponOnOrder):
    discount_fen: int


@domain_event("coupon.used")
class CouponUsed(_CouponOnOrder):
    discount_fen: int


@domain_event("coupon.released")
class CouponReleased(_CouponOnOrder):
    reason: str = Field(description="closed (the order was not paid) or refunded")
    status: str = Field(description="available again, or expired")


@domain_event("coupon.expired")
class CouponExpired(DomainEvent):
    activity_id: int
    coupon_id: int
    code: str
