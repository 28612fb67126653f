"""Signed app calls on the native API (docs/adr/0008).

`authenticate` verifies the `Authorization` header, checks the route's scope and the
app's rate limit; `SignedResponses` signs every response to a verified call with the
platform key of the same algorithm.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from fastapi import Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ccare.core.db import Database
from ccare.core.errors import Forbidden, InvalidInput, RateLimited
from ccare.core.ratelimit import RateDecision, RateLimit
from ccare.core.signing import (
    AUTH_SCHEMES,
    PrivateKey,
    SignAlgorithm,
    parse_authorization,
    response_content,
    sign,
)
from ccare.core.tenancy import Principal
from ccare.openplatform.auth import (
    SignedCall,
    authenticate_native,
    cached_credentials,
    cached_platform_key,
)
from ccare.runtime import Runtime
from ccare.web.world import database_for

TOKEN_HEADERS = ("ccare-app-auth-token", "alipay-app-auth-token")
STATE_CALL = "signed_call"
STATE_RATE = "rate_decision"
# Every app may ask who it is and manage its own authorisations.
OPEN_TO_EVERY_APP = frozenset({"openplatform"})


def is_signed(authorization: str) -> bool:
    return authorization.split(" ", 1)[0] in AUTH_SCHEMES


def _path_query(request: Request) -> str:
    query = request.scope.get("query_string", b"").decode("latin-1")
    path = request.scope.get("raw_path", b"").decode("latin-1") or request.url.path
    return f"{path}?{query}" if query else path


def route_scope(request: Request) -> str | None:
    route = request.scope.get("route")
    tags = getattr(route, "tags", None) or []
    return str(tags[0]) if tags else None


def check_rate(runtime: Runtime, app_id: str) -> RateDecision:
    limit = RateLimit(runtime.settings.app_rate_limit_per_minute, 60.0)
    decision = runtime.rate_limiter.hit(f"app:{app_id}", limit)
    if not decision.allowed:
        raise RateLimited(
            f"over {limit.limit} calls per minute for this app; retry later",
            headers=decision.headers(),
            retry_after=decision.retry_after,
        )
    return decision


async def authenticate(request: Request, db: Session, authorization: str) -> Principal:
    runtime: Runtime = request.app.state.platform
    body = await request.body()
    token = next((request.headers[h] for h in TOKEN_HEADERS if h in request.headers), None)

    def verify() -> SignedCall:
        return authenticate_native(
            db,
            runtime.nonces,
            authorization=authorization,
            method=request.method,
            path_query=_path_query(request),
            body=body,
            app_auth_token=token,
        )

    # With the app's keys cached and no token to look up, verifying does no I/O: one
    # public-key operation, cheaper in the event loop than a hop to the thread pool.
    if token is None and _cached(db, authorization):
        call = verify()
    else:
        call = await run_in_threadpool(verify)
    request.state.signed_call = call
    request.state.rate_decision = check_rate(runtime, call.app.app_id)
    scope = route_scope(request)
    scopes = call.principal.scopes or frozenset()
    if scope is not None and scope not in scopes | OPEN_TO_EVERY_APP:
        raise Forbidden(
            f"the app has no '{scope}' scope here", code="app.scope_missing", scope=scope
        )
    return call.principal


def _cached(db: Session, authorization: str) -> bool:
    try:
        app_id = parse_authorization(authorization).app_id
    except InvalidInput:
        return False
    engine = db.get_bind()
    return isinstance(engine, Engine) and cached_credentials(engine, app_id) is not None


class SignedResponses:
    """ASGI middleware: buffer and sign the response to a verified call."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            state: dict[str, Any] = scope.get("state", {})
            call: SignedCall | None = state.get(STATE_CALL)
            rate: RateDecision | None = state.get(STATE_RATE)
            if message["type"] == "http.response.start":
                if call is None and rate is None:
                    await send(message)
                    return
                start = message
                return
            if start is None:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = b"".join(chunks)
            headers = list(start.get("headers", []))
            if rate is not None:
                headers += [(k.lower().encode(), v.encode()) for k, v in rate.headers().items()]
            # A 204 carries nothing to vouch for: the verify-only check stays one
            # public-key operation.
            if call is not None and start["status"] != 204:
                database = database_for(HTTPConnection(scope))
                key = cached_platform_key(database.engine, call.algorithm)
                if key is None:
                    key = await run_in_threadpool(_load_platform_key, database, call.algorithm)
                headers += _signature_headers(key, call.algorithm, body)
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body, "more_body": False})

        await self.app(scope, receive, capture)


def _load_platform_key(database: Database, algorithm: SignAlgorithm) -> PrivateKey:
    from ccare.openplatform.service import platform_private_key

    with database.transaction() as db:
        return platform_private_key(db, algorithm)


def _signature_headers(
    key: PrivateKey, algorithm: SignAlgorithm, body: bytes
) -> list[tuple[bytes, bytes]]:
    # One private-key operation (about 0.3 ms for RSA-2048, far less for Ed25519): cheaper
    # inline than a hop to the thread pool.
    timestamp = str(int(time.time() * 1000))
    nonce = secrets.token_hex(16)
    signature = sign(key, response_content(timestamp, nonce, body))
    return [
        (b"ccare-timestamp", timestamp.encode()),
        (b"ccare-nonce", nonce.encode()),
        (b"ccare-sign-type", SignAlgorithm(algorithm).value.encode()),
        (b"ccare-signature", signature.encode()),
    ]
