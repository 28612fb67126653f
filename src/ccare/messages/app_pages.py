"""The consumer app's message pages: the inbox (fetching it delivers, opening a message
marks it opened, following its link marks it clicked) and a merchant's subscribe prompt."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError

from ccare.core.errors import DomainError, NotFound
from ccare.core.tenancy import PLATFORM
from ccare.messages import service
from ccare.messages.page_texts import LABELS, problem
from ccare.messages.schemas import ConsentCreate
from ccare.web.deps import DbSession
from ccare.web.pages import AppConsumer, PageId, error_page, redirect
from ccare.web.routing import api_router
from ccare.web.templating import render

app_router = api_router(tags=["app"])

INBOX = "/app/messages"
MerchantQuery = Annotated[int, Query(gt=0, lt=2**62)]


@app_router.get(INBOX)
def inbox_page(request: Request, db: DbSession, consumer: AppConsumer) -> Response:
    messages = service.inbox(db, consumer, limit=100)
    return render(request, "messages/app_inbox.html", labels=LABELS, messages=messages)


@app_router.get(INBOX + "/subscribe")
def subscribe_page(
    request: Request, db: DbSession, consumer: AppConsumer, merchant_id: MerchantQuery
) -> Response:
    return _prompt(request, db, consumer, merchant_id)


@app_router.post(INBOX + "/subscribe")
def subscribe(
    request: Request,
    db: DbSession,
    consumer: AppConsumer,
    merchant_id: Annotated[int, Form(gt=0, lt=2**62)],
    template_id: Annotated[str, Form()] = "",
    kind: Annotated[str, Form()] = "once",
) -> Response:
    try:
        data = ConsentCreate.model_validate({"template_id": template_id, "kind": kind})
        template = service.get_template(db, PLATFORM, data.template_id)
        if template.merchant_id != merchant_id:
            raise NotFound("no such template", code="message.template_not_found")
        service.subscribe(db, consumer, data)
    except (DomainError, ValidationError) as exc:
        db.rollback()
        status = exc.status_code if isinstance(exc, DomainError) else 422
        return _prompt(
            request, db, consumer, merchant_id, error=problem(request, exc), status=status
        )
    return redirect(f"{INBOX}/subscribe?merchant_id={merchant_id}&saved=1")


def _prompt(
    request: Request,
    db: DbSession,
    consumer: AppConsumer,
    merchant_id: int,
    *,
    error: str | None = None,
    status: int = 200,
) -> Response:
    try:
        prompt = service.prompt(db, consumer, merchant_id)
    except DomainError as exc:
        return error_page(request, exc, area="app")
    return render(
        request,
        "messages/app_subscribe.html",
        status_code=status,
        labels=LABELS,
        prompt=prompt,
        saved=request.query_params.get("saved") == "1",
        error=error,
    )


@app_router.get(INBOX + "/{message_id}")
def message_page(
    request: Request, message_id: PageId, db: DbSession, consumer: AppConsumer
) -> Response:
    try:
        message = service.open_message(db, consumer, message_id)
    except DomainError as exc:
        return error_page(request, exc, area="app")
    return render(request, "messages/app_message.html", labels=LABELS, message=message)


@app_router.post(INBOX + "/{message_id}/click")
def follow_link(
    request: Request, message_id: PageId, db: DbSession, consumer: AppConsumer
) -> Response:
    """Marks the message clicked and opens the merchant's mini-program."""
    try:
        message = service.click(db, consumer, message_id)
    except DomainError as exc:
        return error_page(request, exc, area="app")
    template = service.get_template(db, PLATFORM, message.template_id)
    if template.mini_program_id is not None:
        return redirect(f"/app/mp/{template.mini_program_id}?channel=message")
    return redirect(f"{INBOX}/{message.id}")
