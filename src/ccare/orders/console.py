"""Order pages: merchant dashboard, orders and refunds; ISV orders; the app's orders."""

from __future__ import annotations

from typing import Annotated, Any, TypedDict
from urllib.parse import urlencode

from fastapi import Form, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError

from ccare.core.errors import DomainError
from ccare.core.tenancy import Principal, Tenant
from ccare.orders import service
from ccare.orders.models import OrderStatus
from ccare.orders.schemas import LineIn, OrderCreate, RefundCreate
from ccare.web.charts import merchant_daily_sales
from ccare.web.deps import DbSession, RuntimeDep
from ccare.web.i18n import N_
from ccare.web.pages import (
    AppConsumer,
    IsvUser,
    MerchantUser,
    PageId,
    error_page,
    redirect,
    run_once,
)
from ccare.web.routing import api_router
from ccare.web.templating import parse_yuan, problem_text, render, translate

router = api_router(tags=["console"])
app_router = api_router(tags=["app"])

PAGE_SIZE = 20
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
StatusFilter = Annotated[OrderStatus | None, Query()]


class _PageLinks(TypedDict):
    page_prev: str | None
    page_next: str | None


def _pages(path: str, params: dict[str, Any], offset: int, count: int) -> _PageLinks:
    def url(o: int) -> str:
        query = {k: v for k, v in {**params, "offset": o or None}.items() if v is not None}
        return f"{path}?{urlencode(query)}" if query else path

    return {
        "page_prev": url(max(offset - PAGE_SIZE, 0)) if offset > 0 else None,
        "page_next": url(offset + PAGE_SIZE) if count == PAGE_SIZE else None,
    }


def _status_value(status: OrderStatus | None) -> str | None:
    return status.value if status else None


# ---------------------------------------------------------------- merchant (B)


@router.get("/console/merchant")
def dashboard(
    request: Request, db: DbSession, runtime: RuntimeDep, staff: MerchantUser
) -> Response:
    from ccare.ledger import service as ledger

    merchant_id = staff.merchant_id
    assert merchant_id is not None
    series = merchant_daily_sales(runtime.analytics, merchant_id, days=14)
    today = series[-1]
    recent = service.list_orders(db, staff.tenant, limit=6)
    awaiting = service.list_orders(db, staff.tenant, status=OrderStatus.CREATED, limit=100)
    chart = {
        "labels": [d.day.strftime("%m-%d") for d in series],
        "gmv": [d.gmv_fen / 100 for d in series],
        "orders": [d.orders for d in series],
    }
    return render(
        request,
        "orders/merchant_dashboard.html",
        today=today,
        series=series,
        chart=chart,
        period_gmv=sum(d.gmv_fen for d in series),
        period_orders=sum(d.orders for d in series),
        balance=ledger.merchant_balance(db, staff.tenant, merchant_id),
        recent=recent,
        awaiting_count=len(awaiting),
    )


@router.get("/console/merchant/orders")
def merchant_orders(
    request: Request,
    db: DbSession,
    staff: MerchantUser,
    status: StatusFilter = None,
    offset: Offset = 0,
) -> Response:
    orders = service.list_orders(db, staff.tenant, status=status, limit=PAGE_SIZE, offset=offset)
    return render(
        request,
        "orders/merchant_orders.html",
        orders=orders,
        status=_status_value(status),
        statuses=list(OrderStatus),
        base="/console/merchant/orders",
        **_pages(request.url.path, {"status": _status_value(status)}, offset, len(orders)),
    )


def _order_page(
    request: Request,
    db: DbSession,
    staff: Principal,
    order_id: int,
    *,
    error: str | None = None,
    notice: str | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
    back: str = "/console/merchant/orders",
) -> Response:
    try:
        order = service.get_order(db, staff, order_id)
    except DomainError as exc:
        return error_page(request, exc)
    refunds = service.list_refunds(db, staff, order_id)
    detail = service.describe(db, order)
    refundable = detail.payable_fen - detail.refunded_fen
    can_refund = (
        back.startswith("/console/merchant")
        and staff.can_manage()
        and detail.status in (OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED)
        and refundable > 0
    )
    return render(
        request,
        "orders/order_detail.html",
        status_code=status_code,
        order=detail,
        refunds=refunds,
        refundable=refundable,
        can_refund=can_refund,
        error=error,
        notice=notice,
        form=form or {},
        back=back,
    )


@router.get("/console/merchant/orders/{order_id}")
def merchant_order(
    request: Request,
    db: DbSession,
    staff: MerchantUser,
    order_id: PageId,
    refunded: str | None = None,
) -> Response:
    notice = translate(request, N_("Refund done.")) if refunded else None
    return _order_page(request, db, staff, order_id, notice=notice)


@router.post("/console/merchant/orders/{order_id}/refund")
def refund(
    request: Request,
    db: DbSession,
    staff: MerchantUser,
    order_id: PageId,
    amount: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    idempotency_key: Annotated[str, Form()] = "",
) -> Response:
    form = {"amount": amount, "reason": reason}
    try:
        data = RefundCreate.model_validate(
            {
                "amount_fen": parse_yuan(amount),
                "reason": reason,
                "out_request_no": f"console-{idempotency_key[:48]}",
            }
        )

        def produce() -> dict[str, int]:
            return {"refund_id": service.refund_order(db, staff, order_id, data).id}

        run_once(
            db,
            staff,
            idempotency_key,
            "orders.refund",
            {"order_id": order_id, **data.model_dump()},
            produce,
        )
    except (DomainError, ValidationError) as exc:
        db.rollback()
        if isinstance(exc, DomainError) and exc.status_code == 404:
            return error_page(request, exc)
        return _order_page(
            request,
            db,
            staff,
            order_id,
            error=problem_text(request, exc),
            form=form,
            status_code=getattr(exc, "status_code", 422),
        )
    return redirect(f"/console/merchant/orders/{order_id}?refunded=1")


# ---------------------------------------------------------------- ISV (P)


@router.get("/console/isv/orders")
def isv_orders(
    request: Request,
    db: DbSession,
    isv: IsvUser,
    merchant_id: Annotated[int | None, Query(gt=0, lt=2**62)] = None,
    status: StatusFilter = None,
    offset: Offset = 0,
) -> Response:
    from ccare.merchants import service as merchants

    granted = merchants.list_merchants(db, isv.tenant, limit=500)
    tenant = isv.tenant
    if merchant_id is not None:
        # Narrow to one granted merchant; an id outside the grants leaves nothing.
        tenant = Tenant(frozenset({merchant_id}) & isv.tenant.merchant_ids)
    orders = service.list_orders(db, tenant, status=status, limit=PAGE_SIZE, offset=offset)
    params = {"merchant_id": merchant_id, "status": _status_value(status)}
    return render(
        request,
        "orders/isv_orders.html",
        orders=orders,
        merchants={m.id: m for m in granted},
        merchant_id=merchant_id,
        status=_status_value(status),
        statuses=list(OrderStatus),
        **_pages(request.url.path, params, offset, len(orders)),
    )


@router.get("/console/isv/orders/{order_id}")
def isv_order(request: Request, db: DbSession, isv: IsvUser, order_id: PageId) -> Response:
    return _order_page(request, db, isv, order_id, back="/console/isv/orders")


# ---------------------------------------------------------------- consumer app


@app_router.post("/app/orders")
def app_create_order(
    request: Request,
    db: DbSession,
    consumer: AppConsumer,
    mini_program_id: Annotated[int, Form(gt=0, lt=2**62)],
    item_id: Annotated[list[int], Form()] = [],  # noqa: B006
    quantity: Annotated[list[str], Form()] = [],  # noqa: B006
    idempotency_key: Annotated[str, Form()] = "",
) -> Response:
    from ccare.catalog import service as catalog

    wanted: dict[int, int] = {}
    for iid, qty in zip(item_id, quantity, strict=False):
        q = int(qty) if qty.strip().isdigit() else 0
        if q > 0:
            wanted[iid] = q
    try:
        data = OrderCreate(
            mini_program_id=mini_program_id,
            lines=[LineIn(item_id=i, quantity=q) for i, q in wanted.items()],
        )

        def produce() -> dict[str, int]:
            return {"order_id": service.create_order(db, consumer, data).id}

        result = run_once(
            db, consumer, idempotency_key, "orders.create", data.model_dump(), produce
        )
    except (DomainError, ValidationError) as exc:
        db.rollback()
        try:
            front = catalog.storefront(db, mini_program_id)
        except DomainError as missing:
            return error_page(request, missing, area="app")
        if isinstance(exc, ValidationError) and not wanted:
            message = translate(request, N_("Choose at least one item."))
        else:
            message = problem_text(request, exc)
        return render(
            request,
            "catalog/app_storefront.html",
            status_code=getattr(exc, "status_code", 422),
            front=front,
            quantities=wanted,
            error=message,
        )
    return redirect(f"/app/orders/{result['order_id']}")


@app_router.get("/app/orders")
def app_orders(
    request: Request, db: DbSession, consumer: AppConsumer, offset: Offset = 0
) -> Response:
    orders = service.consumer_orders(db, consumer.id, limit=PAGE_SIZE, offset=offset)
    return render(
        request,
        "orders/app_orders.html",
        orders=orders,
        **_pages(request.url.path, {}, offset, len(orders)),
    )


def _app_order_page(
    request: Request,
    db: DbSession,
    consumer: Principal,
    order_id: int,
    *,
    error: str | None = None,
    error_code: str | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> Response:
    from ccare.ledger import service as ledger

    try:
        order = service.describe(db, service.get_order(db, consumer, order_id))
    except DomainError as exc:
        return error_page(request, exc, area="app")
    return render(
        request,
        "orders/app_order.html",
        status_code=status_code,
        order=order,
        balance=ledger.wallet_balance(db, consumer.id),
        error=error,
        error_code=error_code,
        notice=notice,
    )


@app_router.get("/app/orders/{order_id}")
def app_order(
    request: Request,
    db: DbSession,
    consumer: AppConsumer,
    order_id: PageId,
    paid: str | None = None,
) -> Response:
    notice = translate(request, N_("Payment successful.")) if paid else None
    return _app_order_page(request, db, consumer, order_id, notice=notice)


@app_router.post("/app/orders/{order_id}/pay")
def app_pay(
    request: Request,
    db: DbSession,
    consumer: AppConsumer,
    order_id: PageId,
    idempotency_key: Annotated[str, Form()] = "",
) -> Response:
    def produce() -> dict[str, str]:
        return {"status": service.pay_order(db, consumer, order_id).status}

    try:
        run_once(db, consumer, idempotency_key, "orders.pay", {"order_id": order_id}, produce)
    except DomainError as exc:
        if exc.status_code == 404:
            return error_page(request, exc, area="app")
        return _app_order_page(
            request,
            db,
            consumer,
            order_id,
            error=problem_text(request, exc),
            error_code=exc.code,
            status_code=exc.status_code,
        )
    return redirect(f"/app/orders/{order_id}?paid=1")


@app_router.post("/app/orders/{order_id}/close")
def app_close(request: Request, db: DbSession, consumer: AppConsumer, order_id: PageId) -> Response:
    try:
        service.close_order(db, consumer, order_id)
    except DomainError as exc:
        db.rollback()
        if exc.status_code == 404:
            return error_page(request, exc, area="app")
        return _app_order_page(
            request,
            db,
            consumer,
            order_id,
            error=problem_text(request, exc),
            status_code=exc.status_code,
        )
    return redirect(f"/app/orders/{order_id}")
