from __future__ import annotations

import re
from datetime import datetime, time
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from ccare.core.events import DomainEvent, domain_event
from ccare.core.schemas import Output, StrictInput
from ccare.core.time import parse_beijing_text
from ccare.coupons.antifraud import Outcome, Strictness
from ccare.coupons.models import (
    ActivityStatus,
    BlacklistKind,
    Channel,
    CodeMode,
    CouponStatus,
    RefundPolicy,
)
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
Passphrase = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=2, max_length=20, pattern=r"^\S+$")
]
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
    passphrase: Passphrase | None = Field(
        None, description="口令: searched in the app, it offers this activity's coupon"
    )
    favoriters_only: bool = Field(
        False,
        description="an exclusive benefit: claimed only by the mini-program's favoriters"
        " through the favorites product (channel favorites_gift), not listed in the venue",
    )
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
        if self.favoriters_only and self.passphrase is not None:
            raise ValueError("a favoriters-only coupon is not offered by a passphrase")
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
    passphrase: Passphrase | None = None


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
    passphrase: str | None = None
    favoriters_only: bool = False
    issued: int = 0
    remaining: int = 0


class ActivityPublic(Output):
    """What a consumer sees of an activity in the coupon venue or behind a passphrase."""

    id: int
    merchant_id: int
    name: str
    kind: CouponKind
    amount_fen: int
    floor_fen: int
    pay_rate_bp: int
    ceiling_fen: int | None
    special_fen: int
    claim_end: datetime
    validity: dict[str, object]


class UseRequest(StrictInput):
    """A coupon used at the merchant's own till, outside ccare's orders."""

    voucher_code: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    out_biz_no: Key = Field(description="the merchant's id of this use: sent again, the same use")
    total_fee_fen: PositiveFen = Field(description="what the purchase cost before the coupon")
    trade_no: Key | None = None


class UnuseRequest(StrictInput):
    """Undo a reported use (the purchase was refunded): the coupon is the user's again."""

    voucher_code: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    out_biz_no: Key


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
    order_id: int | None = Field(description="None: a use reported from the merchant's till")


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


# --- the v1 gateway: alipay.marketing.activity.ordervoucher.* --------------------------------

GatewayId = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[1-9][0-9]{0,17}$")]
BuyerId = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^20880[0-9]{11}$")]
GatewayTime = Annotated[str, StringConstraints(pattern=r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")]


def yuan_fen(text: str) -> int:
    from ccare.orders.schemas import yuan_to_fen

    return yuan_to_fen(text)


class VoucherBiz(BaseModel):
    """biz_content as the SDKs send it: unknown fields tolerated, numbers as strings."""

    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True, str_strip_whitespace=True)


class ActivityRefBiz(VoucherBiz):
    activity_id: GatewayId


class StopBiz(ActivityRefBiz):
    out_biz_no: Key


class AppendBiz(StopBiz):
    voucher_quantity: Annotated[int, Field(ge=1, le=MAX_QUANTITY)] = Field(
        description="the quantity to reach (Alipay: append *to*, not *by*)"
    )


class CodeDepositBiz(StopBiz):
    voucher_codes: list[
        Annotated[str, StringConstraints(min_length=4, max_length=40, pattern=r"^[0-9A-Za-z]+$")]
    ] = Field(min_length=1, max_length=10_000)


class SendBiz(StopBiz):
    user_id: BuyerId


class UserVoucherBiz(ActivityRefBiz):
    voucher_code: Annotated[str, StringConstraints(min_length=1, max_length=40)] | None = None
    user_id: BuyerId | None = None

    @model_validator(mode="after")
    def _named(self) -> UserVoucherBiz:
        if not self.voucher_code and not self.user_id:
            raise ValueError("voucher_code or user_id is required")
        return self


class FixVoucherBiz(VoucherBiz):
    amount: str
    floor_amount: str = "0"


class DiscountVoucherBiz(VoucherBiz):
    discount: Annotated[str, StringConstraints(pattern=r"^[1-9](\.\d{1,2})?$|^0\.\d{1,2}$")] = (
        Field(description="what the buyer pays, in tenths: 8.5 = pay 85%")
    )
    ceiling_amount: str
    floor_amount: str = "0"


class ValidPeriodBiz(VoucherBiz):
    type: Literal["ABSOLUTE", "RELATIVE"]
    valid_begin_time: GatewayTime | None = None
    valid_end_time: GatewayTime | None = None
    valid_days_after_receive: Annotated[int, Field(ge=1, le=3650)] | None = None
    wait_days_after_receive: Annotated[int, Field(ge=0, le=365)] = 0


class UseRuleBiz(VoucherBiz):
    voucher_type: Literal["FIX_VOUCHER", "DISCOUNT_VOUCHER"]
    fix_voucher: FixVoucherBiz | None = None
    discount_voucher: DiscountVoucherBiz | None = None
    voucher_valid_period: ValidPeriodBiz


class SendRuleBiz(VoucherBiz):
    voucher_quantity: Annotated[int, Field(ge=1, le=MAX_QUANTITY)]
    quantity_limit_per_user: Annotated[int, Field(ge=1, le=MAX_QUANTITY)] | None = None
    max_quantity_by_day: Annotated[int, Field(ge=1, le=MAX_QUANTITY)] | None = None
    publish_start_time: GatewayTime
    publish_end_time: GatewayTime


class CreateBiz(VoucherBiz):
    activity_name: Name
    out_biz_no: Key
    code_mode: Literal["MERCHANT_API", "MERCHANT_UPLOAD"] = "MERCHANT_API"
    voucher_send_rule: SendRuleBiz
    voucher_use_rule: UseRuleBiz

    def to_input(self) -> ActivityCreate:
        use, send, period = self.voucher_use_rule, self.voucher_send_rule, None
        period = use.voucher_valid_period
        fields: dict[str, object] = {}
        if use.voucher_type == "FIX_VOUCHER":
            if use.fix_voucher is None:
                raise ValueError("voucher_use_rule.fix_voucher is required for FIX_VOUCHER")
            fields = {
                "kind": CouponKind.FIXED,
                "amount_fen": yuan_fen(use.fix_voucher.amount),
                "floor_fen": yuan_fen(use.fix_voucher.floor_amount),
            }
        else:
            voucher = use.discount_voucher
            if voucher is None:
                raise ValueError(
                    "voucher_use_rule.discount_voucher is required for DISCOUNT_VOUCHER"
                )
            fields = {
                "kind": CouponKind.DISCOUNT,
                "pay_rate_bp": int(Decimal(voucher.discount) * 1000),
                "ceiling_fen": yuan_fen(voucher.ceiling_amount),
                "floor_fen": yuan_fen(voucher.floor_amount),
            }
        if period.type == "ABSOLUTE":
            if not (period.valid_begin_time and period.valid_end_time):
                raise ValueError("valid_begin_time and valid_end_time are required for ABSOLUTE")
            validity = ValiditySpec(
                begin=parse_beijing_text(period.valid_begin_time),
                end=parse_beijing_text(period.valid_end_time),
            )
        else:
            validity = ValiditySpec(
                days_after_claim=period.valid_days_after_receive,
                wait_days=period.wait_days_after_receive,
            )
        limits = UserLimits(lifetime=send.quantity_limit_per_user)
        return ActivityCreate.model_validate(
            {
                **fields,
                "out_biz_no": self.out_biz_no,
                "name": self.activity_name,
                "quantity": send.voucher_quantity,
                "daily_cap": send.max_quantity_by_day,
                "user_limits": limits,
                "claim_begin": parse_beijing_text(send.publish_start_time),
                "claim_end": parse_beijing_text(send.publish_end_time),
                "validity": validity,
                "code_mode": (
                    CodeMode.MERCHANT_UPLOAD
                    if self.code_mode == "MERCHANT_UPLOAD"
                    else CodeMode.PLATFORM
                ),
                "activate": True,
            }
        )


# --- the anti-cheating filter ------------------------------------------------------------


class SettingsIn(StrictInput):
    merchant_id: Id | None = Field(
        default=None, description="required for operators and ISVs; staff default to their own"
    )
    strictness: Strictness


class SettingsOut(Output):
    merchant_id: int
    strictness: Strictness


class DecisionOut(Output):
    id: int
    activity_id: int
    consumer_id: int
    device_id: str | None
    ip: str | None
    outcome: Outcome
    score: int
    strictness: Strictness
    explanation: dict[str, object]
    face_fen: int
    coupon_id: int | None
    at: datetime


class OutcomeTotal(BaseModel):
    claims: int
    face_fen: int


class RiskReport(BaseModel):
    activity_id: int
    totals: dict[str, OutcomeTotal] = Field(description="per outcome: pass, challenge, reject")
    budget_saved_fen: int = Field(description="face value of the claims the filter blocked")
    blocked: list[DecisionOut]


class BlacklistIn(StrictInput):
    kind: BlacklistKind
    value: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""


class BlacklistOut(Output):
    id: int
    kind: BlacklistKind
    value: str
    reason: str
    created_at: datetime


class UseBiz(ActivityRefBiz):
    voucher_code: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    out_biz_no: Key
    total_fee: str
    trade_no: Key | None = None


class RefundUseBiz(ActivityRefBiz):
    voucher_code: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    out_biz_no: Key


class ModifyBiz(StopBiz):
    activity_name: Name | None = None
    publish_end_time: GatewayTime | None = None
