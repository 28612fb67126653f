"""The merchant's message pages: templates, broadcasts with their report, the delivery
funnel chart. The app's pages (inbox, subscribe prompt) are in `app_pages.py`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import Response
from pydantic import ValidationError

from ccare.core.errors import DomainError
from ccare.messages import broadcasts, reports, service
from ccare.messages.app_pages import app_router
from ccare.messages.models import Category
from ccare.messages.page_texts import FUNNEL_STEPS, LABELS, problem
from ccare.messages.schemas import BroadcastCreate, TemplateCreate
from ccare.web.deps import DbSession, RuntimeDep
from ccare.web.i18n import N_
from ccare.web.pages import MerchantUser, PageId, error_page, redirect
from ccare.web.routing import api_router
from ccare.web.templating import render, translate

__all__ = ["app_router", "router"]

router = api_router(tags=["console"])

MESSAGES = "/console/merchant/messages"


def _funnel_chart(request: Request, funnel: Any) -> dict[str, Any]:
    return {
        "labels": [translate(request, label) for _key, label in FUNNEL_STEPS],
        "counts": [getattr(funnel, key) for key, _label in FUNNEL_STEPS],
    }


def _variables(text: str) -> dict[str, str] | str:
    """'name=Li' lines -> {"name": "Li"}; a line without '=' fails validation as text."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep:
            return text
        values[key.strip()] = value.strip()
    return values


def _ids(text: str) -> list[int] | str:
    parts = [p for p in text.replace(",", " ").split() if p]
    if not parts or not all(p.isdigit() and len(p) < 19 for p in parts):
        return text
    return [int(p) for p in parts]


def _page(
    request: Request,
    db: DbSession,
    runtime: RuntimeDep,
    staff: MerchantUser,
    *,
    error: str | None = None,
    form: dict[str, Any] | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> Response:
    merchant_id = service.merchant_for(db, staff, None)
    funnel = reports.funnel(runtime.analytics, merchant_id)
    return render(
        request,
        "messages/merchant_messages.html",
        status_code=status_code,
        labels=LABELS,
        templates=service.list_templates(db, staff.tenant, merchant_id),
        broadcasts=broadcasts.list_broadcasts(db, staff.tenant, merchant_id),
        rules=service.platform_rules(db),
        funnel=funnel,
        chart=_funnel_chart(request, funnel),
        categories=[c.value for c in Category],
        can_manage=staff.can_manage(),
        error=error,
        notice=notice,
        form=form or {},
    )


@router.get(MESSAGES)
def messages_page(
    request: Request, db: DbSession, runtime: RuntimeDep, staff: MerchantUser, saved: str = ""
) -> Response:
    notice = translate(request, N_("Saved.")) if saved else None
    return _page(request, db, runtime, staff, notice=notice)


@router.post(MESSAGES + "/templates")
def create_template(
    request: Request,
    db: DbSession,
    runtime: RuntimeDep,
    staff: MerchantUser,
    name: Annotated[str, Form()] = "",
    category: Annotated[str, Form()] = "",
    title: Annotated[str, Form()] = "",
    body: Annotated[str, Form()] = "",
    link: Annotated[str, Form()] = "",
) -> Response:
    form = {"name": name, "category": category, "title": title, "body": body, "link": link}
    try:
        data = TemplateCreate.model_validate({**form, "link": link or None})
        service.create_template(db, staff, data)
    except (DomainError, ValidationError) as exc:
        db.rollback()
        status = exc.status_code if isinstance(exc, DomainError) else 422
        return _page(
            request, db, runtime, staff, error=problem(request, exc), form=form, status_code=status
        )
    return redirect(f"{MESSAGES}?saved=1#templates")


@router.post(MESSAGES + "/templates/{template_id}/archive")
def archive_template(
    request: Request, template_id: PageId, db: DbSession, staff: MerchantUser
) -> Response:
    try:
        service.archive_template(db, staff, template_id)
    except DomainError as exc:
        return error_page(request, exc)
    return redirect(f"{MESSAGES}?saved=1#templates")


@router.post(MESSAGES + "/broadcasts")
def create_broadcast(
    request: Request,
    db: DbSession,
    runtime: RuntimeDep,
    staff: MerchantUser,
    template_id: Annotated[str, Form()] = "",
    variables: Annotated[str, Form()] = "",
    consumer_ids: Annotated[str, Form()] = "",
    out_request_no: Annotated[str, Form()] = "",
) -> Response:
    form = {"template_id": template_id, "variables": variables, "consumer_ids": consumer_ids}
    try:
        data = BroadcastCreate.model_validate(
            {
                "template_id": template_id,
                "variables": _variables(variables),
                "recipients": {"kind": "consumers", "consumer_ids": _ids(consumer_ids)},
                "out_request_no": out_request_no,
                "start": True,
            }
        )
        broadcast = broadcasts.create(db, staff, data)
    except (DomainError, ValidationError) as exc:
        db.rollback()
        status = exc.status_code if isinstance(exc, DomainError) else 422
        return _page(
            request, db, runtime, staff, error=problem(request, exc), form=form, status_code=status
        )
    return redirect(f"{MESSAGES}/broadcasts/{broadcast.id}")


@router.get(MESSAGES + "/broadcasts/{broadcast_id}")
def broadcast_page(
    request: Request, broadcast_id: PageId, db: DbSession, runtime: RuntimeDep, staff: MerchantUser
) -> Response:
    try:
        broadcast = broadcasts.get(db, staff.tenant, broadcast_id)
    except DomainError as exc:
        return error_page(request, exc)
    funnel = reports.funnel(runtime.analytics, broadcast.merchant_id, broadcast_id=broadcast.id)
    return render(
        request,
        "messages/merchant_broadcast.html",
        labels=LABELS,
        broadcast=broadcast,
        message_template=service.get_template(db, staff.tenant, broadcast.template_id),
        report=broadcasts.report(db, staff.tenant, broadcast.id),
        funnel=funnel,
        chart=_funnel_chart(request, funnel),
    )
