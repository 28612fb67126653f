"""What console and app pages share: who is signed in, redirects, cookies, once-only forms.

Pages are not API endpoints: a missing or wrong session sends the browser to the sign-in
page (303) instead of answering 401/403, and a form that moves money carries a hidden
idempotency key so that a double click or a resubmitted form acts once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, HTTPException, Path, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from ccare.core import idempotency
from ccare.core.errors import DomainError
from ccare.core.tenancy import Principal, PrincipalKind
from ccare.web.deps import SESSION_COOKIE, DbSession, get_optional_principal
from ccare.web.idempotent import scope_of

CONSOLE_COOKIE_PATH = "/console"
# The consoles of the sandbox world (docs/adr/0008) take the same sign-in.
SANDBOX_CONSOLE_COOKIE_PATH = "/sandbox/console"
CONSOLE_COOKIE_PATHS = (CONSOLE_COOKIE_PATH, SANDBOX_CONSOLE_COOKIE_PATH)
APP_COOKIE_PATH = "/app"

HOME_BY_KIND = {
    PrincipalKind.OPERATOR: "/console/operator",
    PrincipalKind.MERCHANT_STAFF: "/console/merchant",
    PrincipalKind.ISV_STAFF: "/console/isv",
}


def redirect(url: str) -> RedirectResponse:
    """POST-redirect-GET and plain navigation."""
    return RedirectResponse(url, status_code=303)


def safe_next(url: str | None, default: str) -> str:
    """Only same-site paths are followed after sign-in (no open redirect)."""
    if not url or not url.startswith("/") or url.startswith("//") or "\\" in url:
        return default
    return url


def _go(url: str) -> HTTPException:
    return HTTPException(status_code=303, detail="redirect", headers={"Location": url})


def _login_url(request: Request, login_path: str) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"{login_path}?next={quote(target, safe='/')}"


def _console_principal(
    request: Request,
    principal: Annotated[Principal | None, Depends(get_optional_principal)],
) -> Principal:
    if principal is None or principal.kind not in HOME_BY_KIND:
        raise _go(_login_url(request, "/console/login"))
    request.state.principal = principal
    return principal


def _require_kind(kind: PrincipalKind) -> Callable[..., Principal]:
    def dependency(principal: Annotated[Principal, Depends(_console_principal)]) -> Principal:
        if principal.kind != kind:
            # Signed in, but this is another role's console: go to one's own.
            raise _go(HOME_BY_KIND[principal.kind])
        return principal

    return dependency


def _app_consumer(
    request: Request,
    principal: Annotated[Principal | None, Depends(get_optional_principal)],
) -> Principal:
    if principal is None or principal.kind != PrincipalKind.CONSUMER:
        raise _go(_login_url(request, "/app/login"))
    request.state.principal = principal
    return principal


ConsoleUser = Annotated[Principal, Depends(_console_principal)]
MerchantUser = Annotated[Principal, Depends(_require_kind(PrincipalKind.MERCHANT_STAFF))]
OperatorUser = Annotated[Principal, Depends(_require_kind(PrincipalKind.OPERATOR))]
IsvUser = Annotated[Principal, Depends(_require_kind(PrincipalKind.ISV_STAFF))]
AppConsumer = Annotated[Principal, Depends(_app_consumer)]
PageDb = DbSession
# Ids in page URLs: out of range is a 422, never a database overflow.
PageId = Annotated[int, Path(gt=0, lt=2**62)]


def set_session_cookie(response: Response, token: str, expires_at: datetime, path: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        expires=expires_at,
        path=path,
        httponly=True,
        samesite="lax",
        secure=False,
    )


def clear_session_cookie(response: Response, path: str) -> None:
    response.delete_cookie(SESSION_COOKIE, path=path, httponly=True, samesite="lax")


def set_console_cookies(response: Response, token: str, expires_at: datetime) -> None:
    """The console session, sent to the live and to the sandbox consoles."""
    for path in CONSOLE_COOKIE_PATHS:
        set_session_cookie(response, token, expires_at, path)


def clear_console_cookies(response: Response) -> None:
    for path in CONSOLE_COOKIE_PATHS:
        clear_session_cookie(response, path)


def session_token(request: Request) -> str | None:
    return request.cookies.get(SESSION_COOKIE)


def run_once(
    db: Session,
    principal: Principal,
    key: str,
    operation: str,
    body: Any,
    produce: Callable[[], Any],
) -> Any:
    """Run `produce` once per (caller, form key); a resubmission returns the first result.

    Same store as the API's `run_idempotent`, so the key row commits with the effect.
    """

    def produce_rolling_back() -> Any:
        try:
            return jsonable_encoder(produce())
        except BaseException:
            # Nothing of a failed attempt may show on the error page rendered next.
            db.rollback()
            raise

    outcome = idempotency.execute_once(
        db,
        scope_of(principal),
        idempotency.validate_key(key),
        f"page:{operation}",
        jsonable_encoder(body),
        produce_rolling_back,
    )
    return outcome.data


def error_page(request: Request, exc: DomainError, *, area: str = "console") -> Response:
    """An HTML error page with the error's status (so the transaction rolls back)."""
    from ccare.web.i18n import request_locale
    from ccare.web.templating import error_text, render

    return render(
        request,
        f"{area}/error.html",
        status_code=exc.status_code,
        error_code=exc.code,
        not_found=exc.status_code == 404,
        error_message=error_text(request_locale(request), exc),
    )
