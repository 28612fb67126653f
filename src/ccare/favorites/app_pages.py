"""The consumer app's favorite toggle and benefit claims on a storefront.

With HTMX the forms answer the favorites panel alone; without JavaScript they are plain
form posts answered by a redirect back to the storefront, which renders the same panel
(a refusal travels as its error code in `?problem=`, shown in the panel's words).
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import Form, Request
from fastapi.responses import Response

from ccare.core.errors import DomainError
from ccare.core.tenancy import Principal
from ccare.coupons.gate import gate_for
from ccare.favorites import service
from ccare.favorites.models import FavoriteChannel
from ccare.favorites.schemas import BenefitClaimIn
from ccare.web.deps import DbSession, RuntimeDep, client_ip
from ccare.web.pages import AppConsumer, PageId, error_page, redirect
from ccare.web.routing import api_router, end_refused
from ccare.web.templating import render

app_router = api_router(tags=["app"])


def _htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def _channel(text: str) -> FavoriteChannel:
    try:
        return FavoriteChannel(text)
    except ValueError:
        return FavoriteChannel.STOREFRONT


def panel(
    request: Request,
    db: DbSession,
    consumer: Principal,
    mini_program_id: int,
    *,
    problem: str | None = None,
    status_code: int = 200,
) -> Response:
    fav = service.state(db, consumer, mini_program_id)
    return render(
        request, "favorites/app_panel.html", status_code=status_code, fav=fav, problem=problem
    )


def _answer(
    request: Request,
    db: DbSession,
    consumer: Principal,
    mini_program_id: int,
    exc: DomainError | None,
) -> Response:
    if exc is not None:
        if exc.status_code == 404 and exc.code == "mini_program.not_found":
            return error_page(request, exc, area="app")
        end_refused(db, exc)
    if _htmx(request):
        if exc is None:
            return panel(request, db, consumer, mini_program_id)
        return panel(
            request, db, consumer, mini_program_id, problem=exc.code, status_code=exc.status_code
        )
    target = f"/app/mp/{mini_program_id}"
    if exc is not None:
        target += f"?problem={quote(exc.code)}"
    return redirect(target)


@app_router.post("/app/mp/{mini_program_id}/favorite")
def toggle_favorite(
    request: Request,
    db: DbSession,
    consumer: AppConsumer,
    mini_program_id: PageId,
    action: Annotated[str, Form()] = "add",
    channel: Annotated[str, Form()] = "storefront",
) -> Response:
    error = None
    try:
        if action == "remove":
            service.remove(db, consumer, mini_program_id)
        else:
            service.add(db, consumer, mini_program_id, _channel(channel), ip=client_ip(request))
    except DomainError as exc:
        error = exc
    return _answer(request, db, consumer, mini_program_id, error)


@app_router.post("/app/mp/{mini_program_id}/benefits/{activity_id}")
def claim_benefit(
    request: Request,
    db: DbSession,
    runtime: RuntimeDep,
    consumer: AppConsumer,
    mini_program_id: PageId,
    activity_id: PageId,
    claim_key: Annotated[str, Form(min_length=1, max_length=48, pattern=r"^\S+$")],
) -> Response:
    error = None
    try:
        service.claim_benefit(
            db,
            consumer,
            mini_program_id,
            activity_id,
            BenefitClaimIn(claim_key=claim_key),
            ip=client_ip(request),
            gate=gate_for(runtime.settings.effective_redis_url),
        )
    except DomainError as exc:
        error = exc
    return _answer(request, db, consumer, mini_program_id, error)
