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
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

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


class _OrderEvent(DomainEvent):
    order_id: int
    trade_no: str
    mini_program_id: int
    store_id: int | None = None


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
