"""Console shell and consumer-app sign-in: login/logout, role home, language switch."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import Response

from ccare.core.errors import DomainError
from ccare.identity import service
from ccare.web import i18n
from ccare.web.deps import DbSession, OptionalPrincipal
from ccare.web.i18n import N_
from ccare.web.pages import (
    APP_COOKIE_PATH,
    HOME_BY_KIND,
    ConsoleUser,
    clear_console_cookies,
    clear_session_cookie,
    redirect,
    safe_next,
    session_token,
    set_console_cookies,
    set_session_cookie,
)
from ccare.web.routing import api_router
from ccare.web.templating import error_text, render, translate

router = api_router(tags=["console"])
app_router = api_router(tags=["app"])

LOCALE_COOKIE_MAX_AGE = 365 * 24 * 3600


@router.get("/locale/{code}")
def switch_locale(request: Request, code: str, next: str | None = None) -> Response:
    """Remember the chosen language and go back to the page it was chosen on."""
    locale = i18n.normalize(code) or i18n.DEFAULT_LOCALE
    back = safe_next(next, "")
    if not back:
        referer = request.headers.get("referer", "")
        origin = f"{request.url.scheme}://{request.url.netloc}"
        back = safe_next(referer[len(origin) :] if referer.startswith(origin) else None, "/")
    response = redirect(back)
    response.set_cookie(
        i18n.LOCALE_COOKIE, locale, max_age=LOCALE_COOKIE_MAX_AGE, path="/", samesite="lax"
    )
    return response


# ---------------------------------------------------------------- console


@router.get("/console")
def console_home(principal: ConsoleUser) -> Response:
    return redirect(HOME_BY_KIND[principal.kind])


@router.get("/console/login")
def login_form(request: Request, principal: OptionalPrincipal, next: str | None = None) -> Response:
    if principal is not None and principal.kind in HOME_BY_KIND:
        return redirect(safe_next(next, HOME_BY_KIND[principal.kind]))
    return render(request, "identity/console_login.html", next=safe_next(next, ""), email="")


@router.post("/console/login")
def login(
    request: Request,
    db: DbSession,
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    error = None
    if not email.strip() or not password:
        error = translate(request, N_("Enter your email and password."))
    else:
        try:
            session = service.login_staff(db, email, password)
        except DomainError as exc:
            error = error_text(i18n.request_locale(request), exc)
    if error is not None:
        return render(
            request,
            "identity/console_login.html",
            status_code=401,
            error=error,
            email=email,
            next=safe_next(next, ""),
        )
    home = HOME_BY_KIND.get(session.kind, "/console")
    response = redirect(safe_next(next, home))
    set_console_cookies(response, session.token, session.expires_at)
    return response


@router.get("/console/logout")
@router.post("/console/logout")
def logout(request: Request, db: DbSession) -> Response:
    token = session_token(request)
    if token:
        service.logout(db, token)
    response = redirect("/console/login")
    clear_console_cookies(response)
    return response


# ---------------------------------------------------------------- consumer app


@app_router.get("/app/login")
def app_login_form(request: Request, db: DbSession, next: str | None = None) -> Response:
    from ccare.consumers import service as consumers

    return render(
        request,
        "identity/app_login.html",
        consumers=consumers.demo_consumers(db),
        next=safe_next(next, ""),
    )


@app_router.post("/app/login")
def app_login(
    request: Request,
    db: DbSession,
    consumer_id: Annotated[int, Form(gt=0, lt=2**62)],
    next: Annotated[str, Form()] = "",
) -> Response:
    try:
        session = service.login_consumer(db, consumer_id)
    except DomainError as exc:
        from ccare.consumers import service as consumers

        return render(
            request,
            "identity/app_login.html",
            status_code=exc.status_code,
            consumers=consumers.demo_consumers(db),
            next=safe_next(next, ""),
            error=error_text(i18n.request_locale(request), exc),
        )
    response = redirect(safe_next(next, "/app"))
    set_session_cookie(response, session.token, session.expires_at, APP_COOKIE_PATH)
    return response


@app_router.get("/app/logout")
@app_router.post("/app/logout")
def app_logout(request: Request, db: DbSession) -> Response:
    token = session_token(request)
    if token:
        service.logout(db, token)
    response = redirect("/app/login")
    clear_session_cookie(response, APP_COOKIE_PATH)
    return response
