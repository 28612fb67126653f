"""Ad slots in the consumer app: a page asks for its placement's ads after it renders
(HTMX, so an ad never delays the page), reports each ad's impression when the card comes
into view, and sends a tap through the click endpoint to the ad's landing mini-program.
The same decision, impression and click services as the open API."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Query, Request
from fastapi.responses import Response

from ccare.core.errors import DomainError
from ccare.promotion import decisions, tracking
from ccare.web.deps import DbSession, SettingsDep, client_ip
from ccare.web.pages import AppConsumer, redirect
from ccare.web.routing import api_router
from ccare.web.templating import render

app_router = api_router(tags=["app"])

Token = Annotated[str, Form(min_length=1, max_length=2_000)]


@app_router.get("/app/ad-slots/{placement}")
def ad_slot(
    request: Request,
    placement: str,
    db: DbSession,
    settings: SettingsDep,
    consumer: AppConsumer,
    q: Annotated[str | None, Query(max_length=60)] = None,
) -> Response:
    try:
        decision = decisions.decide(
            db,
            settings.secret_key,
            placement=placement,
            consumer_id=consumer.id,
            query=(q or "").strip() or None,
        )
    except DomainError:
        return Response(status_code=204)  # an unknown slot shows nothing, never an error box
    if not decision.ads:
        return Response(status_code=204)
    return render(request, "promotion/app_slot.html", decision=decision)


@app_router.post("/app/ad-events/impressions")
def ad_seen(db: DbSession, settings: SettingsDep, consumer: AppConsumer, token: Token) -> Response:
    try:
        tracking.record_impression(db, settings.secret_key, token, consumer)
    except DomainError as exc:  # a replay or an expired page: nothing to show the person
        return Response(status_code=exc.status_code)
    return Response(status_code=204)


@app_router.post("/app/ads/click")
def ad_tap(
    request: Request, db: DbSession, settings: SettingsDep, consumer: AppConsumer, token: Token
) -> Response:
    try:
        outcome = tracking.record_click(
            db, settings.secret_key, token, consumer, client_ip(request)
        )
    except DomainError:
        return redirect("/app")
    return redirect(f"/app/mp/{outcome.landing[0]}?channel=ad")
