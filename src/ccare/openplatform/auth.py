"""Verifying signed calls: the native scheme and the Alipay v1 gateway.

An app's public keys are cached per process for a few seconds (and dropped at once when
this process changes them), so a verified call costs one public-key operation and, with
an app auth token, one indexed lookup.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from ccare.config import get_settings
from ccare.core.errors import Forbidden, InvalidInput, Unauthorized
from ccare.core.nonces import NonceStore
from ccare.core.security import token_hash
from ccare.core.signing import (
    Authorization,
    PrivateKey,
    PublicKey,
    SignAlgorithm,
    load_public_key,
    native_content,
    parse_authorization,
    v1_verify,
    verify,
)
from ccare.core.tenancy import Principal, PrincipalKind, Tenant
from ccare.core.time import as_utc, utcnow
from ccare.openplatform.models import AppMode, AppStatus, TokenStatus
from ccare.openplatform.repository import OpenPlatformRepository

CREDENTIALS_TTL = 5.0
TIMESTAMP_WINDOW_MS = 5 * 60 * 1000
NONCE_TTL_SECONDS = 2 * TIMESTAMP_WINDOW_MS / 1000
GATEWAY_TIMESTAMP_WINDOW_SECONDS = 15 * 60


@dataclass(frozen=True)
class AppCredentials:
    pk: int
    app_id: str
    name: str
    mode: AppMode
    status: AppStatus
    merchant_id: int | None
    isv_id: int | None
    scopes: frozenset[str]
    notify_url: str | None
    keys: tuple[tuple[SignAlgorithm, PublicKey], ...]


@dataclass(frozen=True)
class SignedCall:
    app: AppCredentials
    principal: Principal
    algorithm: SignAlgorithm


class _EngineCache:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.apps: dict[str, tuple[float, AppCredentials | None]] = {}
        self.platform: dict[SignAlgorithm, PrivateKey] = {}


_CACHES: weakref.WeakKeyDictionary[Engine, _EngineCache] = weakref.WeakKeyDictionary()
_CACHES_LOCK = threading.Lock()


def _cache(db: Session) -> _EngineCache:
    engine = db.get_bind()
    assert isinstance(engine, Engine)
    return _engine_cache(engine)


def _engine_cache(engine: Engine) -> _EngineCache:
    with _CACHES_LOCK:
        cache = _CACHES.get(engine)
        if cache is None:
            cache = _CACHES[engine] = _EngineCache()
        return cache


def forget(db: Session, app_id: str) -> None:
    cache = _cache(db)
    with cache.lock:
        cache.apps.pop(app_id, None)


def clear(engine: Engine) -> None:
    """Forget everything cached for a database (its rows were wiped)."""
    cache = _engine_cache(engine)
    with cache.lock:
        cache.apps.clear()
        cache.platform.clear()


def platform_key(
    db: Session, algorithm: SignAlgorithm, load: Callable[[], PrivateKey]
) -> PrivateKey:
    cache = _cache(db)
    key = cache.platform.get(algorithm)
    if key is None:
        key = load()
        with cache.lock:
            key = cache.platform.setdefault(algorithm, key)
    return key


def cached_platform_key(engine: Engine, algorithm: SignAlgorithm) -> PrivateKey | None:
    """The platform key if this process has it already (no I/O; for the event loop)."""
    return _engine_cache(engine).platform.get(algorithm)


def cached_credentials(engine: Engine, app_id: str) -> AppCredentials | None:
    """An app's fresh cached credentials, or None (unknown, stale or not cached)."""
    hit = _engine_cache(engine).apps.get(app_id)
    if hit is not None and hit[0] > time.monotonic():
        return hit[1]
    return None


def app_credentials(db: Session, app_id: str) -> AppCredentials | None:
    cache = _cache(db)
    hit = cache.apps.get(app_id)
    now = time.monotonic()
    if hit is not None and hit[0] > now:
        return hit[1]
    creds = _load_credentials(db, app_id)
    with cache.lock:
        cache.apps[app_id] = (now + CREDENTIALS_TTL, creds)
    return creds


def _load_credentials(db: Session, app_id: str) -> AppCredentials | None:
    repo = OpenPlatformRepository(db)
    app = repo.app(app_id)
    if app is None:
        return None
    keys = tuple(
        (k.algorithm, load_public_key(k.public_key)) for k in repo.keys(app.id, usable_at=utcnow())
    )
    return AppCredentials(
        pk=app.id,
        app_id=app.app_id,
        name=app.name,
        mode=app.mode,
        status=app.status,
        merchant_id=app.merchant_id,
        isv_id=app.isv_id,
        scopes=frozenset(app.scopes),
        notify_url=app.notify_url,
        keys=keys,
    )


def _usable_app(db: Session, app_id: str) -> AppCredentials:
    from ccare.openplatform.service import world_of

    creds = app_credentials(db, app_id)
    world = world_of(db)
    if creds is None:
        other = "sandbox" if world == AppMode.LIVE else "live"
        hint = f"; {other} app ids start with {'9' if other == 'sandbox' else '2'}"
        raise Unauthorized(f"unknown app_id{hint}", code="app.unknown", app_id=app_id)
    _check_active(creds)
    return creds


def _check_active(creds: AppCredentials) -> None:
    if creds.status != AppStatus.ACTIVE:
        raise Forbidden("this app is disabled", code="app.disabled", app_id=creds.app_id)


def _verify_any(
    creds: AppCredentials, algorithm: SignAlgorithm, check: Callable[[PublicKey], bool]
) -> None:
    keys = [key for alg, key in creds.keys if alg == algorithm]
    if not keys:
        raise Unauthorized(
            f"the app has no {algorithm.value} public key registered",
            code="signature.no_key",
            algorithm=algorithm.value,
        )
    if not any(check(key) for key in keys):
        raise Unauthorized("the signature does not verify", code="signature.invalid")


def _principal(db: Session, creds: AppCredentials, app_auth_token: str | None) -> Principal:
    if app_auth_token:
        merchant_id, grant_scopes = _token_merchant(db, creds, app_auth_token)
        return _app_principal(creds, merchant_id, creds.scopes & grant_scopes)
    return _app_principal(creds, creds.merchant_id, creds.scopes)


def _app_principal(
    creds: AppCredentials, merchant_id: int | None, scopes: frozenset[str]
) -> Principal:
    return Principal(
        kind=PrincipalKind.APP,
        id=creds.pk,
        name=creds.name,
        merchant_id=merchant_id,
        isv_id=creds.isv_id,
        tenant=Tenant(frozenset({merchant_id}) if merchant_id is not None else frozenset()),
        app_id=creds.app_id,
        scopes=scopes,
    )


def _token_merchant(
    db: Session, creds: AppCredentials, app_auth_token: str
) -> tuple[int, frozenset[str]]:
    from ccare.isvs import service as isvs

    row = OpenPlatformRepository(db).token_by_hash(token_hash(app_auth_token))
    if row is None or row.app_pk != creds.pk or row.status == TokenStatus.REFRESHED:
        raise Unauthorized("unknown app_auth_token", code="app_auth.token_invalid")
    if row.status == TokenStatus.REVOKED:
        raise Unauthorized("the merchant revoked this authorisation", code="app_auth.revoked")
    if as_utc(row.expires_at) <= utcnow():
        raise Unauthorized("this app_auth_token expired; refresh it", code="app_auth.token_expired")
    scopes = isvs.active_grant_scopes(db, row.grant_id)
    if scopes is None:
        raise Unauthorized("the merchant revoked this authorisation", code="app_auth.revoked")
    return row.merchant_id, frozenset(scopes)


def authenticate_native(
    db: Session,
    nonces: NonceStore,
    *,
    authorization: str | Authorization,
    method: str,
    path_query: str,
    body: bytes,
    app_auth_token: str | None,
    now_ms: int | None = None,
) -> SignedCall:
    auth = parse_native(authorization) if isinstance(authorization, str) else authorization
    _check_timestamp(auth, now_ms)
    creds = _usable_app(db, auth.app_id)
    _check_signature(creds, nonces, auth, method, path_query, body, app_auth_token)
    return SignedCall(creds, _principal(db, creds, app_auth_token), auth.algorithm)


def authenticate_cached(
    engine: Engine,
    nonces: NonceStore,
    *,
    auth: Authorization,
    method: str,
    path_query: str,
    body: bytes,
    now_ms: int | None = None,
) -> SignedCall | None:
    """`authenticate_native` for a call without an app auth token, with no I/O at all.

    None when this process has no fresh copy of the app's credentials: the caller then
    authenticates with a session.
    """
    _check_timestamp(auth, now_ms)
    creds = cached_credentials(engine, auth.app_id)
    if creds is None:
        return None
    _check_active(creds)
    _check_signature(creds, nonces, auth, method, path_query, body, None)
    return SignedCall(creds, _app_principal(creds, creds.merchant_id, creds.scopes), auth.algorithm)


def _check_timestamp(auth: Authorization, now_ms: int | None) -> None:
    now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
    if abs(now_ms - auth.timestamp_ms) > TIMESTAMP_WINDOW_MS:
        raise Unauthorized(
            "timestamp outside the 5-minute window; check the clock",
            code="signature.timestamp_expired",
            server_time_ms=now_ms,
        )


def _check_signature(
    creds: AppCredentials,
    nonces: NonceStore,
    auth: Authorization,
    method: str,
    path_query: str,
    body: bytes,
    app_auth_token: str | None,
) -> None:
    message = native_content(
        auth.app_id, auth.nonce, auth.timestamp_ms, method, path_query, body, app_auth_token
    )
    _verify_any(creds, auth.algorithm, lambda key: verify(key, message, auth.sign))
    if not nonces.claim(f"{auth.app_id}:{auth.nonce}", NONCE_TTL_SECONDS):
        raise Unauthorized("this nonce was used before", code="signature.nonce_reused")


def parse_native(authorization: str) -> Authorization:
    try:
        return parse_authorization(authorization)
    except InvalidInput as exc:
        raise Unauthorized(exc.message, code=exc.code) from None


GATEWAY_SIGN_TYPES = {"RSA2": SignAlgorithm.RSA2, "ED25519": SignAlgorithm.ED25519}


def authenticate_gateway(
    db: Session, params: Mapping[str, str], *, now: datetime | None = None
) -> SignedCall:
    """Check a v1 call's app, timestamp and signature (`sign_type` is part of the text)."""
    creds = _usable_app(db, params["app_id"])
    algorithm = GATEWAY_SIGN_TYPES.get(params.get("sign_type", ""))
    if algorithm is None:
        raise InvalidInput("sign_type must be RSA2 (or ED25519)", code="signature.bad_sign_type")
    _check_gateway_timestamp(params.get("timestamp", ""), now or utcnow())
    # The signature covers the text in the call's own charset (utf-8, gbk...).
    charset = params.get("charset") or "utf-8"
    _verify_any(
        creds,
        algorithm,
        lambda key: v1_verify(key, params, params.get("sign", ""), charset=charset),
    )
    return SignedCall(creds, _principal(db, creds, params.get("app_auth_token")), algorithm)


def _check_gateway_timestamp(value: str, now: datetime) -> None:
    zone_name = get_settings().gateway_timezone
    try:
        sent = datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=ZoneInfo(zone_name))
    except ValueError:
        raise InvalidInput(
            f"timestamp must be yyyy-MM-dd HH:mm:ss ({zone_name} time)",
            code="signature.bad_timestamp",
        ) from None
    if abs((now - sent).total_seconds()) > GATEWAY_TIMESTAMP_WINDOW_SECONDS:
        raise Unauthorized(
            f"timestamp outside the 15-minute window ({zone_name} time expected)",
            code="signature.timestamp_expired",
        )
