"""Developer apps, their keys, the platform's keys and the ISV app-authorisation flow.

Signed-call verification lives in `ccare.openplatform.auth`; both share `app_credentials`,
a short per-process cache of an app's public keys, so verifying costs one key operation.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ccare.core.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from ccare.core.outbox import emit
from ccare.core.security import new_token, token_hash
from ccare.core.signing import (
    PrivateKey,
    SignAlgorithm,
    algorithm_of,
    export_private_key,
    export_public_key,
    fingerprint,
    generate_private_key,
    load_private_key,
    load_public_key,
)
from ccare.core.tenancy import Principal, PrincipalKind, StaffRole
from ccare.core.time import as_utc, utcnow
from ccare.openplatform import auth as cache
from ccare.openplatform.models import (
    AppAuthCode,
    AppAuthToken,
    AppKey,
    AppMode,
    AppStatus,
    DeveloperApp,
    KeyStatus,
    OwnerKind,
    PlatformKey,
    TokenStatus,
)
from ccare.openplatform.repository import OpenPlatformRepository
from ccare.openplatform.schemas import (
    AppAuthorized,
    AppCreate,
    AppCreated,
    AppKeyRotated,
    AppTokenOut,
    AppUpdate,
    AuthCodeOut,
    AuthorizeApp,
    KeyUpload,
    PlatformKeyOut,
    TokenInfo,
    TokenOut,
)

APP_ID_PREFIX = {AppMode.LIVE: "2", AppMode.SANDBOX: "9"}
AUTH_CODE_TTL = timedelta(hours=24)
TOKEN_TTL = timedelta(days=365)
REFRESH_TTL = timedelta(days=372)


def world_of(db: Session) -> AppMode:
    """Which world a session belongs to: the sandbox database marks its sessions."""
    return AppMode(db.info.get("world", AppMode.LIVE))


def merchant_pid(merchant_id: int) -> str:
    """The 16-digit partner id (`user_id`, `seller_id`) Alipay-style clients expect."""
    return f"20881{merchant_id:011d}"


# --- apps --------------------------------------------------------------------------------


def _owner(actor: Principal) -> tuple[OwnerKind, int]:
    if actor.kind == PrincipalKind.MERCHANT_STAFF and actor.merchant_id is not None:
        if actor.role == StaffRole.CLERK:
            raise Forbidden("owners and managers only", code="staff.role_forbidden")
        return OwnerKind.MERCHANT, actor.merchant_id
    if actor.kind == PrincipalKind.ISV_STAFF and actor.isv_id is not None:
        return OwnerKind.ISV, actor.isv_id
    raise Forbidden("apps belong to a merchant or an ISV", code="app.developer_only")


def _new_app_id(repo: OpenPlatformRepository, mode: AppMode) -> str:
    while True:
        app_id = APP_ID_PREFIX[mode] + f"{secrets.randbelow(10**15):015d}"
        if repo.app(app_id) is None:
            return app_id


def create_app(
    db: Session, actor: Principal, data: AppCreate, *, acts_for: int | None = None
) -> DeveloperApp:
    """`acts_for`: the merchant a merchant's app acts for in this world (sandbox: its twin)."""
    owner_kind, owner_id = _owner(actor)
    if data.mode != world_of(db):
        raise InvalidInput(
            f"{data.mode.value} apps are created in the {data.mode.value} console",
            code="app.wrong_world",
        )
    repo = OpenPlatformRepository(db)
    is_merchant = owner_kind == OwnerKind.MERCHANT
    app = DeveloperApp(
        app_id=_new_app_id(repo, data.mode),
        name=data.name,
        mode=data.mode,
        status=AppStatus.ACTIVE,
        owner_kind=owner_kind,
        owner_id=owner_id,
        merchant_id=(acts_for or owner_id) if is_merchant else None,
        isv_id=None if is_merchant else (acts_for or owner_id),
        scopes=list(data.scopes),
        notify_url=data.notify_url,
    )
    repo.add(app)
    if data.public_key:
        _add_key(repo, app, data.public_key, overlap=timedelta(0))
    emit(
        db,
        AppCreated(
            merchant_id=app.merchant_id,
            app_id=app.app_id,
            mode=app.mode.value,
            owner_kind=owner_kind.value,
            owner_id=owner_id,
        ),
    )
    return app


def list_apps(db: Session, actor: Principal) -> list[DeveloperApp]:
    repo = OpenPlatformRepository(db)
    if actor.is_operator:
        return repo.apps_of(None, None)
    if actor.kind == PrincipalKind.APP:
        app = repo.app_by_pk(actor.id)
        return [app] if app else []
    if actor.kind == PrincipalKind.MERCHANT_STAFF and actor.merchant_id is not None:
        return repo.apps_of(OwnerKind.MERCHANT, actor.merchant_id)
    if actor.kind == PrincipalKind.ISV_STAFF and actor.isv_id is not None:
        return repo.apps_of(OwnerKind.ISV, actor.isv_id)
    return []


def get_app(db: Session, actor: Principal, app_id: str) -> DeveloperApp:
    app = next((a for a in list_apps(db, actor) if a.app_id == app_id), None)
    if app is None:
        raise NotFound("no such app", code="app.not_found", app_id=app_id)
    return app


def _manageable_app(db: Session, actor: Principal, app_id: str) -> DeveloperApp:
    app = get_app(db, actor, app_id)
    if actor.kind == PrincipalKind.APP or not actor.can_manage():
        raise Forbidden("owners and managers only", code="staff.role_forbidden")
    return app


def update_app(db: Session, actor: Principal, app_id: str, data: AppUpdate) -> DeveloperApp:
    app = _manageable_app(db, actor, app_id)
    for field in ("name", "scopes", "notify_url", "status"):
        value = getattr(data, field)
        if value is not None:
            setattr(app, field, list(value) if field == "scopes" else value)
    db.flush()
    cache.forget(db, app.app_id)
    return app


def _add_key(
    repo: OpenPlatformRepository, app: DeveloperApp, text: str, *, overlap: timedelta
) -> tuple[AppKey, list[AppKey]]:
    public_key = load_public_key(text)
    fp = fingerprint(public_key)
    if any(k.fingerprint == fp for k in repo.keys(app.id)):
        raise Conflict("this key was registered before; generate a new pair", code="key.reused")
    now = utcnow()
    retiring = repo.retire_active_keys(app.id, now + overlap)
    key = AppKey(
        app_pk=app.id,
        algorithm=algorithm_of(public_key),
        public_key=export_public_key(public_key, "spki"),
        fingerprint=fp,
        status=KeyStatus.ACTIVE,
        created_at=now,
    )
    repo.add(key)
    cache.forget(repo.db, app.app_id)
    return key, retiring


def upload_key(db: Session, actor: Principal, app_id: str, data: KeyUpload) -> AppKey:
    """Register a new public key; the previous one keeps working for `overlap_hours`."""
    app = _manageable_app(db, actor, app_id)
    key, retiring = _add_key(
        OpenPlatformRepository(db),
        app,
        data.public_key,
        overlap=timedelta(hours=data.overlap_hours),
    )
    emit(
        db,
        AppKeyRotated(
            merchant_id=app.merchant_id,
            app_id=app.app_id,
            fingerprint=key.fingerprint,
            retiring=[k.fingerprint for k in retiring],
        ),
    )
    return key


def list_keys(db: Session, actor: Principal, app_id: str) -> list[AppKey]:
    return OpenPlatformRepository(db).keys(get_app(db, actor, app_id).id)


def revoke_key(db: Session, actor: Principal, app_id: str, key_id: int) -> AppKey:
    app = _manageable_app(db, actor, app_id)
    key = next((k for k in OpenPlatformRepository(db).keys(app.id) if k.id == key_id), None)
    if key is None:
        raise NotFound("no such key", code="key.not_found", key_id=key_id)
    key.status = KeyStatus.REVOKED
    db.flush()
    cache.forget(db, app.app_id)
    return key


# --- the platform's keys -------------------------------------------------------------------


def _platform_row(db: Session, algorithm: SignAlgorithm) -> PlatformKey:
    repo = OpenPlatformRepository(db)
    row = repo.platform_key(algorithm)
    if row is not None:
        return row
    private = generate_private_key(algorithm)
    row = PlatformKey(
        algorithm=algorithm,
        private_key=export_private_key(private, "pkcs8"),
        public_key=export_public_key(private.public_key(), "spki"),
        created_at=utcnow(),
    )
    try:
        # Another process may create it at the same moment: the unique algorithm decides.
        with db.begin_nested():
            repo.add(row)
    except IntegrityError:
        existing = repo.platform_key(algorithm)
        assert existing is not None
        return existing
    return row


def platform_private_key(db: Session, algorithm: SignAlgorithm) -> PrivateKey:
    def load() -> PrivateKey:
        return load_private_key(_platform_row(db, algorithm).private_key)

    return cache.platform_key(db, algorithm, load)


def platform_public_key(db: Session, algorithm: SignAlgorithm, fmt: str = "spki") -> PlatformKeyOut:
    public = platform_private_key(db, algorithm).public_key()
    if fmt not in ("spki", "pkcs1", "base64") or (fmt == "pkcs1" and algorithm != "RSA2"):
        raise InvalidInput("format is spki, pkcs1 (RSA only) or base64", code="key.bad_format")
    return PlatformKeyOut(
        algorithm=algorithm,
        format=fmt,
        public_key=export_public_key(public, fmt),  # type: ignore[arg-type]
        fingerprint=fingerprint(public),
    )


# --- ISV authorisation: code -> token -> refresh -------------------------------------------


def authorize_app(db: Session, actor: Principal, data: AuthorizeApp) -> AuthCodeOut:
    """A merchant's owner or manager lets an ISV's app act for the merchant."""
    from ccare.isvs import service as isvs

    if actor.kind != PrincipalKind.MERCHANT_STAFF or actor.merchant_id is None:
        raise Forbidden("only a merchant's staff authorise apps", code="isv.grant_merchant_only")
    repo = OpenPlatformRepository(db)
    app = repo.app(data.app_id)
    if app is None or app.owner_kind != OwnerKind.ISV or app.isv_id is None:
        raise NotFound("no such ISV app", code="app.not_found", app_id=data.app_id)
    if app.status != AppStatus.ACTIVE:
        raise Conflict("this app is disabled", code="app.disabled", app_id=data.app_id)
    scopes = sorted(data.scopes or app.scopes)
    beyond = sorted(set(scopes) - set(app.scopes))
    if beyond:
        raise InvalidInput(
            f"the app does not ask for {beyond}", code="app.scope_not_requested", scopes=beyond
        )
    grant = isvs.grant_isv(db, actor, app.isv_id, scopes)
    code = new_token()
    expires = utcnow() + AUTH_CODE_TTL
    repo.add(
        AppAuthCode(
            code_hash=token_hash(code),
            app_pk=app.id,
            merchant_id=actor.merchant_id,
            grant_id=grant.id,
            expires_at=expires,
        )
    )
    emit(
        db,
        AppAuthorized(
            merchant_id=actor.merchant_id, app_id=app.app_id, grant_id=grant.id, scopes=scopes
        ),
    )
    return AuthCodeOut(
        app_auth_code=code,
        app_id=app.app_id,
        merchant_id=actor.merchant_id,
        grant_id=grant.id,
        expires_at=expires,
    )


def _calling_app(db: Session, caller: Principal) -> DeveloperApp:
    if caller.kind != PrincipalKind.APP:
        raise Forbidden("sign this call with the app's key", code="app.signed_call_only")
    app = OpenPlatformRepository(db).app_by_pk(caller.id)
    if app is None:
        raise Unauthorized("unknown app", code="app.unknown")
    return app


def _issue(
    repo: OpenPlatformRepository, app: DeveloperApp, merchant_id: int, grant_id: int
) -> TokenOut:
    now = utcnow()
    token = now.strftime("%Y%m") + "BB" + secrets.token_hex(16)
    refresh = now.strftime("%Y%m") + "BR" + secrets.token_hex(16)
    repo.add(
        AppAuthToken(
            app_pk=app.id,
            merchant_id=merchant_id,
            grant_id=grant_id,
            token_hash=token_hash(token),
            refresh_hash=token_hash(refresh),
            status=TokenStatus.ACTIVE,
            created_at=now,
            expires_at=now + TOKEN_TTL,
            refresh_expires_at=now + REFRESH_TTL,
        )
    )
    return TokenOut(
        app_auth_token=token,
        app_refresh_token=refresh,
        auth_app_id=app.app_id,
        user_id=merchant_pid(merchant_id),
        merchant_id=merchant_id,
        expires_in=int(TOKEN_TTL.total_seconds()),
        re_expires_in=int(REFRESH_TTL.total_seconds()),
    )


def _require_live_grant(db: Session, grant_id: int) -> list[str]:
    from ccare.isvs import service as isvs

    scopes = isvs.active_grant_scopes(db, grant_id)
    if scopes is None:
        raise Unauthorized("the merchant revoked this authorisation", code="app_auth.revoked")
    return scopes


def exchange_code(db: Session, caller: Principal, code: str) -> TokenOut:
    app = _calling_app(db, caller)
    repo = OpenPlatformRepository(db)
    row = repo.auth_code(token_hash(code))
    now = utcnow()
    if row is None or row.app_pk != app.id:
        raise InvalidInput("unknown app_auth_code", code="app_auth.code_invalid")
    if as_utc(row.expires_at) <= now:
        raise InvalidInput("this app_auth_code expired", code="app_auth.code_expired")
    if row.used_at is not None or not repo.use_code(row, now):
        raise InvalidInput("this app_auth_code was used", code="app_auth.code_used")
    _require_live_grant(db, row.grant_id)
    return _issue(repo, app, row.merchant_id, row.grant_id)


def refresh_token(db: Session, caller: Principal, refresh: str) -> TokenOut:
    app = _calling_app(db, caller)
    repo = OpenPlatformRepository(db)
    row = repo.token_by_refresh_hash(token_hash(refresh))
    if row is None or row.app_pk != app.id:
        raise InvalidInput("unknown app_refresh_token", code="app_auth.refresh_invalid")
    if as_utc(row.refresh_expires_at) <= utcnow():
        raise InvalidInput("this app_refresh_token expired", code="app_auth.refresh_expired")
    if row.status != TokenStatus.ACTIVE or not repo.supersede_token(row):
        raise InvalidInput("this app_refresh_token was used", code="app_auth.refresh_used")
    _require_live_grant(db, row.grant_id)
    return _issue(repo, app, row.merchant_id, row.grant_id)


def token_info(db: Session, caller: Principal, token: str) -> TokenInfo:
    app = _calling_app(db, caller)
    row = OpenPlatformRepository(db).token_by_hash(token_hash(token))
    if row is None or row.app_pk != app.id:
        raise InvalidInput("unknown app_auth_token", code="app_auth.token_invalid")
    from ccare.isvs import service as isvs

    scopes = isvs.active_grant_scopes(db, row.grant_id)
    expires = as_utc(row.expires_at)
    valid = row.status == TokenStatus.ACTIVE and scopes is not None and expires > utcnow()
    return TokenInfo(
        auth_app_id=app.app_id,
        user_id=merchant_pid(row.merchant_id),
        merchant_id=row.merchant_id,
        status="valid" if valid else "invalid",
        scopes=sorted(set(scopes or []) & set(app.scopes)),
        auth_start=as_utc(row.created_at),
        auth_end=expires,
        expires_in=max(0, int((expires - utcnow()).total_seconds())) if valid else 0,
    )


def list_tokens(db: Session, actor: Principal) -> list[AppTokenOut]:
    """A merchant sees the tokens issued on its grants; an ISV those of its apps.

    A token whose grant was revoked shows as revoked at once, before the `isv.revoked`
    subscriber has marked the row.
    """
    from ccare.isvs import service as isvs

    repo = OpenPlatformRepository(db, actor.tenant)
    if actor.kind == PrincipalKind.ISV_STAFF:
        rows = OpenPlatformRepository(db).tokens(app_pks=[a.id for a in list_apps(db, actor)])
    elif actor.kind in (PrincipalKind.MERCHANT_STAFF, PrincipalKind.OPERATOR):
        rows = repo.tokens()
    else:
        rows = []
    out = []
    for row in rows:
        token = AppTokenOut.model_validate(row)
        if (
            token.status == TokenStatus.ACTIVE
            and isvs.active_grant_scopes(db, row.grant_id) is None
        ):
            token = token.model_copy(update={"status": TokenStatus.REVOKED})
        out.append(token)
    return out


def revoke_tokens_of_grant(db: Session, grant_id: int) -> int:
    return OpenPlatformRepository(db).revoke_tokens_of_grant(grant_id)


def apps_acting_for(db: Session, merchant_id: int) -> list[DeveloperApp]:
    """Active apps that act for the merchant: its own and ISV apps holding a live token."""
    apps = OpenPlatformRepository(db).apps_acting_for(merchant_id)
    return [a for a in apps if a.status == AppStatus.ACTIVE]


def find_app(db: Session, app_id: str) -> DeveloperApp | None:
    return OpenPlatformRepository(db).app(app_id)
