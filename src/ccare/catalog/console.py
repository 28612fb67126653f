"""Catalog pages: the merchant's mini-programs and items; the app's home and storefronts."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError

from ccare.catalog import service
from ccare.catalog.models import ItemKind, ItemStatus, VisitChannel
from ccare.catalog.schemas import ItemCreate, ItemUpdate, MiniProgramCreate
from ccare.core.errors import DomainError
from ccare.favorites import service as favorites
from ccare.web.deps import DbSession
from ccare.web.i18n import N_
from ccare.web.pages import AppConsumer, MerchantUser, PageId, error_page, redirect
from ccare.web.routing import api_router
from ccare.web.templating import parse_yuan, problem_text, render, translate

router = api_router(tags=["console"])
app_router = api_router(tags=["app"])

CATALOG = "/console/merchant/catalog"


def _stock(text: str) -> int | None | str:
    """'' -> None (unlimited); digits -> int; anything else is passed on to fail validation."""
    text = text.strip()
    if not text:
        return None
    return int(text) if text.isdigit() else text


def _catalog_page(
    request: Request,
    db: DbSession,
    staff: MerchantUser,
    mp: int | None,
    *,
    error: str | None = None,
    notice: str | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    mini_programs = service.list_mini_programs(db, staff.tenant)
    selected = next((m for m in mini_programs if m.id == mp), None) if mp else None
    if selected is None and mini_programs:
        selected = mini_programs[0]
    items = service.list_items(db, staff.tenant, selected.id) if selected else []
    return render(
        request,
        "catalog/merchant_catalog.html",
        status_code=status_code,
        mini_programs=mini_programs,
        selected=selected,
        items=items,
        kinds=list(ItemKind),
        statuses=list(ItemStatus),
        can_manage=staff.can_manage(),
        error=error,
        notice=notice,
        form=form or {},
    )


@router.get("/console/merchant/catalog")
def catalog(
    request: Request,
    db: DbSession,
    staff: MerchantUser,
    mp: Annotated[int | None, Query(gt=0, lt=2**62)] = None,
    saved: str | None = None,
) -> Response:
    notice = translate(request, N_("Saved.")) if saved else None
    return _catalog_page(request, db, staff, mp, notice=notice)


@router.post("/console/merchant/catalog/mini-programs")
def create_mini_program(
    request: Request,
    db: DbSession,
    staff: MerchantUser,
    name: Annotated[str, Form()] = "",
    category: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
) -> Response:
    try:
        data = MiniProgramCreate(name=name, category=category, description=description)
        mini_program = service.create_mini_program(db, staff, data)
    except (DomainError, ValidationError) as exc:
        db.rollback()
        return _catalog_page(
            request,
            db,
            staff,
            None,
            error=problem_text(request, exc),
            status_code=422,
            form={"mp_name": name, "mp_category": category, "mp_description": description},
        )
    return redirect(f"{CATALOG}?mp={mini_program.id}&saved=1")


@router.post("/console/merchant/catalog/mini-programs/{mini_program_id}/items")
def create_item(
    request: Request,
    db: DbSession,
    staff: MerchantUser,
    mini_program_id: PageId,
    name: Annotated[str, Form()] = "",
    kind: Annotated[str, Form()] = ItemKind.GOODS.value,
    price: Annotated[str, Form()] = "",
    stock: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
) -> Response:
    try:
        # Raw form values: validation turns a bad kind, price or stock into a 422.
        data = ItemCreate.model_validate(
            {
                "name": name,
                "kind": kind,
                "price_fen": parse_yuan(price),
                "stock": _stock(stock),
                "description": description,
            }
        )
        service.create_item(db, staff, mini_program_id, data)
    except (DomainError, ValidationError) as exc:
        db.rollback()
        if isinstance(exc, DomainError) and exc.status_code == 404:
            return error_page(request, exc)
        form = {
            "name": name,
            "kind": kind,
            "price": price,
            "stock": stock,
            "description": description,
        }
        return _catalog_page(
            request,
            db,
            staff,
            mini_program_id,
            error=problem_text(request, exc),
            form=form,
            status_code=422,
        )
    return redirect(f"{CATALOG}?mp={mini_program_id}&saved=1")


@router.post("/console/merchant/catalog/items/{item_id}")
def update_item(
    request: Request,
    db: DbSession,
    staff: MerchantUser,
    item_id: PageId,
    price: Annotated[str, Form()] = "",
    stock: Annotated[str, Form()] = "",
    status: Annotated[str, Form()] = "",
) -> Response:
    """Edit price, stock and sale status; answers the table row to HTMX, else redirects."""
    is_htmx = request.headers.get("hx-request") == "true"
    error = None
    try:
        item = service.get_item(db, staff.tenant, item_id)
        data = ItemUpdate.model_validate(
            {"price_fen": parse_yuan(price), "stock": _stock(stock), "status": status or None}
        )
        item = service.update_item(db, staff, item_id, data)
    except DomainError as exc:
        db.rollback()
        if exc.status_code == 404:
            return error_page(request, exc)
        error = problem_text(request, exc)
    except ValidationError as exc:
        error = problem_text(request, exc)
    if is_htmx:
        return render(
            request,
            "catalog/item_row.html",
            status_code=422 if error else 200,
            item=item,
            statuses=list(ItemStatus),
            can_manage=staff.can_manage(),
            row_error=error,
            saved=error is None,
        )
    if error:
        return _catalog_page(request, db, staff, item.mini_program_id, error=error, status_code=422)
    return redirect(f"{CATALOG}?mp={item.mini_program_id}&saved=1")


# ---------------------------------------------------------------- consumer app


@app_router.get("/app")
def app_home(
    request: Request,
    db: DbSession,
    consumer: AppConsumer,
    q: Annotated[str | None, Query(max_length=60)] = None,
) -> Response:
    query = (q or "").strip() or None
    mini_programs = service.public_mini_programs(db, q=query)
    if request.headers.get("hx-request"):
        return render(
            request, "catalog/app_mp_list.html", mini_programs=mini_programs, q=query or ""
        )
    return render(
        request,
        "catalog/app_home.html",
        mini_programs=mini_programs,
        q=query or "",
        my_mini_programs=favorites.my_favorites(db, consumer),
    )


def _visit_channel(text: str | None) -> VisitChannel:
    """The closed list of channels; anything else is a direct open."""
    try:
        return VisitChannel(text or VisitChannel.MINI_PROGRAM.value)
    except ValueError:
        return VisitChannel.MINI_PROGRAM


@app_router.get("/app/mp/{mini_program_id}")
def app_storefront(
    request: Request,
    db: DbSession,
    consumer: AppConsumer,
    mini_program_id: PageId,
    channel: Annotated[str | None, Query(max_length=40)] = None,
    problem: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    try:
        front = service.storefront(db, mini_program_id)
    except DomainError as exc:
        return error_page(request, exc, area="app")
    service.record_visit(db, consumer.id, mini_program_id, _visit_channel(channel))
    return render(
        request,
        "catalog/app_storefront.html",
        front=front,
        quantities={},
        fav=favorites.state(db, consumer, mini_program_id),
        problem=problem,
    )
