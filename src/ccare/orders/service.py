"""Orders: create → pay → refund, or close. Transitions are checked against
`schemas.TRANSITIONS`; money moves only through `ledger.service.post()`."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Literal, TypedDict

from sqlalchemy.orm import Session

from ccare.config import get_settings
from ccare.core.errors import Conflict, Forbidden, IllegalTransition, InvalidInput, NotFound
from ccare.core.outbox import emit
from ccare.core.tenancy import Principal, PrincipalKind, Tenant
from ccare.core.time import as_utc, utcnow
from ccare.ledger import service as ledger
from ccare.orders.models import Order, OrderDiscount, OrderLine, OrderStatus, Refund
from ccare.orders.repository import OrderRepository
from ccare.orders.schemas import (
    ALIPAY_TRADE_STATUS,
    Action,
    DiscountOut,
    LineOut,
    OrderClosed,
    OrderCreate,
    OrderCreated,
    OrderOut,
    OrderPaid,
    OrderRefunded,
    RefundCreate,
    TradeCreate,
    TradePay,
    TradeRef,
    TradeRefund,
    require_transition,
)

OVERDUE_BATCH = 500


def _not_found(order_id: int) -> NotFound:
    return NotFound("no such order", code="order.not_found", order_id=order_id)


def _load(db: Session, principal: Principal, order_id: int, *, for_update: bool = False) -> Order:
    """A consumer sees their own orders; everyone else the orders of their tenant."""
    if principal.kind == PrincipalKind.CONSUMER:
        order = OrderRepository(db).order(order_id, consumer_id=principal.id, for_update=for_update)
    else:
        order = OrderRepository(db, principal.tenant).order(order_id, for_update=for_update)
    if order is None:
        raise _not_found(order_id)
    return order


def _require_consumer(principal: Principal) -> None:
    if principal.kind != PrincipalKind.CONSUMER:
        raise Forbidden("consumers only", code="auth.consumer_only")


def _require_manager(principal: Principal) -> None:
    if principal.kind == PrincipalKind.CONSUMER or not principal.can_manage():
        raise Forbidden("owners and managers only", code="staff.role_forbidden")


def new_trade_no(now: datetime) -> str:
    """28 digits like Alipay's: yyyymmddHHMMSS + 14 random digits.

    Sortable to the second; at 10,000 orders a second two collide about once in 2,000,000
    seconds, and the unique constraint turns that into a retryable 409, never a mix-up.
    """
    return f"{now:%Y%m%d%H%M%S}{secrets.randbelow(10**14):014d}"


def _items(lines: Sequence[OrderLine]) -> list[dict[str, int]]:
    return [{"item_id": line.item_id, "quantity": line.quantity} for line in lines]


def _stock_lines(lines: Sequence[OrderLine]) -> list[tuple[int, int]]:
    return [(line.item_id, line.quantity) for line in lines]


class _EventBase(TypedDict):
    """The fields every order event carries, typed so `**` unpacking is checked."""

    merchant_id: int
    consumer_id: int
    order_id: int
    trade_no: str
    mini_program_id: int
    store_id: int | None
    out_trade_no: str | None
    app_id: str | None
    notify_url: str | None
    subject: str
    trade_status: str
    total_amount_fen: int
    payable_fen: int
    gmt_create: datetime | None
    gmt_payment: datetime | None


def _event_base(order: Order) -> _EventBase:
    """Call after the order's change, so the event carries its new state."""
    return {
        "merchant_id": order.merchant_id,
        "consumer_id": order.consumer_id,
        "order_id": order.id,
        "trade_no": order.trade_no,
        "mini_program_id": order.mini_program_id,
        "store_id": order.store_id,
        "out_trade_no": order.out_trade_no,
        "app_id": order.app_id,
        "notify_url": order.notify_url,
        "subject": order.subject,
        "trade_status": ALIPAY_TRADE_STATUS[OrderStatus(order.status)],
        "total_amount_fen": order.amount_fen,
        "payable_fen": order.payable_fen,
        "gmt_create": as_utc(order.created_at) if order.created_at else None,
        "gmt_payment": as_utc(order.paid_at) if order.paid_at else None,
    }


# --- create ------------------------------------------------------------------------------


def create_order(
    db: Session, consumer: Principal, data: OrderCreate, now: datetime | None = None
) -> Order:
    from ccare.catalog import service as catalog

    _require_consumer(consumer)
    wanted = [(line.item_id, line.quantity) for line in data.lines]
    priced = catalog.price_lines(db, data.mini_program_id, wanted)
    merchant_id = priced[0].merchant_id
    repo = OrderRepository(db)
    if data.store_id is not None:
        _check_store(db, merchant_id, data.store_id)
    if data.out_trade_no and repo.by_out_trade_no(merchant_id, data.out_trade_no):
        raise Conflict(
            "this merchant already has an order with this out_trade_no",
            code="order.out_trade_no_taken",
            out_trade_no=data.out_trade_no,
        )
    catalog.reserve_stock(db, wanted)
    now = now or utcnow()
    amount = sum(p.amount_fen for p in priced)
    subject = data.subject or (
        priced[0].name if len(priced) == 1 else f"{priced[0].name} +{len(priced) - 1}"
    )
    order = Order(
        merchant_id=merchant_id,
        mini_program_id=data.mini_program_id,
        consumer_id=consumer.id,
        store_id=data.store_id,
        trade_no=new_trade_no(now),
        out_trade_no=data.out_trade_no,
        subject=subject[:256],
        status=OrderStatus.CREATED.value,
        amount_fen=amount,
        discount_fen=0,
        payable_fen=amount,
        refunded_fen=0,
        platform_fee_fen=0,
        refunded_fee_fen=0,
        created_at=now,
        expires_at=now + timedelta(minutes=get_settings().order_payment_timeout_minutes),
    )
    repo.add(order)
    lines = [
        OrderLine(
            order_id=order.id,
            item_id=p.item_id,
            name=p.name,
            unit_price_fen=p.unit_price_fen,
            quantity=p.quantity,
            amount_fen=p.amount_fen,
        )
        for p in priced
    ]
    for line in lines:
        repo.add(line)
    if data.coupon_ids:
        _apply_coupons(db, consumer, order, lines, data.coupon_ids)
    emit(
        db,
        OrderCreated(**_event_base(order), occurred_at=now, items=_items(lines), amount=amount),
    )
    return order


def _apply_coupons(
    db: Session, consumer: Principal, order: Order, lines: list[OrderLine], coupon_ids: list[int]
) -> None:
    from ccare.coupons import redemption
    from ccare.coupons.pricing import Line

    basket = redemption.Basket(
        merchant_id=order.merchant_id,
        mini_program_id=order.mini_program_id,
        store_id=order.store_id,
        lines=tuple(Line(x.item_id, x.unit_price_fen, x.quantity) for x in lines),
    )
    for coupon, fen in redemption.lock_for_order(db, consumer.id, order.id, coupon_ids, basket):
        apply_discount(db, order.id, "coupon", str(coupon.id), fen)


def _check_store(db: Session, merchant_id: int, store_id: int) -> None:
    from ccare.merchants import service as merchants

    try:
        merchants.get_store(db, Tenant(merchant_ids=frozenset({merchant_id})), store_id)
    except NotFound:
        raise InvalidInput(
            "no such store for this merchant", code="order.store_not_found", store_id=store_id
        ) from None


# --- discount slot -----------------------------------------------------------------------


def apply_discount(
    db: Session, order_id: int, source: str, reference: str, amount_fen: int
) -> OrderDiscount:
    """For coupons and campaigns (trusted callers). Same source + reference is idempotent."""
    repo = OrderRepository(db)
    order = repo.order(order_id, for_update=True)
    if order is None:
        raise _not_found(order_id)
    for existing in repo.discounts(order):
        if (existing.source, existing.reference) == (source, reference):
            if existing.amount_fen != amount_fen:
                raise Conflict(
                    "this discount reference was applied with another amount",
                    code="order.discount_reused",
                    amount_fen=existing.amount_fen,
                )
            return existing
    require_transition(order.status, Action.DISCOUNT)
    if amount_fen < 1:
        raise InvalidInput("a discount is at least 1 fen", code="order.invalid_discount")
    if order.discount_fen + amount_fen > order.amount_fen:
        raise Conflict(
            "the discount would make the order cost less than nothing",
            code="order.discount_exceeds_amount",
            amount_fen=order.amount_fen,
            discount_fen=order.discount_fen,
        )
    discount = OrderDiscount(
        order_id=order.id, source=source, reference=reference, amount_fen=amount_fen
    )
    repo.add(discount)
    order.discount_fen += amount_fen
    order.payable_fen = order.amount_fen - order.discount_fen
    db.flush()
    return discount


# --- pay ---------------------------------------------------------------------------------


def pay_order(
    db: Session, consumer: Principal, order_id: int, now: datetime | None = None
) -> Order:
    """Wallet → merchant settlement (payable - fee) + platform revenue (fee)."""
    _require_consumer(consumer)
    return _pay(db, _load(db, consumer, order_id, for_update=True), now)


def _pay(db: Session, order: Order, now: datetime | None) -> Order:
    """Pay a locked order from its consumer's wallet."""
    require_transition(order.status, Action.PAY)
    now = now or utcnow()
    if now >= as_utc(order.expires_at):
        raise IllegalTransition(
            "the order expired before it was paid",
            code="order.expired",
            expires_at=as_utc(order.expires_at).isoformat(),
        )
    payable = order.payable_fen
    fee = payable * get_settings().platform_fee_bps // 10_000
    if payable > 0:
        postings = [
            (ledger.wallet(db, order.consumer_id), -payable),
            (ledger.merchant_settlement(db, order.merchant_id), payable - fee),
            (ledger.platform_revenue(db), fee),
        ]
        entry = ledger.post(
            db,
            "payment",
            f"order:{order.trade_no}",
            [p for p in postings if p[1]],
            memo=order.subject[:200],
        )
        order.payment_entry_id = entry.id
    order.status = OrderStatus.PAID.value
    order.platform_fee_fen = fee
    order.paid_at = now
    db.flush()
    lines = OrderRepository(db).lines(order)
    emit(
        db,
        OrderPaid(
            **_event_base(order),
            occurred_at=now,
            items=_items(lines),
            amount=payable,
            platform_fee_fen=fee,
        ),
    )
    return order


# --- close -------------------------------------------------------------------------------


def close_order(db: Session, principal: Principal, order_id: int) -> Order:
    """By its consumer or by staff of its merchant; releases the reserved stock."""
    order = _load(db, principal, order_id, for_update=True)
    reason = {
        PrincipalKind.CONSUMER: "consumer",
        PrincipalKind.OPERATOR: "operator",
        PrincipalKind.SYSTEM: "system",
    }.get(principal.kind, "merchant")
    return _close(db, order, reason)


def _close(db: Session, order: Order, reason: str, now: datetime | None = None) -> Order:
    from ccare.catalog import service as catalog

    require_transition(order.status, Action.CLOSE)
    lines = OrderRepository(db).lines(order)
    catalog.release_stock(db, _stock_lines(lines))
    order.status = OrderStatus.CLOSED.value
    order.closed_at = now or utcnow()
    order.close_reason = reason
    db.flush()
    emit(db, OrderClosed(**_event_base(order), items=_items(lines), reason=reason))
    return order


def close_overdue(db: Session, now: datetime) -> int:
    """Close unpaid orders past expires_at; returns how many were closed."""
    repo = OrderRepository(db)
    closed = 0
    for order_id in repo.overdue_ids(now, OVERDUE_BATCH):
        order = repo.order(order_id, for_update=True)
        # Re-checked under the lock: it may have been paid or closed meanwhile.
        if order and order.status == OrderStatus.CREATED and as_utc(order.expires_at) < now:
            _close(db, order, "expired", now)
            closed += 1
    return closed


# --- refund ------------------------------------------------------------------------------


def refund_order(db: Session, staff: Principal, order_id: int, data: RefundCreate) -> Refund:
    """Partial or full; one refund per out_request_no. The platform gives back its fee in
    proportion, so a fully refunded order leaves it nothing."""
    order = _load(db, staff, order_id, for_update=True)
    _require_manager(staff)
    repo = OrderRepository(db)
    existing = repo.refund_by_request_no(order, data.out_request_no)
    if existing is not None:
        if existing.amount_fen != data.amount_fen:
            raise Conflict(
                "this out_request_no was used for another amount",
                code="refund.request_no_reused",
                amount_fen=existing.amount_fen,
            )
        return existing
    require_transition(order.status, Action.REFUND)
    remaining = order.payable_fen - order.refunded_fen
    if data.amount_fen > remaining:
        raise IllegalTransition(
            "refund exceeds what is left of the payment",
            code="order.refund_exceeds_paid",
            refundable_fen=remaining,
            amount_fen=data.amount_fen,
        )
    total = order.refunded_fen + data.amount_fen
    fee_back = order.platform_fee_fen * total // order.payable_fen - order.refunded_fee_fen
    postings = [
        (ledger.wallet(db, order.consumer_id), data.amount_fen),
        (ledger.merchant_settlement(db, order.merchant_id), -(data.amount_fen - fee_back)),
        (ledger.platform_revenue(db), -fee_back),
    ]
    entry = ledger.post(
        db,
        "refund",
        f"refund:{order.trade_no}:{data.out_request_no}",
        [p for p in postings if p[1]],
        memo=data.reason[:200],
    )
    target = OrderStatus.REFUNDED if total == order.payable_fen else OrderStatus.PARTIALLY_REFUNDED
    require_transition(order.status, Action.REFUND, target)
    order.status = target.value
    order.refunded_fen = total
    order.refunded_fee_fen += fee_back
    refund = Refund(
        order_id=order.id,
        merchant_id=order.merchant_id,
        out_request_no=data.out_request_no,
        amount_fen=data.amount_fen,
        fee_refund_fen=fee_back,
        reason=data.reason,
        entry_id=entry.id,
    )
    repo.add(refund)
    emit(
        db,
        OrderRefunded(
            **_event_base(order),
            refund_id=refund.id,
            out_request_no=refund.out_request_no,
            amount=refund.amount_fen,
            refunded_total=total,
            fully_refunded=target == OrderStatus.REFUNDED,
        ),
    )
    return refund


# --- reads -------------------------------------------------------------------------------


def get_order(db: Session, principal: Principal, order_id: int) -> Order:
    return _load(db, principal, order_id)


def list_orders(
    db: Session,
    tenant: Tenant,
    status: OrderStatus | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[Order]:
    return OrderRepository(db, tenant).orders(status=status, limit=limit, offset=offset)


def consumer_orders(
    db: Session,
    consumer_id: int,
    status: OrderStatus | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[Order]:
    return OrderRepository(db).orders(
        consumer_id=consumer_id, status=status, limit=limit, offset=offset
    )


def list_refunds(db: Session, principal: Principal, order_id: int) -> list[Refund]:
    return OrderRepository(db).refunds(_load(db, principal, order_id))


def describe(db: Session, order: Order) -> OrderOut:
    return describe_many(db, [order])[0]


def describe_many(db: Session, orders: Sequence[Order]) -> list[OrderOut]:
    repo = OrderRepository(db)
    lines, discounts = repo.lines_of(orders), repo.discounts_of(orders)
    return [_out(o, lines.get(o.id, []), discounts.get(o.id, [])) for o in orders]


def _out(order: Order, lines: list[OrderLine], discounts: list[OrderDiscount]) -> OrderOut:
    status = OrderStatus(order.status)
    return OrderOut(
        id=order.id,
        trade_no=order.trade_no,
        out_trade_no=order.out_trade_no,
        merchant_id=order.merchant_id,
        mini_program_id=order.mini_program_id,
        consumer_id=order.consumer_id,
        store_id=order.store_id,
        subject=order.subject,
        status=status,
        trade_status=ALIPAY_TRADE_STATUS[status],
        amount_fen=order.amount_fen,
        discount_fen=order.discount_fen,
        payable_fen=order.payable_fen,
        refunded_fen=order.refunded_fen,
        platform_fee_fen=order.platform_fee_fen,
        created_at=order.created_at,
        expires_at=order.expires_at,
        paid_at=order.paid_at,
        closed_at=order.closed_at,
        lines=[LineOut.model_validate(line) for line in lines],
        discounts=[DiscountOut.model_validate(d) for d in discounts],
    )


# --- merchant-side trades (the v1 gateway's trade methods and /api/v1/trades) -------------


def _acting_merchant(actor: Principal, requested: int | None = None) -> int:
    """The merchant a trade call acts for: the app's or staff's own, else the one named."""
    if actor.kind == PrincipalKind.CONSUMER:
        raise Forbidden("merchants collect payments, consumers pay", code="auth.staff_only")
    if actor.kind == PrincipalKind.APP and actor.merchant_id is None:
        raise Forbidden(
            "an ISV app acts for a merchant: send that merchant's app_auth_token",
            code="app.no_merchant",
        )
    if actor.merchant_id is not None and requested in (None, actor.merchant_id):
        return actor.merchant_id
    if requested is None and len(actor.tenant.merchant_ids) == 1:
        return next(iter(actor.tenant.merchant_ids))
    if requested is None:
        raise InvalidInput("say which merchant (merchant_id)", code="trade.merchant_required")
    if actor.merchant_id is not None or not actor.tenant.allows(requested):
        raise NotFound("no such merchant", code="merchant.not_found", merchant_id=requested)
    return requested


def _buyer(db: Session, buyer_id: str) -> int:
    from ccare.consumers import service as consumers

    consumer_id = consumers.consumer_of_buyer(db, buyer_id)
    if consumer_id is None:
        raise InvalidInput("no buyer with this buyer_id", code="trade.buyer_not_found")
    return consumer_id


def _trade_mini_program(db: Session, merchant_id: int, requested: int | None) -> int:
    from ccare.catalog import service as catalog
    from ccare.catalog.models import MiniProgramStatus

    tenant = Tenant(merchant_ids=frozenset({merchant_id}))
    if requested is not None:
        return catalog.get_mini_program(db, tenant, requested).id
    online = [
        m
        for m in catalog.list_mini_programs(db, tenant, merchant_id=merchant_id)
        if m.status == MiniProgramStatus.ONLINE
    ]
    if not online:
        raise Conflict(
            "the merchant has no online mini-program to sell through",
            code="trade.no_mini_program",
        )
    return online[0].id


def _existing_trade(order: Order, consumer_id: int, amount_fen: int) -> Order:
    """A repeated create or pay with a known out_trade_no: the same unpaid trade is
    returned, anything else is refused with the trade's status in the details."""
    if order.consumer_id != consumer_id:
        raise Conflict(
            "this out_trade_no belongs to another buyer's trade",
            code="trade.buyer_mismatch",
            out_trade_no=order.out_trade_no,
        )
    if order.status != OrderStatus.CREATED or order.amount_fen != amount_fen:
        raise _taken(order)
    return order


def _taken(order: Order) -> Conflict:
    return Conflict(
        "this merchant already has a trade with this out_trade_no",
        code="order.out_trade_no_taken",
        out_trade_no=order.out_trade_no,
        status=order.status,
    )


def _new_trade(
    db: Session,
    actor: Principal,
    merchant_id: int,
    consumer_id: int,
    data: TradeCreate | TradePay,
    now: datetime,
) -> Order:
    from ccare.merchants import service as merchants

    if not merchants.active_merchant_ids(db, [merchant_id]):
        raise Conflict("the merchant is not active", code="trade.merchant_inactive")
    mini_program_id = _trade_mini_program(db, merchant_id, data.mini_program_id)
    if data.store_id is not None:
        _check_store(db, merchant_id, data.store_id)
    minutes = data.timeout_minutes or get_settings().order_payment_timeout_minutes
    order = Order(
        merchant_id=merchant_id,
        mini_program_id=mini_program_id,
        consumer_id=consumer_id,
        store_id=data.store_id,
        trade_no=new_trade_no(now),
        out_trade_no=data.out_trade_no,
        subject=data.subject,
        status=OrderStatus.CREATED.value,
        amount_fen=data.amount_fen,
        discount_fen=0,
        payable_fen=data.amount_fen,
        refunded_fen=0,
        platform_fee_fen=0,
        refunded_fee_fen=0,
        created_at=now,
        expires_at=now + timedelta(minutes=minutes),
        app_id=actor.app_id,
        notify_url=data.notify_url,
    )
    OrderRepository(db).add(order)
    emit(
        db,
        OrderCreated(**_event_base(order), occurred_at=now, items=[], amount=data.amount_fen),
    )
    return order


def create_trade(
    db: Session, actor: Principal, data: TradeCreate, now: datetime | None = None
) -> Order:
    """A trade for a custom amount, for a buyer who then pays it in the app."""
    merchant_id = _acting_merchant(actor, data.merchant_id)
    consumer_id = _buyer(db, data.buyer_id)
    existing = OrderRepository(db, actor.tenant).by_out_trade_no(merchant_id, data.out_trade_no)
    if existing is not None:
        return _existing_trade(existing, consumer_id, data.amount_fen)
    return _new_trade(db, actor, merchant_id, consumer_id, data, now or utcnow())


def pay_trade(db: Session, actor: Principal, data: TradePay, now: datetime | None = None) -> Order:
    """Code pay: redeem the buyer's payment code and pay from their wallet at once."""
    from ccare.consumers import service as consumers

    merchant_id = _acting_merchant(actor, data.merchant_id)
    repo = OrderRepository(db, actor.tenant)
    existing = repo.by_out_trade_no(merchant_id, data.out_trade_no)
    if existing is not None and existing.status != OrderStatus.CREATED:
        # Checked before the code is used up, so a retried payment keeps the buyer's code.
        raise _taken(existing)
    now = now or utcnow()
    consumer_id = consumers.redeem_payment_code(db, data.auth_code, now)
    if existing is not None:
        order = _existing_trade(existing, consumer_id, data.amount_fen)
    else:
        order = _new_trade(db, actor, merchant_id, consumer_id, data, now)
    locked = repo.order(order.id, for_update=True)
    assert locked is not None
    return _pay(db, locked, now)


def find_trade(db: Session, actor: Principal, ref: TradeRef) -> Order:
    """By trade_no (wins when both are given) or by the merchant's out_trade_no."""
    repo = OrderRepository(db, actor.tenant)
    if ref.trade_no:
        if actor.kind == PrincipalKind.APP:
            _acting_merchant(actor)
        order = repo.by_trade_no(ref.trade_no)
    elif ref.out_trade_no:
        order = repo.by_out_trade_no(_acting_merchant(actor, ref.merchant_id), ref.out_trade_no)
    else:
        raise InvalidInput("give trade_no or out_trade_no", code="trade.id_missing")
    if order is None:
        raise NotFound(
            "no such trade",
            code="order.not_found",
            trade_no=ref.trade_no,
            out_trade_no=ref.out_trade_no,
        )
    return order


def refund_trade(db: Session, actor: Principal, data: TradeRefund) -> tuple[Order, Refund, bool]:
    """(order, refund, whether this call moved money): a known out_request_no with the same
    amount answers with the first refund."""
    order = find_trade(db, actor, data)
    request_no = data.out_request_no or order.trade_no
    repeated = OrderRepository(db).refund_by_request_no(order, request_no) is not None
    refund = refund_order(
        db,
        actor,
        order.id,
        RefundCreate(amount_fen=data.amount_fen, reason=data.reason, out_request_no=request_no),
    )
    return order, refund, not repeated


def find_refund(
    db: Session, actor: Principal, ref: TradeRef, out_request_no: str
) -> tuple[Order, Refund | None]:
    order = find_trade(db, actor, ref)
    return order, OrderRepository(db).refund_by_request_no(order, out_request_no)


def close_trade(db: Session, actor: Principal, ref: TradeRef) -> Order:
    return close_order(db, actor, find_trade(db, actor, ref).id)


def cancel_trade(
    db: Session, actor: Principal, ref: TradeRef
) -> tuple[Order, Literal["close", "refund"], Refund | None]:
    """Undo a trade whatever became of it: close it if unpaid, refund the rest if paid.
    Cancelling again answers with the same action and changes nothing."""
    order = find_trade(db, actor, ref)
    status = OrderStatus(order.status)
    if status == OrderStatus.CREATED:
        return close_order(db, actor, order.id), "close", None
    if status == OrderStatus.CLOSED:
        return order, "close", None
    request_no = f"cancel-{order.trade_no}"
    earlier = OrderRepository(db).refund_by_request_no(order, request_no)
    remaining = order.payable_fen - order.refunded_fen
    if earlier is not None or remaining <= 0:
        return order, "refund", earlier
    refund = refund_order(
        db,
        actor,
        order.id,
        RefundCreate(amount_fen=remaining, reason="cancelled", out_request_no=request_no),
    )
    return order, "refund", refund
