"""Merchant pages: stores and staff (B); the operator's merchant directory."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError

from ccare.core.errors import DomainError
from ccare.core.tenancy import StaffRole
from ccare.merchants import service
from ccare.merchants.models import MerchantStatus
from ccare.merchants.schemas import StaffCreate, StoreCreate
from ccare.web.deps import DbSession
from ccare.web.i18n import N_
from ccare.web.pages import MerchantUser, OperatorUser, PageId, error_page, redirect
from ccare.web.routing import api_router
from ccare.web.templating import problem_text, render, translate

router = api_router(tags=["console"])

PAGE_SIZE = 50


# ---------------------------------------------------------------- merchant (B)


def _stores_page(
    request: Request,
    db: DbSession,
    staff: MerchantUser,
    *,
    error: str | None = None,
    notice: str | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    assert staff.merchant_id is not None
    return render(
        request,
        "merchants/stores.html",
        status_code=status_code,
        merchant=service.get_merchant(db, staff.tenant, staff.merchant_id),
        stores=service.list_stores(db, staff.tenant, staff.merchant_id),
        can_manage=staff.can_manage(),
        error=error,
        notice=notice,
        form=form or {},
    )


@router.get("/console/merchant/stores")
def stores(
    request: Request, db: DbSession, staff: MerchantUser, saved: str | None = None
) -> Response:
    notice = translate(request, N_("Saved.")) if saved else None
    return _stores_page(request, db, staff, notice=notice)


@router.post("/console/merchant/stores")
def create_store(
    request: Request,
    db: DbSession,
    staff: MerchantUser,
    name: Annotated[str, Form()] = "",
    city: Annotated[str, Form()] = "",
    address: Annotated[str, Form()] = "",
) -> Response:
    assert staff.merchant_id is not None
    try:
        data = StoreCreate(name=name, city=city, address=address)
        service.create_store(db, staff, staff.merchant_id, data)
    except (DomainError, ValidationError) as exc:
        db.rollback()
        form = {"name": name, "city": city, "address": address}
        return _stores_page(
            request, db, staff, error=problem_text(request, exc), form=form, status_code=422
        )
    return redirect("/console/merchant/stores?saved=1")


def _staff_page(
    request: Request,
    db: DbSession,
    staff: MerchantUser,
    *,
    error: str | None = None,
    notice: str | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    assert staff.merchant_id is not None
    roles = [r for r in StaffRole if r != StaffRole.OWNER or staff.role == StaffRole.OWNER]
    return render(
        request,
        "merchants/staff.html",
        status_code=status_code,
        members=service.list_staff(db, staff.tenant, staff.merchant_id),
        roles=roles,
        can_manage=staff.can_manage(),
        error=error,
        notice=notice,
        form=form or {},
    )


@router.get("/console/merchant/staff")
def staff_list(
    request: Request, db: DbSession, staff: MerchantUser, saved: str | None = None
) -> Response:
    notice = translate(request, N_("Saved.")) if saved else None
    return _staff_page(request, db, staff, notice=notice)


@router.post("/console/merchant/staff")
def create_staff(
    request: Request,
    db: DbSession,
    staff: MerchantUser,
    name: Annotated[str, Form()] = "",
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = StaffRole.CLERK.value,
) -> Response:
    assert staff.merchant_id is not None
    try:
        data = StaffCreate.model_validate(
            {"name": name, "email": email, "password": password, "role": role}
        )
        service.create_staff(db, staff, staff.merchant_id, data)
    except (DomainError, ValidationError) as exc:
        db.rollback()
        form = {"name": name, "email": email, "role": role}
        return _staff_page(
            request, db, staff, error=problem_text(request, exc), form=form, status_code=422
        )
    return redirect("/console/merchant/staff?saved=1")


# ---------------------------------------------------------------- operator


@router.get("/console/operator")
def operator_home(operator: OperatorUser) -> Response:
    return redirect("/console/operator/merchants")


@router.get("/console/operator/merchants")
def operator_merchants(
    request: Request,
    db: DbSession,
    operator: OperatorUser,
    status: Annotated[MerchantStatus | None, Query()] = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Response:
    rows = service.list_merchants(
        db, operator.tenant, status=status, limit=PAGE_SIZE, offset=offset
    )
    base = "/console/operator/merchants" + (f"?status={status.value}&" if status else "?")
    return render(
        request,
        "merchants/operator_merchants.html",
        merchants=rows,
        status=status.value if status else None,
        statuses=list(MerchantStatus),
        page_prev=f"{base}offset={max(offset - PAGE_SIZE, 0)}" if offset else None,
        page_next=f"{base}offset={offset + PAGE_SIZE}" if len(rows) == PAGE_SIZE else None,
    )


@router.post("/console/operator/merchants/{merchant_id}/status")
def operator_set_status(
    request: Request,
    db: DbSession,
    operator: OperatorUser,
    merchant_id: PageId,
    status: Annotated[str, Form()] = "",
) -> Response:
    """Answers the table row to HTMX; a plain form post goes back to the list."""
    try:
        merchant = service.set_merchant_status(db, operator, merchant_id, MerchantStatus(status))
        error = None
    except ValueError:
        merchant, error = (
            service.get_merchant(db, operator.tenant, merchant_id),
            translate(request, N_("Please check the values you entered.")),
        )
    except DomainError as exc:
        db.rollback()
        if exc.status_code == 404:
            return error_page(request, exc)
        merchant, error = (
            service.get_merchant(db, operator.tenant, merchant_id),
            problem_text(request, exc),
        )
    if request.headers.get("hx-request") == "true":
        return render(
            request,
            "merchants/merchant_row.html",
            status_code=422 if error else 200,
            m=merchant,
            statuses=list(MerchantStatus),
            row_error=error,
            saved=error is None,
        )
    return redirect("/console/operator/merchants")
