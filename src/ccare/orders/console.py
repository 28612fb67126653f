"""Order pages: merchant dashboard, orders and refunds; ISV orders; the app's orders."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, TypedDict
from urllib.parse import urlencode

from fastapi import Form, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError

from ccare.core.errors import DomainError, InvalidInput
from ccare.core.tenancy import PLATFORM, Principal, Tenant
from ccare.core.time import as_utc, utcnow
from ccare.coupons import claims as coupon_claims
from ccare.coupons import redemption
from ccare.coupons import service as coupon_service
from ccare.coupons.models import Channel, Coupon, CouponActivity, CouponStatus
from ccare.coupons.schemas import ActivityOut, BasketLine, CheckoutPreview, ClaimRequest, QuoteOut
from ccare.orders import service
from ccare.orders.models import OrderStatus
from ccare.orders.schemas import LineIn, OrderCreate, OrderOut, RefundCreate
from ccare.web import i18n
from ccare.web.charts import merchant_daily_sales
from ccare.web.deps import DbSession, RuntimeDep, client_ip
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
from ccare.web.routing import api_router, end_refused
from ccare.web.templating import fen, new_key, parse_yuan, problem_text, render, translate

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

# Coupons offered on the payment-success page, and the coupons on an order.
OFFERS_SHOWN = 3
# Why a coupon does not go on a basket, or a claim is refused, in people's words; the
# placeholders come from the refusal's details. Keys with ":" name a status or period.
COUPON_REASONS: dict[str, str] = {
    "coupon.below_minimum_spend": N_(
        "Spend at least %(floor)s on the items this coupon covers (this order: %(spent)s)."
    ),
    "coupon.no_eligible_goods": N_("None of the items in this order are covered by this coupon."),
    "coupon.no_discount": N_("This coupon takes nothing off this order."),
    "coupon.not_stackable": N_(
        "This coupon cannot be combined with the others chosen; "
        "the combination taking off more was kept."
    ),
    "coupon.same_activity": N_("Only one coupon of an activity can go on an order."),
    "coupon.duplicate": N_("This coupon was chosen twice."),
    "coupon.too_many": N_("At most %(most)s coupons can go on one order."),
    "coupon.not_found": N_("This coupon is not in your wallet."),
    "coupon.not_available": N_("This coupon is no longer available."),
    "coupon.not_available:locked": N_("This coupon is held by another unpaid order."),
    "coupon.not_available:used": N_("This coupon has already been used."),
    "coupon.not_available:expired": N_("This coupon has expired."),
    "coupon.not_available:voided": N_("This coupon was voided by the merchant."),
    "coupon.expired": N_("This coupon has expired."),
    "coupon.not_yet_valid": N_("This coupon cannot be used yet."),
    "coupon.wrong_weekday": N_("This coupon cannot be used on this day of the week."),
    "coupon.outside_hours": N_("This coupon cannot be used at this time of day."),
    "coupon.wrong_merchant": N_("This coupon is for another merchant."),
    "coupon.wrong_mini_program": N_("This coupon cannot be used in this mini-program."),
    "coupon.wrong_store": N_("This coupon cannot be used at this store."),
    # claims
    "coupon.claim_reject": N_("The platform's risk checks refused this claim: %(reasons)s."),
    "coupon.claim_challenge": N_(
        "The platform's risk checks held this claim back for a verification: %(reasons)s."
    ),
    "coupon.user_limit_reached": N_(
        "You already have all the coupons of this activity you may claim."
    ),
    "coupon.user_limit_reached:day": N_(
        "You have claimed the most allowed today for this activity (%(limit)s a day)."
    ),
    "coupon.user_limit_reached:week": N_(
        "You have claimed the most allowed this week for this activity (%(limit)s a week)."
    ),
    "coupon.user_limit_reached:month": N_(
        "You have claimed the most allowed this month for this activity (%(limit)s a month)."
    ),
    "coupon.user_limit_reached:lifetime": N_(
        "You have claimed the most allowed for this activity (%(limit)s per person)."
    ),
    "coupon.device_limit_reached": N_(
        "This phone has claimed the most allowed for this activity (%(limit)s per device)."
    ),
    "coupon.daily_cap_reached": N_(
        "All of today's coupons of this activity are given; come back tomorrow."
    ),
    "coupon.stock_exhausted": N_("No coupons of this activity are left."),
    "coupon.codes_exhausted": N_("No coupons of this activity are left."),
    "coupon.activity_not_active": N_("This activity is not giving out coupons now."),
    "coupon.claim_not_started": N_("This activity is not giving out coupons now."),
    "coupon.claim_ended": N_("This activity is not giving out coupons now."),
}
# The rules of the anti-cheating filter a refused claim names.
RISK_REASONS: dict[str, str] = {
    "risk.device_shared": N_("many accounts claimed on this phone"),
    "risk.new_account": N_("the account is very new"),
    "risk.ip_velocity": N_("many claims came from this network"),
    "risk.geo_velocity": N_("claims came from places too far apart"),
    "risk.city_hopping": N_("claims came from many cities"),
    "risk.claim_without_use": N_("most coupons claimed were never used"),
    "risk.feeds_redeemer": N_("the coupons went to another account"),
    "risk.blacklisted": N_("the account, phone or network is on the platform's blacklist"),
    "risk.no_real_name": N_("the account has no verified real name"),
}
NOT_PAID_YET = N_("Coupons can be claimed once the order is paid.")


def _refusal_text(request: Request, code: str, details: dict[str, Any], fallback: str) -> str:
    """A coupon refused on a basket, an order or a claim, in the request's language."""
    from ccare.coupons.redemption import MAX_COUPONS_PER_ORDER

    text = COUPON_REASONS.get(f"{code}:{details.get('status') or details.get('period')}")
    text = text or COUPON_REASONS.get(code)
    if text is None:
        return fallback
    locale = i18n.request_locale(request)
    rules = [RISK_REASONS[r] for r in details.get("reasons") or () if r in RISK_REASONS]
    reasons = ("、" if locale.startswith("zh") else ", ").join(
        i18n.gettext(locale, r) for r in rules
    )
    params = {
        "floor": fen(details.get("floor_fen")),
        "spent": fen(details.get("eligible_fen")),
        "limit": details.get("limit", ""),
        "most": MAX_COUPONS_PER_ORDER,
        "reasons": reasons or "—",
    }
    return i18n.gettext(locale, text) % params


def _problem(request: Request, exc: Exception) -> str:
    text = problem_text(request, exc)
    if isinstance(exc, DomainError) and exc.code.startswith("coupon."):
        return _refusal_text(request, exc.code, exc.details, text)
    return text


def _basket(item_id: list[int], quantity: list[str]) -> dict[int, int]:
    wanted: dict[int, int] = {}
    for iid, qty in zip(item_id, quantity, strict=False):
        q = int(qty) if qty.strip().isdigit() else 0
        if q > 0:
            wanted[iid] = q
    return wanted


@dataclass(frozen=True)
class _Choice:
    """One of the consumer's coupons at checkout: what it takes off alone, or why not."""

    coupon: Coupon
    activity: CouponActivity
    discount_fen: int
    refusal: str | None


@dataclass(frozen=True)
class _QuoteRow:
    coupon_id: int
    name: str
    discount_fen: int
    reason: str | None


def _preview(
    db: DbSession, consumer: Principal, mp_id: int, wanted: dict[int, int], ids: list[int]
) -> QuoteOut:
    data = CheckoutPreview(
        mini_program_id=mp_id,
        lines=[BasketLine(item_id=i, quantity=q) for i, q in wanted.items()],
        coupon_ids=ids,
    )
    return redemption.preview(db, consumer.id, data)


def _coupon_names(db: DbSession, consumer: Principal, coupon_ids: set[int]) -> dict[int, str]:
    """The consumer's coupons among these ids, by the name of their activity."""
    names = {}
    for coupon in coupon_claims.my_coupons(db, consumer):
        if coupon.id in coupon_ids:
            names[coupon.id] = coupon_service.get_activity(db, PLATFORM, coupon.activity_id).name
    return names


def _wallet_choices(
    request: Request,
    db: DbSession,
    consumer: Principal,
    mp_id: int,
    merchant_id: int,
    wanted: dict[int, int],
) -> list[_Choice]:
    """The consumer's usable-looking coupons of this merchant, each quoted alone on the
    basket: the ones that apply first (largest saving first), then the others."""
    now = utcnow()
    choices = []
    for coupon in coupon_claims.my_coupons(db, consumer):
        if (
            coupon.merchant_id != merchant_id
            or coupon.status != CouponStatus.AVAILABLE
            or as_utc(coupon.valid_until) <= now
        ):
            continue
        activity = coupon_service.get_activity(db, PLATFORM, coupon.activity_id)
        quote = _preview(db, consumer, mp_id, wanted, [coupon.id])
        refusal = None
        if quote.refused:
            r = quote.refused[0]
            refusal = _refusal_text(request, r.code, r.details, r.message)
        choices.append(_Choice(coupon, activity, quote.discount_fen, refusal))
    choices.sort(
        key=lambda c: (c.refusal is not None, -c.discount_fen, as_utc(c.coupon.valid_until))
    )
    return choices


def _quote_context(
    request: Request,
    db: DbSession,
    consumer: Principal,
    mp_id: int,
    wanted: dict[int, int],
    selected: list[int],
    names: dict[int, str],
) -> dict[str, Any]:
    """The chosen coupons together on the basket: each one's saving or refusal, the totals."""
    from ccare.catalog import service as catalog
    from ccare.coupons.redemption import MAX_COUPONS_PER_ORDER

    if not selected or len(selected) > MAX_COUPONS_PER_ORDER:
        total = sum(p.amount_fen for p in catalog.price_lines(db, mp_id, list(wanted.items())))
        quote = QuoteOut(total_fen=total, discount_fen=0, payable_fen=total, applied=[], refused=[])
        problem = None
        if selected:
            problem = _refusal_text(request, "coupon.too_many", {}, "")
        return {"quote": quote, "quote_rows": [], "quote_problem": problem}
    quote = _preview(db, consumer, mp_id, wanted, selected)
    off = {a.coupon_id: a.discount_fen for a in quote.applied}
    why = {r.coupon_id: _refusal_text(request, r.code, r.details, r.message) for r in quote.refused}
    rows = [
        _QuoteRow(cid, names.get(cid, f"#{cid}"), off.get(cid, 0), why.get(cid))
        for cid in selected
        if cid in off or cid in why
    ]
    return {"quote": quote, "quote_rows": rows, "quote_problem": None}


def _checkout_page(
    request: Request,
    db: DbSession,
    consumer: Principal,
    mp_id: int,
    wanted: dict[int, int],
    *,
    key: str,
    selected: list[int] | None = None,
    error: str | None = None,
    status_code: int = 200,
    always: bool = False,
) -> Response | None:
    """The step between the storefront and the order when the consumer holds coupons of
    this merchant: the basket, the coupons to choose, what they take off. None: no step
    (nothing to choose, or a basket the order itself refuses, with its own words)."""
    from ccare.catalog import service as catalog

    try:
        lines = catalog.price_lines(db, mp_id, list(wanted.items()))
        front = catalog.storefront(db, mp_id)
        choices = _wallet_choices(request, db, consumer, mp_id, lines[0].merchant_id, wanted)
        if not choices and not always:
            return None
        chosen = selected or []
        names = {c.coupon.id: c.activity.name for c in choices}
        quote = _quote_context(request, db, consumer, mp_id, wanted, chosen, names)
    except (DomainError, ValidationError):
        db.rollback()
        return None
    return render(
        request,
        "orders/app_checkout.html",
        status_code=status_code,
        mini_program=front.mini_program,
        lines=lines,
        choices=choices,
        selected=set(chosen),
        key=key or new_key(),
        error=error,
        **quote,
    )


@app_router.post("/app/orders")
def app_create_order(
    request: Request,
    db: DbSession,
    consumer: AppConsumer,
    mini_program_id: Annotated[int, Form(gt=0, lt=2**62)],
    item_id: Annotated[list[int], Form()] = [],  # noqa: B006
    quantity: Annotated[list[str], Form()] = [],  # noqa: B006
    coupon_id: Annotated[list[int], Form()] = [],  # noqa: B006
    checkout: Annotated[str, Form()] = "",
    idempotency_key: Annotated[str, Form()] = "",
) -> Response:
    """The storefront's order: through the checkout step first when the consumer holds
    coupons of this merchant (`checkout` set: that step's form, with its coupons)."""
    from ccare.catalog import service as catalog

    wanted = _basket(item_id, quantity)
    selected = list(dict.fromkeys(coupon_id))
    if wanted and not checkout:
        step = _checkout_page(request, db, consumer, mini_program_id, wanted, key=idempotency_key)
        if step is not None:
            return step
    try:
        data = OrderCreate(
            mini_program_id=mini_program_id,
            lines=[LineIn(item_id=i, quantity=q) for i, q in wanted.items()],
            coupon_ids=selected,
        )

        def produce() -> dict[str, int]:
            return {"order_id": service.create_order(db, consumer, data).id}

        result = run_once(
            db, consumer, idempotency_key, "orders.create", data.model_dump(), produce
        )
    except (DomainError, ValidationError) as exc:
        db.rollback()
        status_code = getattr(exc, "status_code", 422)
        if checkout and wanted:
            again = _checkout_page(
                request,
                db,
                consumer,
                mini_program_id,
                wanted,
                key=idempotency_key,
                selected=selected,
                error=_problem(request, exc),
                status_code=status_code,
                always=True,
            )
            if again is not None:
                return again
        try:
            front = catalog.storefront(db, mini_program_id)
        except DomainError as missing:
            return error_page(request, missing, area="app")
        if isinstance(exc, ValidationError) and not wanted:
            message = translate(request, N_("Choose at least one item."))
        else:
            message = _problem(request, exc)
        return render(
            request,
            "catalog/app_storefront.html",
            status_code=status_code,
            front=front,
            quantities=wanted,
            error=message,
        )
    return redirect(f"/app/orders/{result['order_id']}")


@app_router.get("/app/checkout/quote")
def app_checkout_quote(
    request: Request,
    db: DbSession,
    consumer: AppConsumer,
    mini_program_id: Annotated[int, Query(gt=0, lt=2**62)],
    item_id: Annotated[list[int], Query()] = [],  # noqa: B006
    quantity: Annotated[list[str], Query()] = [],  # noqa: B006
    coupon_id: Annotated[list[int], Query()] = [],  # noqa: B006
) -> Response:
    """The checkout's summary for the coupons ticked (HTMX): each one's saving or the
    reason it does not apply, and what is left to pay."""
    from ccare.catalog import service as catalog

    wanted = _basket(item_id, quantity)
    selected = list(dict.fromkeys(coupon_id))
    try:
        lines = catalog.price_lines(db, mini_program_id, list(wanted.items()))
        if not lines:
            raise InvalidInput("an order needs at least one line", code="catalog.invalid_quantity")
        names = _coupon_names(db, consumer, set(selected))
        quote = _quote_context(request, db, consumer, mini_program_id, wanted, selected, names)
    except (DomainError, ValidationError) as exc:
        return render(
            request,
            "orders/app_checkout_quote.html",
            status_code=getattr(exc, "status_code", 422),
            quote=None,
            quote_rows=[],
            quote_problem=_problem(request, exc),
        )
    return render(request, "orders/app_checkout_quote.html", **quote)


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


def _claim_key(order_id: int, activity_id: int) -> str:
    """One claim per activity per paid order: a second click claims nothing more."""
    return f"order-{order_id}-activity-{activity_id}"


@dataclass(frozen=True)
class _Offer:
    activity: ActivityOut
    coupon: Coupon | None  # claimed through this order


def _offers(db: DbSession, consumer: Principal, order: OrderOut) -> list[_Offer]:
    """Up to three of the merchant's activities on the payment-success page: the ones
    claimed through this order, and the ones the consumer can still claim."""
    # The service keeps a consumer's claim key as "<consumer id>:<key>".
    claimed = {
        c.activity_id: c
        for c in coupon_claims.my_coupons(db, consumer)
        if c.claim_key == f"{consumer.id}:{_claim_key(order.id, c.activity_id)}"
    }
    claimable = {
        a.id for a in coupon_claims.claimable_activities(db, consumer.id, order.merchant_id)
    }
    tenant = Tenant(frozenset({order.merchant_id}))
    shown = [
        _Offer(a, claimed.get(a.id))
        for a in coupon_service.list_activities(db, tenant, order.merchant_id)
        if a.id in claimed or a.id in claimable
    ]
    return shown[:OFFERS_SHOWN]


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
    coupons = {
        int(d.reference) for d in order.discounts if d.source == "coupon" and d.reference.isdigit()
    }
    return render(
        request,
        "orders/app_order.html",
        status_code=status_code,
        order=order,
        balance=ledger.wallet_balance(db, consumer.id),
        coupon_names=_coupon_names(db, consumer, coupons) if coupons else {},
        offers=_offers(db, consumer, order) if order.status == OrderStatus.PAID else [],
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
    claimed: str | None = None,
) -> Response:
    notice = translate(request, N_("Payment successful.")) if paid else None
    if claimed:
        notice = translate(request, N_("Coupon claimed: it is in My coupons."))
    return _app_order_page(request, db, consumer, order_id, notice=notice)


@app_router.post("/app/orders/{order_id}/coupons/{activity_id}/claim")
def app_claim(
    request: Request,
    db: DbSession,
    runtime: RuntimeDep,
    consumer: AppConsumer,
    order_id: PageId,
    activity_id: PageId,
) -> Response:
    """A coupon offered on the payment-success page, claimed on the `payment_success`
    channel; the claim key is the order's and the activity's, so it claims once."""
    from ccare.coupons.gate import gate_for

    try:
        order = service.get_order(db, consumer, order_id)
        # Only the order's own merchant's activities are offered on it.
        coupon_service.get_activity(db, Tenant(frozenset({order.merchant_id})), activity_id)
        if order.status != OrderStatus.PAID.value:
            return _app_order_page(
                request,
                db,
                consumer,
                order_id,
                error=translate(request, NOT_PAID_YET),
                status_code=409,
            )
        coupon_claims.claim(
            db,
            consumer,
            activity_id,
            ClaimRequest(
                channel=Channel.PAYMENT_SUCCESS, claim_key=_claim_key(order_id, activity_id)
            ),
            ip=client_ip(request),
            gate=gate_for(runtime.settings.effective_redis_url),
        )
    except DomainError as exc:
        end_refused(db, exc)
        if exc.status_code == 404:
            return error_page(request, exc, area="app")
        return _app_order_page(
            request,
            db,
            consumer,
            order_id,
            error=_problem(request, exc),
            error_code=exc.code,
            status_code=exc.status_code,
        )
    return redirect(f"/app/orders/{order_id}?claimed=1")


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
