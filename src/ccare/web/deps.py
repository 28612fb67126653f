"""Annotated dependency aliases used by every api.py and console.py.

The dependencies that only read request state are `async`: FastAPI runs a sync
dependency in the thread pool, a hop that costs more than the work itself.
"""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Header, Path, Query, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from ccare.config import Settings
from ccare.core.errors import Forbidden, Unauthorized
from ccare.core.tenancy import Principal, PrincipalKind, Tenant
from ccare.runtime import Runtime

SESSION_COOKIE = "ccare_session"
STATE_PRINCIPAL = "principal"
_UNRESOLVED = object()


def runtime_of(request: Request) -> Runtime:
    platform: Runtime = request.app.state.platform
    return platform


async def get_runtime(request: Request) -> Runtime:
    return runtime_of(request)


async def get_db(request: Request) -> Session:
    db: Session = request.state.db
    return db


async def get_settings_dep(request: Request) -> Settings:
    return runtime_of(request).settings


def _token_from(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    return request.cookies.get(SESSION_COOKIE)


async def get_optional_principal(request: Request) -> Principal | None:
    """A signed app call, a bearer/session token, or nobody; resolved once per request.

    The principal dependencies below call this directly instead of depending on each
    other: FastAPI's dependency solving costs more per level than their own work.
    """
    resolved = getattr(request.state, STATE_PRINCIPAL, _UNRESOLVED)
    if resolved is not _UNRESOLVED:
        return cast(Principal | None, resolved)
    principal = await _resolve_principal(request)
    setattr(request.state, STATE_PRINCIPAL, principal)
    return principal


async def _resolve_principal(request: Request) -> Principal | None:
    from ccare.identity import service as identity
    from ccare.web import signed, world

    db: Session = request.state.db
    authorization = request.headers.get("authorization", "")
    if signed.is_signed(authorization):
        return await signed.authenticate(request, db, authorization)
    token = _token_from(request)
    if not token:
        return None
    if world.world_of(request) == world.SANDBOX:
        return await run_in_threadpool(_sandbox_principal, request, db, token)
    return await run_in_threadpool(identity.resolve, db, token)


def _sandbox_principal(request: Request, db: Session, token: str) -> Principal | None:
    """Sandbox sign-ins (its buyers) first; else a live developer acts as their twin."""
    from ccare.identity import service as identity
    from ccare.openplatform import sandbox

    principal = identity.resolve(db, token)
    if principal is not None:
        return principal
    with runtime_of(request).db.transaction() as live:
        developer = identity.resolve(live, token)
    return sandbox.twin_principal(db, developer) if developer is not None else None


async def get_principal(request: Request) -> Principal:
    principal = await get_optional_principal(request)
    if principal is None:
        raise Unauthorized("sign in first", code="auth.required")
    return principal


async def get_staff(request: Request) -> Principal:
    """Operator, merchant staff or ISV staff: anyone who works in a console."""
    principal = await get_principal(request)
    if principal.kind == PrincipalKind.CONSUMER:
        raise Forbidden("console access only", code="auth.staff_only")
    return principal


async def get_operator(request: Request) -> Principal:
    principal = await get_principal(request)
    if not principal.is_operator:
        raise Forbidden("platform operators only", code="auth.operator_only")
    return principal


async def get_consumer(request: Request) -> Principal:
    principal = await get_principal(request)
    if principal.kind != PrincipalKind.CONSUMER:
        raise Forbidden("consumers only", code="auth.consumer_only")
    return principal


async def get_tenant(request: Request) -> Tenant:
    return (await get_staff(request)).tenant


async def get_idempotency_key(
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> str:
    from ccare.core.idempotency import validate_key

    return validate_key(idempotency_key)


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
DbSession = Annotated[Session, Depends(get_db)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
OptionalPrincipal = Annotated[Principal | None, Depends(get_optional_principal)]
CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
CurrentStaff = Annotated[Principal, Depends(get_staff)]
CurrentOperator = Annotated[Principal, Depends(get_operator)]
CurrentConsumer = Annotated[Principal, Depends(get_consumer)]
CurrentTenant = Annotated[Tenant, Depends(get_tenant)]
IdempotencyKey = Annotated[str, Depends(get_idempotency_key)]

# Ids are positive BIGINTs; anything larger is a 422, not a database overflow.
IdPath = Annotated[int, Path(gt=0, lt=2**62)]
# Pagination bounds: an offset past any real table would only overflow the database.
Limit = Annotated[int, Query(ge=1, le=200, description="page size")]
Offset = Annotated[int, Query(ge=0, le=1_000_000, description="rows to skip")]


def client_ip(request: Request) -> str | None:
    """The caller's address (what the anti-cheating filter counts): the peer, or the client
    a trusted proxy names in `X-Forwarded-For` (settings.forwarded_allow_ips)."""
    return request.client.host if request.client else None
