"""Developer console (O) and the app-authorisation pages of the merchant and ISV consoles.

- `/console/developer`: a merchant's owners and managers, and ISV staff, create apps,
  rotate and revoke their public keys, fetch the platform's public key and try signed
  calls in the API explorer (signed in the browser; the private key never leaves it).
- `/console/merchant/apps`: a merchant authorises ISV apps (one-time `app_auth_code`) and
  revokes the grants behind them.
- `/console/isv/apps`: an ISV sees the tokens its apps hold, per merchant.

Every page also serves the sandbox world under `/sandbox/console/...` (docs/adr/0008): the
developer acts as their twin merchant or ISV, links and forms keep the request's
`root_path`, and the developer home shows the twin account with its test buyers.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Form, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.routing import BaseRoute, Route

from ccare.core.errors import DomainError, Forbidden, NotFound
from ccare.core.signing import SignAlgorithm
from ccare.core.tenancy import Principal, PrincipalKind
from ccare.core.time import as_utc, utcnow
from ccare.openplatform import sandbox, service
from ccare.openplatform.models import DeveloperApp, KeyStatus, OwnerKind
from ccare.openplatform.schemas import (
    SCOPES,
    AppCreate,
    AppTokenOut,
    AuthCodeOut,
    AuthorizeApp,
    KeyUpload,
)
from ccare.web.deps import DbSession
from ccare.web.i18n import N_
from ccare.web.pages import (
    HOME_BY_KIND,
    ConsoleUser,
    IsvUser,
    MerchantUser,
    PageId,
    error_page,
    redirect,
    run_once,
)
from ccare.web.routing import api_router
from ccare.web.templating import problem_text, render, translate
from ccare.web.world import LIVE, SANDBOX, SANDBOX_PREFIX, world_of

router = api_router(tags=["console"])

DEV = "/console/developer"
# The webhooks product serves an app's notification log here; the app page links to it
# as soon as a route with this path exists.
NOTIFICATIONS_PATH = DEV + "/apps/{app_id}/notifications"

SCOPE_LABELS: dict[str, str] = {
    "catalog": N_("Mini-programs and items"),
    "merchants": N_("Merchant, stores and staff"),
    "orders": N_("Orders and refunds"),
    "ledger": N_("Wallets and ledger"),
    "isvs": N_("Service provider grants"),
    "webhooks": N_("Notifications"),
    "coupons": N_("Merchant coupons"),
    "profiles": N_("Customer events and profiles"),
    "favorites": N_("Favorites"),
    "messages": N_("Subscription messages"),
    "segments": N_("Customer segments"),
    "campaigns": N_("Campaigns with holdouts"),
    "dashboard": N_("C-CARE dashboard"),
    "promotion": N_("Promotion (灯火) plans and creatives"),
    "brand_bookings": N_("Brand bookings (品牌宝) on platform events"),
    "star_points": N_("Incentive points (繁星) and free exposure"),
}

# Error codes of this product, in words a developer or merchant can act on.
PAGE_ERRORS: dict[str, str] = {
    "key.invalid": N_("This is not a usable RSA or Ed25519 public key (PEM or base64)."),
    "key.private_given": N_(
        "This is a private key: paste the public key only and keep the private one secret."
    ),
    "key.too_weak": N_("RSA keys must have at least 2048 bits."),
    "key.reused": N_("This key was registered before; generate a new key pair."),
    "key.not_found": N_("Not found."),
    "app.not_found": N_("No service provider app has this app id."),
    "app.disabled": N_("This app is disabled."),
    "app.scope_not_requested": N_("The app does not ask for one of these scopes."),
    "app.developer_only": N_("Apps belong to a merchant or a service provider."),
    "isv.suspended": N_("This service provider is suspended."),
    "isv.grant_merchant_only": N_("Only a merchant's staff authorise apps."),
    "sandbox.isv_only": N_("Only service providers' developers authorize apps this way."),
}

FIELD_LABELS: dict[str, str] = {
    "name": N_("App name"),
    "scopes": N_("Scopes"),
    "notify_url": N_("Notification URL"),
    "public_key": N_("Public key"),
    "overlap_hours": N_("Overlap"),
    "app_id": N_("App ID"),
}

KEY_FORMATS: dict[SignAlgorithm, tuple[str, ...]] = {
    SignAlgorithm.RSA2: ("spki", "pkcs1", "base64"),
    SignAlgorithm.ED25519: ("spki", "base64"),
}


@dataclass(frozen=True)
class Preset:
    """A ready-made request of the API explorer."""

    id: str
    label: str
    method: str
    path: str
    body: str = ""
    isv_only: bool = False


# ---------------------------------------------------------------- helpers


def root_of(request: Request) -> str:
    """Where this world is mounted: "" live, "/sandbox" in the sandbox."""
    return str(request.scope.get("root_path", ""))


def dev_base(request: Request) -> str:
    """The developer console's address in the request's world."""
    return root_of(request) + DEV


def world_context(request: Request) -> dict[str, Any]:
    """What the developer layout needs: links in this world and the live / sandbox switch.

    The switch keeps the tab (apps, explorer, platform key); an app's page, which exists
    in one world only, switches to the apps list.
    """
    world = world_of(request)
    root = root_of(request)
    base = root[: -len(SANDBOX_PREFIX)] if world == SANDBOX else root
    here = request.url.path[len(root) :] if request.url.path.startswith(root) else DEV
    tab = here if here in (DEV + "/explorer", DEV + "/platform-key") else DEV
    has_sandbox = getattr(request.app.state.platform, "sandbox", None) is not None
    return {
        "root": root,
        "dev": root + DEV,
        "world": world,
        "world_urls": {LIVE: base + tab, SANDBOX: base + SANDBOX_PREFIX + tab}
        if has_sandbox or world == SANDBOX
        else {},
    }


def _problem(request: Request, exc: Exception) -> str:
    if isinstance(exc, DomainError) and exc.code in PAGE_ERRORS:
        return translate(request, PAGE_ERRORS[exc.code])
    if isinstance(exc, ValidationError):
        fields: list[str] = []
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ()) if isinstance(p, str)]
            if loc and loc[0] in FIELD_LABELS:
                label = translate(request, FIELD_LABELS[loc[0]])
                if label not in fields:
                    fields.append(label)
        if fields:
            message = translate(request, N_("Please check the values you entered."))
            return f"{message} ({', '.join(fields)})"
    return problem_text(request, exc)


def _status_of(exc: Exception) -> int:
    return exc.status_code if isinstance(exc, DomainError) else 422


def refused_page(request: Request, user: Principal) -> Response | None:
    """The developer console is for merchant owners/managers and ISV staff."""
    if user.kind == PrincipalKind.OPERATOR:
        return redirect(HOME_BY_KIND[user.kind])
    if user.kind not in (PrincipalKind.MERCHANT_STAFF, PrincipalKind.ISV_STAFF):
        return redirect("/console/login")
    if not user.can_manage():
        return error_page(
            request, Forbidden("owners and managers only", code="staff.role_forbidden")
        )
    return None


def _scope_choices(request: Request) -> list[tuple[str, str]]:
    return [(s, translate(request, SCOPE_LABELS.get(s, s))) for s in SCOPES]


def _key_state(status: KeyStatus, expires_at: datetime | None, now: datetime) -> str:
    """active / retiring / expired (a retiring key past its overlap) / revoked."""
    if status == KeyStatus.RETIRING and expires_at is not None and as_utc(expires_at) <= now:
        return "expired"
    return status.value


def _key_rows(db: DbSession, user: Principal, app_id: str) -> list[dict[str, Any]]:
    now = utcnow()
    return [
        {
            "id": k.id,
            "algorithm": k.algorithm.value,
            "fingerprint": k.fingerprint,
            "state": _key_state(k.status, k.expires_at, now),
            "created_at": k.created_at,
            "expires_at": k.expires_at,
            "public_key": k.public_key,
        }
        for k in service.list_keys(db, user, app_id)
    ]


def _app_row(db: DbSession, user: Principal, app: DeveloperApp) -> dict[str, Any]:
    keys = _key_rows(db, user, app.app_id)
    usable = [k for k in keys if k["state"] in ("active", "retiring")]
    return {"app": app, "keys": usable, "algorithm": usable[0]["algorithm"] if usable else None}


def _route_paths(routes: Iterable[BaseRoute], prefix: str = "") -> Iterator[str]:
    """Every path the app serves, also inside included routers (which FastAPI keeps
    nested, each with the prefix it was included under)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            context = getattr(route, "include_context", None)
            yield from _route_paths(inner.routes, prefix + str(getattr(context, "prefix", "")))
        elif isinstance(route, Route):
            yield prefix + route.path


def _has_route(request: Request, path: str) -> bool:
    return path in _route_paths(request.app.router.routes)


# ---------------------------------------------------------------- apps


def _apps_page(
    request: Request,
    db: DbSession,
    user: Principal,
    *,
    error: str | None = None,
    notice: str | None = None,
    form: dict[str, Any] | None = None,
    status_code: int = 200,
    code: AuthCodeOut | None = None,
) -> Response:
    rows = [_app_row(db, user, a) for a in service.list_apps(db, user)]
    account = sandbox.describe(db, user) if world_of(request) == SANDBOX else None
    return render(
        request,
        "openplatform/apps.html",
        status_code=status_code,
        **world_context(request),
        rows=rows,
        scope_choices=_scope_choices(request),
        mode=service.world_of(db).value,
        account=account,
        seller_id=service.merchant_pid(account.merchant_id) if account else None,
        is_isv=user.kind == PrincipalKind.ISV_STAFF,
        code=code,
        error=error,
        notice=notice,
        form=form or {"scopes": ["catalog", "orders"]},
    )


@router.get("/console/developer")
def developer_home(request: Request, db: DbSession, user: ConsoleUser) -> Response:
    refused = refused_page(request, user)
    if refused is not None:
        return refused
    return _apps_page(request, db, user)


@router.post("/console/developer/apps")
def create_app(
    request: Request,
    db: DbSession,
    user: ConsoleUser,
    name: Annotated[str, Form()] = "",
    scopes: Annotated[list[str] | None, Form()] = None,
    notify_url: Annotated[str, Form()] = "",
    public_key: Annotated[str, Form()] = "",
    idempotency_key: Annotated[str, Form()] = "",
) -> Response:
    refused = refused_page(request, user)
    if refused is not None:
        return refused
    form = {
        "name": name,
        "scopes": scopes or [],
        "notify_url": notify_url,
        "public_key": public_key,
    }
    try:
        data = AppCreate.model_validate(
            {
                "name": name,
                "mode": service.world_of(db),
                "scopes": scopes or [],
                "notify_url": notify_url.strip() or None,
                "public_key": public_key.strip() or None,
            }
        )
        created = run_once(
            db,
            user,
            idempotency_key,
            "openplatform.create_app",
            data.model_dump(mode="json"),
            lambda: {"app_id": service.create_app(db, user, data).app_id},
        )
    except (DomainError, ValidationError) as exc:
        db.rollback()
        return _apps_page(
            request,
            db,
            user,
            error=_problem(request, exc),
            form=form,
            status_code=_status_of(exc),
        )
    return redirect(f"{dev_base(request)}/apps/{created['app_id']}?created=1")


def _app_page(
    request: Request,
    db: DbSession,
    user: Principal,
    app_id: str,
    *,
    error: str | None = None,
    notice: str | None = None,
    form: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    try:
        app = service.get_app(db, user, app_id)
    except DomainError as exc:
        return error_page(request, exc)
    notifications = root_of(request) + NOTIFICATIONS_PATH.format(app_id=app.app_id)
    return render(
        request,
        "openplatform/app.html",
        status_code=status_code,
        **world_context(request),
        app=app,
        keys=_key_rows(db, user, app.app_id),
        scope_labels={s: translate(request, SCOPE_LABELS.get(s, s)) for s in SCOPES},
        notifications_url=notifications if _has_route(request, NOTIFICATIONS_PATH) else None,
        error=error,
        notice=notice,
        form=form or {"overlap_hours": 24},
    )


def valid_app_id(app_id: str) -> bool:
    return len(app_id) == 16 and app_id.isascii() and app_id.isdigit()


@router.get("/console/developer/apps/{app_id}")
def app_detail(
    request: Request,
    db: DbSession,
    user: ConsoleUser,
    app_id: str,
    created: str | None = None,
    saved: str | None = None,
    revoked: str | None = None,
) -> Response:
    refused = refused_page(request, user)
    if refused is not None:
        return refused
    if not valid_app_id(app_id):
        return error_page(request, NotFound("no such app", code="app.not_found"))
    notice = None
    if created:
        notice = translate(request, N_("App created. Sign your calls with its private key."))
    elif saved:
        notice = translate(request, N_("New key registered."))
    elif revoked:
        notice = translate(request, N_("Key revoked: calls signed with it are refused."))
    return _app_page(request, db, user, app_id, notice=notice)


@router.post("/console/developer/apps/{app_id}/keys")
def upload_key(
    request: Request,
    db: DbSession,
    user: ConsoleUser,
    app_id: str,
    public_key: Annotated[str, Form()] = "",
    overlap_hours: Annotated[str, Form()] = "24",
    idempotency_key: Annotated[str, Form()] = "",
) -> Response:
    refused = refused_page(request, user)
    if refused is not None:
        return refused
    if not valid_app_id(app_id):
        return error_page(request, NotFound("no such app", code="app.not_found"))
    try:
        data = KeyUpload.model_validate(
            {"public_key": public_key, "overlap_hours": overlap_hours.strip() or "0"}
        )
        run_once(
            db,
            user,
            idempotency_key,
            f"openplatform.upload_key:{app_id}",
            data.model_dump(mode="json"),
            lambda: {"key_id": service.upload_key(db, user, app_id, data).id},
        )
    except (DomainError, ValidationError) as exc:
        db.rollback()
        if isinstance(exc, DomainError) and exc.status_code == 404:
            return error_page(request, exc)
        form = {"public_key": public_key, "overlap_hours": overlap_hours}
        return _app_page(
            request,
            db,
            user,
            app_id,
            error=_problem(request, exc),
            form=form,
            status_code=_status_of(exc),
        )
    return redirect(f"{dev_base(request)}/apps/{app_id}?saved=1")


@router.post("/console/developer/apps/{app_id}/keys/{key_id}/revoke")
def revoke_key(
    request: Request, db: DbSession, user: ConsoleUser, app_id: str, key_id: PageId
) -> Response:
    refused = refused_page(request, user)
    if refused is not None:
        return refused
    if not valid_app_id(app_id):
        return error_page(request, NotFound("no such app", code="app.not_found"))
    try:
        service.revoke_key(db, user, app_id, key_id)
    except DomainError as exc:
        db.rollback()
        return error_page(request, exc)
    return redirect(f"{dev_base(request)}/apps/{app_id}?revoked=1")


# ---------------------------------------------------------------- sandbox: authorise one's own app


@router.post("/console/developer/sandbox/authorize")
def sandbox_authorize(
    request: Request,
    db: DbSession,
    user: ConsoleUser,
    app_id: Annotated[str, Form()] = "",
) -> Response:
    """An ISV developer's twin merchant authorises one of the ISV's sandbox apps; the
    one-time code is shown on this response only."""
    refused = refused_page(request, user)
    if refused is not None:
        return refused
    if world_of(request) != SANDBOX:
        return error_page(request, NotFound("sandbox only", code="sandbox.only"))
    try:
        data = AuthorizeApp.model_validate({"app_id": app_id.strip()})
        code = sandbox.authorize_own_app(db, user, data)
    except (DomainError, ValidationError) as exc:
        db.rollback()
        return _apps_page(
            request, db, user, error=_problem(request, exc), status_code=_status_of(exc)
        )
    db.flush()
    notice = translate(
        request, N_("App authorized for your sandbox merchant. Exchange this code for a token.")
    )
    return _apps_page(request, db, user, code=code, notice=notice)


# ---------------------------------------------------------------- the platform's key


@router.get("/console/developer/platform-key")
def platform_key(
    request: Request,
    db: DbSession,
    user: ConsoleUser,
    format: Annotated[Literal["spki", "pkcs1", "base64"], Query()] = "spki",
) -> Response:
    refused = refused_page(request, user)
    if refused is not None:
        return refused
    keys = []
    for algorithm, formats in KEY_FORMATS.items():
        fmt = format if format in formats else "spki"
        keys.append(
            {
                "algorithm": algorithm.value,
                "formats": formats,
                "key": service.platform_public_key(db, algorithm, fmt),
            }
        )
    return render(
        request,
        "openplatform/platform_key.html",
        **world_context(request),
        keys=keys,
        selected_format=format,
    )


@router.get("/console/developer/platform-key/download")
def platform_key_download(
    request: Request,
    db: DbSession,
    user: ConsoleUser,
    algorithm: SignAlgorithm = SignAlgorithm.RSA2,
    format: Annotated[Literal["spki", "pkcs1", "base64"], Query()] = "spki",
) -> Response:
    refused = refused_page(request, user)
    if refused is not None:
        return refused
    try:
        key = service.platform_public_key(db, algorithm, format)
    except DomainError as exc:
        return error_page(request, exc)
    suffix = "txt" if format == "base64" else "pem"
    filename = f"ccare-platform-{algorithm.value.lower()}-{format}.{suffix}"
    text = key.public_key if key.public_key.endswith("\n") else key.public_key + "\n"
    return Response(
        text,
        media_type="application/x-pem-file" if suffix == "pem" else "text/plain",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


# ---------------------------------------------------------------- the API explorer


def _presets(request: Request, mini_program_id: int | None) -> list[Preset]:
    def t(text: str) -> str:
        return translate(request, text)

    mp = str(mini_program_id or 1)
    item = json.dumps(
        {"name": "Test item", "price_fen": 100, "stock": 10, "status": "off_sale"}, indent=2
    )
    return [
        Preset(
            "whoami", t(N_("Who am I (checks the signature)")), "GET", "/api/v1/openplatform/whoami"
        ),
        Preset("apps", t(N_("This app")), "GET", "/api/v1/apps"),
        Preset("mini-programs", t(N_("Mini-programs")), "GET", "/api/v1/mini-programs"),
        Preset(
            "items",
            t(N_("Items of a mini-program")),
            "GET",
            f"/api/v1/mini-programs/{mp}/items",
        ),
        Preset("orders", t(N_("Latest orders")), "GET", "/api/v1/orders?limit=10"),
        Preset("paid-orders", t(N_("Paid orders")), "GET", "/api/v1/orders?status=paid&limit=10"),
        Preset(
            "add-item",
            t(N_("Add an item (changes data)")),
            "POST",
            f"/api/v1/mini-programs/{mp}/items",
            item,
        ),
        Preset(
            "token",
            t(N_("Exchange an app_auth_code for a token")),
            "POST",
            "/api/v1/app-auth/token",
            json.dumps({"grant_type": "authorization_code", "code": ""}, indent=2),
            isv_only=True,
        ),
        Preset(
            "token-query",
            t(N_("What an app_auth_token allows")),
            "POST",
            "/api/v1/app-auth/token/query",
            json.dumps({"app_auth_token": ""}, indent=2),
            isv_only=True,
        ),
    ]


EXPLORER_TEXTS: dict[str, str] = {
    "sending": N_("Signing and sending…"),
    "verified": N_("Signature verified"),
    "not_verified": N_("Signature does NOT verify"),
    "unsigned": N_("The response is not signed (the call was not verified)."),
    "bad_app_id": N_("Enter the 16-digit app ID."),
    "bad_path": N_("Enter a path on this server, starting with /api/."),
    "bad_json": N_("The body is not valid JSON."),
    "no_key": N_("Paste the app's private key."),
    "public_given": N_("This is a public key: paste the app's private key."),
    "encrypted": N_("Encrypted private keys are not supported; paste the unencrypted key."),
    "bad_key": N_("The private key could not be read (PKCS#8 or PKCS#1, PEM or base64)."),
    "no_ed25519": N_("This browser cannot sign with Ed25519 keys."),
    "network": N_("The request failed:"),
    "insecure": N_("The browser signs only on HTTPS pages or on localhost."),
    "copied": N_("Copied"),
}


@router.get("/console/developer/explorer")
def explorer(
    request: Request,
    db: DbSession,
    user: ConsoleUser,
    app_id: Annotated[str | None, Query(max_length=16)] = None,
) -> Response:
    from ccare.catalog import service as catalog

    refused = refused_page(request, user)
    if refused is not None:
        return refused
    rows = [_app_row(db, user, a) for a in service.list_apps(db, user)]
    selected = next((r for r in rows if r["app"].app_id == app_id), rows[0] if rows else None)
    mini_programs = catalog.list_mini_programs(db, user.tenant)
    is_isv = user.kind == PrincipalKind.ISV_STAFF
    presets = _presets(request, mini_programs[0].id if mini_programs else None)
    return render(
        request,
        "openplatform/explorer.html",
        **world_context(request),
        rows=rows,
        selected=selected,
        presets=[p for p in presets if is_isv or not p.isv_only],
        is_isv=is_isv,
        api_base=root_of(request),
        texts={k: translate(request, v) for k, v in EXPLORER_TEXTS.items()},
    )


# ---------------------------------------------------------------- merchant: authorised apps


def _merchant_apps_page(
    request: Request,
    db: DbSession,
    staff: Principal,
    *,
    code: Any = None,
    error: str | None = None,
    notice: str | None = None,
    form: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    from ccare.isvs import service as isvs

    assert staff.merchant_id is not None
    grants = sorted(isvs.list_grants(db, staff), key=lambda g: g.id, reverse=True)
    names: dict[int, str] = {}
    for g in grants:
        if g.isv_id not in names:
            try:
                names[g.isv_id] = isvs.get_isv(db, staff, g.isv_id).name
            except DomainError:
                names[g.isv_id] = f"#{g.isv_id}"
    apps = {a.id: a for a in service.apps_acting_for(db, staff.merchant_id)}
    tokens: dict[int, list[AppTokenOut]] = {}
    for t in service.list_tokens(db, staff):
        tokens.setdefault(t.grant_id, []).append(t)
    return render(
        request,
        "openplatform/merchant_apps.html",
        status_code=status_code,
        root=root_of(request),
        grants=grants,
        isv_names=names,
        tokens=tokens,
        apps=apps,
        scope_choices=_scope_choices(request),
        can_manage=staff.can_manage(),
        code=code,
        error=error,
        notice=notice,
        form=form or {},
    )


@router.get("/console/merchant/apps")
def merchant_apps(
    request: Request, db: DbSession, staff: MerchantUser, revoked: str | None = None
) -> Response:
    notice = translate(request, N_("Authorization revoked.")) if revoked else None
    return _merchant_apps_page(request, db, staff, notice=notice)


@router.post("/console/merchant/apps/authorize")
def merchant_authorize(
    request: Request,
    db: DbSession,
    staff: MerchantUser,
    app_id: Annotated[str, Form()] = "",
    scopes: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """Shows the one-time code on this response: it is never stored in clear."""
    try:
        data = AuthorizeApp.model_validate({"app_id": app_id.strip(), "scopes": scopes or None})
        code = service.authorize_app(db, staff, data)
    except (DomainError, ValidationError) as exc:
        db.rollback()
        form = {"app_id": app_id, "scopes": scopes or []}
        return _merchant_apps_page(
            request,
            db,
            staff,
            error=_problem(request, exc),
            form=form,
            status_code=_status_of(exc),
        )
    db.flush()
    notice = translate(request, N_("App authorized. Hand this code to the service provider."))
    return _merchant_apps_page(request, db, staff, code=code, notice=notice)


@router.post("/console/merchant/apps/grants/{grant_id}/revoke")
def merchant_revoke(
    request: Request, db: DbSession, staff: MerchantUser, grant_id: PageId
) -> Response:
    from ccare.isvs import service as isvs

    try:
        isvs.revoke_grant(db, staff, grant_id)
    except DomainError as exc:
        db.rollback()
        return error_page(request, exc)
    return redirect(root_of(request) + "/console/merchant/apps?revoked=1")


# ---------------------------------------------------------------- ISV: tokens of its apps


@router.get("/console/isv/apps")
def isv_apps(request: Request, db: DbSession, isv: IsvUser) -> Response:
    from ccare.isvs import service as isvs
    from ccare.merchants import service as merchants

    apps = {a.id: a for a in service.list_apps(db, isv) if a.owner_kind == OwnerKind.ISV}
    names = {m.id: m.name for m in merchants.list_merchants(db, isv.tenant, limit=500)}
    grants = {g.id: g for g in isvs.list_grants(db, isv)}
    by_merchant: dict[int, list[AppTokenOut]] = {}
    for t in service.list_tokens(db, isv):
        by_merchant.setdefault(t.merchant_id, []).append(t)
    return render(
        request,
        "openplatform/isv_apps.html",
        dev=dev_base(request),
        apps=apps,
        merchant_names=names,
        grants=grants,
        by_merchant=sorted(by_merchant.items()),
    )
