from fastapi.responses import JSONResponse

from ccare.core.tenancy import PrincipalKind
from ccare.orders import service
from ccare.orders.models import OrderStatus
from ccare.orders.schemas import OrderCreate, OrderOut, OrderPage, RefundCreate, RefundOut
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
from ccare.web.idempotent import run_idempotent
from ccare.web.routing import api_router

router = api_router(prefix="/api/v1/orders", tags=["orders"])


@router.post(
    "",
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


@router.get("", response_model=OrderPage, summary="Staff: the tenant's orders; consumer: own")
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


@router.get("/{order_id}", response_model=OrderOut, summary="One order")
def get_order(order_id: IdPath, db: DbSession, principal: CurrentPrincipal) -> OrderOut:
    return service.describe(db, service.get_order(db, principal, order_id))


@router.post(
    "/{order_id}/pay",
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
    "/{order_id}/close",
    response_model=OrderOut,
    summary="Close an unpaid order (its consumer or the merchant's staff)",
)
def close_order(order_id: IdPath, db: DbSession, principal: CurrentPrincipal) -> OrderOut:
    return service.describe(db, service.close_order(db, principal, order_id))


@router.post(
    "/{order_id}/refunds",
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


@router.get("/{order_id}/refunds", response_model=list[RefundOut], summary="An order's refunds")
def list_refunds(order_id: IdPath, db: DbSession, principal: CurrentPrincipal) -> list[RefundOut]:
    return [RefundOut.model_validate(r) for r in service.list_refunds(db, principal, order_id)]
