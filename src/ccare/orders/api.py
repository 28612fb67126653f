from datetime import datetime
from typing import Annotated, Any

from fastapi import Query
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from ccare.consumers.service import buyer_id
from ccare.core.errors import InvalidInput
from ccare.core.tenancy import PrincipalKind
from ccare.core.time import beijing_text
from ccare.orders import service
from ccare.orders.models import Order, OrderStatus
from ccare.orders.schemas import (
    ALIPAY_TRADE_STATUS,
    OrderCreate,
    OrderOut,
    OrderPage,
    RefundCreate,
    RefundOut,
    RefundQueryBiz,
    TradeCancelOut,
    TradeCreate,
    TradeCreateBiz,
    TradePay,
    TradePayBiz,
    TradeRef,
    TradeRefBiz,
    TradeRefund,
    TradeRefundBiz,
    TradeRefundOut,
    fen_to_yuan,
)
from ccare.web.deps import (
    CurrentConsumer,
    CurrentPrincipal,
    CurrentStaff,
    DbSession,
    IdempotencyKey,
    IdPath,
    Limit,
    Offset,
)
from ccare.web.gateway import GatewayContext, gateway_method
from ccare.web.idempotent import run_idempotent
from ccare.web.routing import api_router

# Orders at /api/v1/orders, merchant-side trades at /api/v1/trades; the first tag is the
# scope an app needs.
router = api_router(prefix="/api/v1", tags=["orders"])


@router.post(
    "/orders",
    response_model=OrderOut,
    status_code=201,
    summary="Consumer: place an order (prices from the catalog; Idempotency-Key required)",
)
def create_order(
    body: OrderCreate, db: DbSession, consumer: CurrentConsumer, key: IdempotencyKey
) -> JSONResponse:
    def produce() -> OrderOut:
        return service.describe(db, service.create_order(db, consumer, body))

    return run_idempotent(db, consumer, key, "orders.create", body, produce, status_code=201)


@router.get(
    "/orders", response_model=OrderPage, summary="Staff: the tenant's orders; consumer: own"
)
def list_orders(
    db: DbSession,
    principal: CurrentPrincipal,
    status: OrderStatus | None = None,
    limit: Limit = 20,
    offset: Offset = 0,
) -> OrderPage:
    if principal.kind == PrincipalKind.CONSUMER:
        orders = service.consumer_orders(db, principal.id, status, limit, offset)
    else:
        orders = service.list_orders(db, principal.tenant, status, limit, offset)
    return OrderPage(items=service.describe_many(db, orders), limit=limit, offset=offset)


@router.get("/orders/{order_id}", response_model=OrderOut, summary="One order")
def get_order(order_id: IdPath, db: DbSession, principal: CurrentPrincipal) -> OrderOut:
    return service.describe(db, service.get_order(db, principal, order_id))


@router.post(
    "/orders/{order_id}/pay",
    response_model=OrderOut,
    summary="Consumer: pay from the wallet (Idempotency-Key required)",
)
def pay_order(
    order_id: IdPath, db: DbSession, consumer: CurrentConsumer, key: IdempotencyKey
) -> JSONResponse:
    def produce() -> OrderOut:
        return service.describe(db, service.pay_order(db, consumer, order_id))

    return run_idempotent(db, consumer, key, f"orders.pay:{order_id}", {}, produce)


@router.post(
    "/orders/{order_id}/close",
    response_model=OrderOut,
    summary="Close an unpaid order (its consumer or the merchant's staff)",
)
def close_order(order_id: IdPath, db: DbSession, principal: CurrentPrincipal) -> OrderOut:
    return service.describe(db, service.close_order(db, principal, order_id))


@router.post(
    "/orders/{order_id}/refunds",
    response_model=RefundOut,
    status_code=201,
    summary="Owner/manager: refund all or part (one per out_request_no; Idempotency-Key)",
)
def refund_order(
    order_id: IdPath, body: RefundCreate, db: DbSession, staff: CurrentStaff, key: IdempotencyKey
) -> JSONResponse:
    def produce() -> RefundOut:
        return RefundOut.model_validate(service.refund_order(db, staff, order_id, body))

    return run_idempotent(
        db, staff, key, f"orders.refund:{order_id}", body, produce, status_code=201
    )


@router.get(
    "/orders/{order_id}/refunds", response_model=list[RefundOut], summary="An order's refunds"
)
def list_refunds(order_id: IdPath, db: DbSession, principal: CurrentPrincipal) -> list[RefundOut]:
    return [RefundOut.model_validate(r) for r in service.list_refunds(db, principal, order_id)]


# --- merchant-side trades: the native API ---------------------------------------------------


@router.post(
    "/trades",
    response_model=OrderOut,
    status_code=201,
    summary="Merchant staff or app: a trade the buyer pays in the app (same out_trade_no: "
    "same trade)",
)
def create_trade(body: TradeCreate, db: DbSession, staff: CurrentStaff) -> OrderOut:
    return service.describe(db, service.create_trade(db, staff, body))


@router.post(
    "/trades/pay",
    response_model=OrderOut,
    summary="Merchant staff or app: code pay with the buyer's payment code (Idempotency-Key)",
)
def pay_trade(
    body: TradePay, db: DbSession, staff: CurrentStaff, key: IdempotencyKey
) -> JSONResponse:
    def produce() -> OrderOut:
        return service.describe(db, service.pay_trade(db, staff, body))

    return run_idempotent(db, staff, key, "trades.pay", body, produce)


@router.get("/trades/query", response_model=OrderOut, summary="A trade by trade_no or out_trade_no")
def query_trade(
    db: DbSession,
    staff: CurrentStaff,
    trade_no: Annotated[str | None, Query(max_length=32)] = None,
    out_trade_no: Annotated[str | None, Query(max_length=64)] = None,
    merchant_id: Annotated[int | None, Query(gt=0, lt=2**62)] = None,
) -> OrderOut:
    try:
        ref = TradeRef(trade_no=trade_no, out_trade_no=out_trade_no, merchant_id=merchant_id)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        message = f"{field}: {first['msg']}" if field else str(first["msg"])
        raise InvalidInput(message, code="trade.invalid_query") from None
    return service.describe(db, service.find_trade(db, staff, ref))


@router.post(
    "/trades/refund",
    response_model=TradeRefundOut,
    summary="Owner/manager or app: refund a trade (one per out_request_no; Idempotency-Key)",
)
def refund_trade(
    body: TradeRefund, db: DbSession, staff: CurrentStaff, key: IdempotencyKey
) -> JSONResponse:
    def produce() -> TradeRefundOut:
        order, refund, moved = service.refund_trade(db, staff, body)
        return TradeRefundOut(
            order=service.describe(db, order),
            refund=RefundOut.model_validate(refund),
            fund_change=moved,
        )

    return run_idempotent(db, staff, key, "trades.refund", body, produce)


@router.post(
    "/trades/cancel",
    response_model=TradeCancelOut,
    summary="Undo a trade: close it if unpaid, refund the rest if paid (Idempotency-Key)",
)
def cancel_trade(
    body: TradeRef, db: DbSession, staff: CurrentStaff, key: IdempotencyKey
) -> JSONResponse:
    def produce() -> TradeCancelOut:
        order, action, _ = service.cancel_trade(db, staff, body)
        return TradeCancelOut(order=service.describe(db, order), action=action)

    return run_idempotent(db, staff, key, "trades.cancel", body, produce)


# --- merchant-side trades: the v1 gateway (amounts in yuan, times in Beijing) ---------------


def _ids(order: Order) -> dict[str, Any]:
    return {"trade_no": order.trade_no, "out_trade_no": order.out_trade_no}


def _paid(order: Order) -> dict[str, Any]:
    paid = fen_to_yuan(order.payable_fen)
    return {
        "buyer_pay_amount": paid,
        "receipt_amount": paid,
        "invoice_amount": paid,
        "point_amount": "0.00",
        "fund_bill_list": [{"fund_channel": "ALIPAYACCOUNT", "amount": paid}],
    }


def _when(value: datetime | None) -> str | None:
    return beijing_text(value) if value is not None else None


@gateway_method("alipay.trade.create", scope="orders", biz=TradeCreateBiz)
def gateway_trade_create(ctx: GatewayContext, biz: TradeCreateBiz) -> dict[str, Any]:
    return _ids(service.create_trade(ctx.db, ctx.principal, biz.to_input(ctx.notify_url)))


@gateway_method("alipay.trade.pay", scope="orders", biz=TradePayBiz)
def gateway_trade_pay(ctx: GatewayContext, biz: TradePayBiz) -> dict[str, Any]:
    order = service.pay_trade(ctx.db, ctx.principal, biz.to_input(ctx.notify_url))
    return {
        **_ids(order),
        "buyer_user_id": buyer_id(order.consumer_id),
        "total_amount": fen_to_yuan(order.amount_fen),
        **_paid(order),
        "gmt_payment": _when(order.paid_at),
    }


@gateway_method("alipay.trade.query", scope="orders", biz=TradeRefBiz)
def gateway_trade_query(ctx: GatewayContext, biz: TradeRefBiz) -> dict[str, Any]:
    order = service.find_trade(ctx.db, ctx.principal, biz.ref())
    fields = {
        **_ids(order),
        "buyer_user_id": buyer_id(order.consumer_id),
        "trade_status": ALIPAY_TRADE_STATUS[OrderStatus(order.status)],
        "total_amount": fen_to_yuan(order.amount_fen),
        "subject": order.subject,
    }
    if order.paid_at is not None:
        fields |= {**_paid(order), "send_pay_date": _when(order.paid_at)}
    return fields


@gateway_method("alipay.trade.refund", scope="orders", biz=TradeRefundBiz)
def gateway_trade_refund(ctx: GatewayContext, biz: TradeRefundBiz) -> dict[str, Any]:
    order, refund, moved = service.refund_trade(ctx.db, ctx.principal, biz.to_input())
    return {
        **_ids(order),
        "buyer_user_id": buyer_id(order.consumer_id),
        "fund_change": "Y" if moved else "N",
        "refund_fee": fen_to_yuan(order.refunded_fen),
        "send_back_fee": fen_to_yuan(refund.amount_fen),
        "gmt_refund_pay": _when(refund.created_at),
    }


@gateway_method("alipay.trade.fastpay.refund.query", scope="orders", biz=RefundQueryBiz)
def gateway_refund_query(ctx: GatewayContext, biz: RefundQueryBiz) -> dict[str, Any]:
    order, refund = service.find_refund(ctx.db, ctx.principal, biz.ref(), biz.out_request_no)
    fields = {**_ids(order), "out_request_no": biz.out_request_no}
    # Alipay answers an unknown out_request_no with success and no refund fields.
    if refund is not None:
        fields |= {
            "total_amount": fen_to_yuan(order.amount_fen),
            "refund_amount": fen_to_yuan(refund.amount_fen),
            "refund_status": "REFUND_SUCCESS",
            "gmt_refund_pay": _when(refund.created_at),
        }
    return fields


@gateway_method("alipay.trade.close", scope="orders", biz=TradeRefBiz)
def gateway_trade_close(ctx: GatewayContext, biz: TradeRefBiz) -> dict[str, Any]:
    return _ids(service.close_trade(ctx.db, ctx.principal, biz.ref()))


@gateway_method("alipay.trade.cancel", scope="orders", biz=TradeRefBiz)
def gateway_trade_cancel(ctx: GatewayContext, biz: TradeRefBiz) -> dict[str, Any]:
    order, action, refund = service.cancel_trade(ctx.db, ctx.principal, biz.ref())
    fields = {**_ids(order), "retry_flag": "N", "action": action}
    if refund is not None:
        fields["gmt_refund_pay"] = _when(refund.created_at)
    return fields
