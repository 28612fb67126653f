"""Order requests, responses, events and the order state machine.

Transitions (the only ones; `TRANSITIONS` below is the source of truth):

| action   | from                     | to                           | refused with (409)     |
|----------|--------------------------|------------------------------|------------------------|
| pay      | created                  | paid                         | order.not_payable      |
|          | created, past expires_at | (refused)                    | order.expired          |
| close    | created                  | closed                       | order.not_closable     |
| refund   | paid, partially_refunded | partially_refunded; refunded | order.not_refundable   |
|          |                          | once payable is all refunded |                        |
| discount | created                  | created                      | order.not_discountable |

Other codes: `order.not_found` (404, also for another tenant's or consumer's order),
`order.refund_exceeds_paid` (refund above payable - refunded),
`order.discount_exceeds_amount` (discounts above the order amount),
`order.out_trade_no_taken`, `order.store_not_found`, `refund.request_no_reused` (same
out_request_no with another amount), `staff.role_forbidden` (clerks refund nothing),
`wallet.insufficient_funds` (from the ledger). Paying an already paid order is
`order.not_payable`: the status in `details` says why.

`refunded` and `closed` are final. A fully refunded trade reads as Alipay's TRADE_CLOSED.

Merchant-side trades (created by a merchant's till or app for a buyer, no catalog lines)
add: `trade.buyer_not_found`, `trade.buyer_mismatch` (the out_trade_no belongs to another
buyer's trade), `trade.no_mini_program`, `trade.merchant_inactive`,
`trade.merchant_required` (ISV staff and operators name the merchant), `app.no_merchant`
(an ISV app without an app_auth_token), `trade.id_missing`, and from payment codes
`payment_code.invalid` / `.used` / `.expired`.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from ccare.core.errors import IllegalTransition
from ccare.core.events import DomainEvent, domain_event
from ccare.core.schemas import StrictInput
from ccare.orders.models import OrderStatus

S = OrderStatus


class Action(StrEnum):
    PAY = "pay"
    CLOSE = "close"
    REFUND = "refund"
    DISCOUNT = "discount"


TRANSITIONS: dict[Action, tuple[dict[OrderStatus, frozenset[OrderStatus]], str]] = {
    Action.PAY: ({S.CREATED: frozenset({S.PAID})}, "order.not_payable"),
    Action.CLOSE: ({S.CREATED: frozenset({S.CLOSED})}, "order.not_closable"),
    Action.REFUND: (
        {
            S.PAID: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED}),
            S.PARTIALLY_REFUNDED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED}),
        },
        "order.not_refundable",
    ),
    Action.DISCOUNT: ({S.CREATED: frozenset({S.CREATED})}, "order.not_discountable"),
}

ALIPAY_TRADE_STATUS = {
    S.CREATED: "WAIT_BUYER_PAY",
    S.PAID: "TRADE_SUCCESS",
    S.PARTIALLY_REFUNDED: "TRADE_SUCCESS",
    S.REFUNDED: "TRADE_CLOSED",
    S.CLOSED: "TRADE_CLOSED",
}


def require_transition(status: str, action: Action, target: OrderStatus | None = None) -> None:
    edges, code = TRANSITIONS[action]
    allowed = edges.get(OrderStatus(status))
    if allowed is None or (target is not None and target not in allowed):
        raise IllegalTransition(
            f"cannot {action} an order that is {status}", code=code, status=status
        )


OutTradeNo = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[\w\-.]+$"),
]
OutRequestNo = OutTradeNo


class LineIn(StrictInput):
    item_id: int = Field(gt=0, lt=2**62)
    quantity: int = Field(ge=1, le=999)


class OrderCreate(StrictInput):
    mini_program_id: int = Field(gt=0, lt=2**62)
    lines: list[LineIn] = Field(min_length=1, max_length=50)
    out_trade_no: OutTradeNo | None = None
    store_id: int | None = Field(default=None, gt=0, lt=2**62)
    subject: Annotated[str, StringConstraints(strip_whitespace=True, max_length=256)] | None = None
    coupon_ids: list[Annotated[int, Field(gt=0, lt=2**62)]] = Field(
        default_factory=list,
        max_length=5,
        description="the consumer's coupons to apply; each is held until the order is paid "
        "or closed",
    )

    @field_validator("lines")
    @classmethod
    def distinct_items(cls, lines: list[LineIn]) -> list[LineIn]:
        if len({line.item_id for line in lines}) != len(lines):
            raise ValueError("each item may appear on one line only")
        return lines


class RefundCreate(StrictInput):
    amount_fen: int = Field(ge=1, le=10**12)
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=256)] = ""
    out_request_no: OutRequestNo


# --- merchant-side trades: the native API (fen) --------------------------------------------

# Alipay's ceiling for one trade: 100,000,000.00 yuan.
MAX_TRADE_FEN = 10_000_000_000
BuyerId = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^20880[0-9]{11}$")]
TradeNo = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{1,32}$")]
Subject = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=256)]
AuthCode = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{16,24}$")]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, max_length=256)]
NotifyUrl = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=500, pattern=r"^https?://[^\s]+$")
]
DbId = Annotated[int, Field(gt=0, lt=2**62)]


class _TradeIn(StrictInput):
    out_trade_no: OutTradeNo
    amount_fen: int = Field(ge=1, le=MAX_TRADE_FEN)
    subject: Subject
    merchant_id: DbId | None = Field(
        default=None, description="ISV staff and operators say which merchant"
    )
    mini_program_id: DbId | None = Field(
        default=None, description="default: the merchant's first online mini-program"
    )
    store_id: DbId | None = None
    timeout_minutes: int | None = Field(default=None, ge=1, le=15 * 24 * 60)
    notify_url: NotifyUrl | None = None


class TradeCreate(_TradeIn):
    """A trade the buyer then pays in the app (Alipay's trade.create)."""

    buyer_id: BuyerId


class TradePay(_TradeIn):
    """Code pay: the buyer's payment code pays at once from their wallet (trade.pay)."""

    auth_code: AuthCode


class TradeRef(StrictInput):
    """Which trade: trade_no wins when both are given, as with Alipay."""

    trade_no: TradeNo | None = None
    out_trade_no: OutTradeNo | None = None
    merchant_id: DbId | None = None

    @model_validator(mode="after")
    def _named(self) -> Self:
        if not self.trade_no and not self.out_trade_no:
            raise ValueError("trade_no or out_trade_no is required")
        return self


class TradeRefund(TradeRef):
    amount_fen: int = Field(ge=1, le=MAX_TRADE_FEN)
    out_request_no: OutRequestNo | None = Field(
        default=None, description="default: the trade_no (one full refund)"
    )
    reason: Reason = ""


# --- merchant-side trades: the v1 gateway's biz_content (yuan) ------------------------------

_YUAN = re.compile(r"(0|[1-9][0-9]{0,8})(?:\.([0-9]+))?")


def yuan_to_fen(value: object) -> int:
    """ "88.88" (or 88.88, 88) -> 8888, exactly; at least 0.01, at most two decimals."""
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise ValueError('an amount in yuan such as "88.88"')
    text = format(value, "f") if isinstance(value, Decimal) else str(value).strip()
    if text.startswith("-"):
        raise ValueError("must not be negative")
    match = _YUAN.fullmatch(text)
    if match is None:
        raise ValueError('an amount in yuan such as "88.88"')
    whole, fraction = match.group(1), match.group(2) or ""
    if len(fraction) > 2:
        raise ValueError("at most two decimals")
    fen = int(whole) * 100 + int(fraction.ljust(2, "0"))
    if not 1 <= fen <= MAX_TRADE_FEN:
        raise ValueError("must be between 0.01 and 100000000.00")
    return fen


def fen_to_yuan(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


def _timeout_minutes(value: object) -> int:
    """Alipay's timeout_express: "90m", "2h", "1d" (at most 15 days)."""
    match = re.fullmatch(r"([1-9][0-9]{0,5})([mhd])", str(value).strip())
    if match is None:
        raise ValueError('like "90m", "2h" or "1d"')
    minutes = int(match.group(1)) * {"m": 1, "h": 60, "d": 1440}[match.group(2)]
    if minutes > 15 * 24 * 60:
        raise ValueError("at most 15d")
    return minutes


Yuan = Annotated[int, BeforeValidator(yuan_to_fen)]
TimeoutExpress = Annotated[int, BeforeValidator(_timeout_minutes)]


class _Biz(BaseModel):
    """biz_content: fields Alipay documents but ccare ignores are tolerated, like unknown
    ones; numbers are accepted where strings are documented, as SDKs send both."""

    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True, str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: object) -> object:
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("NUL characters are not allowed")
        return value


class TradeRefBiz(_Biz):
    trade_no: TradeNo | None = None
    out_trade_no: OutTradeNo | None = None

    @model_validator(mode="after")
    def _named(self) -> Self:
        if not self.trade_no and not self.out_trade_no:
            raise PydanticCustomError("missing", "trade_no or out_trade_no is required")
        return self

    def ref(self) -> TradeRef:
        return TradeRef(trade_no=self.trade_no, out_trade_no=self.out_trade_no)


class _TradeBiz(_Biz):
    out_trade_no: OutTradeNo
    total_amount: Yuan
    subject: Subject
    store_id: DbId | None = None
    timeout_express: TimeoutExpress | None = None

    def _common(self, notify_url: str | None) -> dict[str, object]:
        return {
            "out_trade_no": self.out_trade_no,
            "amount_fen": self.total_amount,
            "subject": self.subject,
            "store_id": self.store_id,
            "timeout_minutes": self.timeout_express,
            "notify_url": notify_url or None,
        }


class TradeCreateBiz(_TradeBiz):
    buyer_id: BuyerId

    def to_input(self, notify_url: str | None) -> TradeCreate:
        return TradeCreate.model_validate({**self._common(notify_url), "buyer_id": self.buyer_id})


class TradePayBiz(_TradeBiz):
    scene: Literal["bar_code", "wave_code"]
    auth_code: AuthCode

    def to_input(self, notify_url: str | None) -> TradePay:
        return TradePay.model_validate({**self._common(notify_url), "auth_code": self.auth_code})


class TradeRefundBiz(TradeRefBiz):
    refund_amount: Yuan
    out_request_no: OutRequestNo | None = None
    refund_reason: Reason = ""

    def to_input(self) -> TradeRefund:
        return TradeRefund(
            trade_no=self.trade_no,
            out_trade_no=self.out_trade_no,
            amount_fen=self.refund_amount,
            out_request_no=self.out_request_no,
            reason=self.refund_reason,
        )


class RefundQueryBiz(TradeRefBiz):
    out_request_no: OutRequestNo


class LineOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    item_id: int
    name: str
    unit_price_fen: int
    quantity: int
    amount_fen: int


class DiscountOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    source: str
    reference: str
    amount_fen: int


class OrderOut(BaseModel):
    id: int
    trade_no: str
    out_trade_no: str | None
    merchant_id: int
    mini_program_id: int
    consumer_id: int
    store_id: int | None
    subject: str
    status: OrderStatus
    trade_status: str = Field(description="the Alipay trade_status this status maps to")
    amount_fen: int
    discount_fen: int
    payable_fen: int
    refunded_fen: int
    platform_fee_fen: int
    created_at: datetime
    expires_at: datetime
    paid_at: datetime | None
    closed_at: datetime | None
    lines: list[LineOut]
    discounts: list[DiscountOut]


class OrderPage(BaseModel):
    items: list[OrderOut]
    limit: int
    offset: int


class RefundOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    order_id: int
    out_request_no: str
    amount_fen: int
    reason: str
    status: str
    created_at: datetime


class TradeRefundOut(BaseModel):
    order: OrderOut
    refund: RefundOut
    fund_change: bool = Field(description="false when this out_request_no was refunded before")


class TradeCancelOut(BaseModel):
    order: OrderOut
    action: Literal["close", "refund"]


class _OrderEvent(DomainEvent):
    order_id: int
    trade_no: str
    mini_program_id: int
    store_id: int | None = None
    # What a trade_status_sync notification needs and could not rebuild later: the order as
    # it stood when the event happened, and the app and notify_url of a gateway trade.
    out_trade_no: str | None = None
    app_id: str | None = None
    notify_url: str | None = None
    subject: str | None = None
    trade_status: str | None = Field(default=None, description="the Alipay trade_status after")
    total_amount_fen: int | None = None
    payable_fen: int | None = Field(default=None, description="what the buyer pays / paid")
    gmt_create: datetime | None = None
    gmt_payment: datetime | None = None


class _OrderItemsEvent(_OrderEvent):
    items: list[dict[str, int]] = Field(description="[{item_id, quantity}, ...]")


@domain_event("order.created")
class OrderCreated(_OrderItemsEvent):
    amount: int


@domain_event("order.paid")
class OrderPaid(_OrderItemsEvent):
    amount: int = Field(description="payable_fen: what the consumer paid")
    platform_fee_fen: int


@domain_event("order.closed")
class OrderClosed(_OrderItemsEvent):
    reason: str = Field(description="consumer, merchant, operator or expired")


@domain_event("order.refunded")
class OrderRefunded(_OrderEvent):
    refund_id: int
    out_request_no: str
    amount: int
    refunded_total: int
    fully_refunded: bool
