"""Signed app calls on the native API (docs/adr/0008, 0009).

`SignedCalls` is the edge: it verifies a signed call before routing when it can do so
without I/O (the app's keys cached, no app auth token, in-process nonce and rate stores),
answers the verify-only check itself, and signs every response to a verified call with
the platform key of the same algorithm. `authenticate`, the route dependency, finishes
what the edge could not (a database or Redis lookup, in the thread pool) and checks the
route's scope.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session
from starlette._utils import get_route_path
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ccare.core.db import Database
from ccare.core.errors import DomainError, Forbidden, RateLimited
from ccare.core.nonces import InProcessNonceStore
from ccare.core.ratelimit import InProcessRateLimiter, RateDecision, RateLimit
from ccare.core.signing import (
    AUTH_SCHEMES,
    PrivateKey,
    SignAlgorithm,
    response_content,
    sign,
)
from ccare.core.tenancy import Principal
from ccare.openplatform.auth import (
    SignedCall,
    authenticate_cached,
    authenticate_native,
    cached_credentials,
    cached_platform_key,
    parse_native,
)
from ccare.runtime import Runtime
from ccare.web.errors import refusal
from ccare.web.world import database_for

TOKEN_HEADERS = ("ccare-app-auth-token", "alipay-app-auth-token")
TOKEN_HEADER_NAMES = tuple(h.encode() for h in TOKEN_HEADERS)
# A chunked body has no declared size for the body limit to check up front: such a call
# is verified in its route, where the limit counts the body as it is read.
EDGE_DEFERS = (b"transfer-encoding",)
STATE_CALL = "signed_call"
STATE_RATE = "rate_decision"
# Every app may ask who it is and manage its own authorisations.
OPEN_TO_EVERY_APP = frozenset({"openplatform"})
VERIFY_ONLY_PATH = "/api/v1/openplatform/verify"
# An RSA-2048 signature takes about 0.2 ms with the GIL released: on a thread it runs on
# another core beside the event loop. An Ed25519 one (about 20 µs) costs less than the hop.
SIGN_ON_THREADS = frozenset({SignAlgorithm.RSA2})


def is_signed(authorization: str) -> bool:
    return authorization.split(" ", 1)[0] in AUTH_SCHEMES


def _path_query(scope: Scope) -> str:
    """The request target as the client sent (and signed) it."""
    query = scope.get("query_string", b"").decode("latin-1")
    path = scope.get("raw_path", b"").decode("latin-1") or scope["path"]
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
    call: SignedCall | None = getattr(request.state, STATE_CALL, None)
    if call is None:  # not verified at the edge: needs I/O
        runtime: Runtime = request.app.state.platform
        auth = parse_native(authorization)
        body = await request.body()
        headers = request.headers
        token = next((headers[h] for h in TOKEN_HEADERS if h in headers), None)
        path_query = _path_query(request.scope)

        def verify() -> SignedCall:
            return authenticate_native(
                db,
                runtime.nonces,
                authorization=auth,
                method=request.method,
                path_query=path_query,
                body=body,
                app_auth_token=token,
            )

        call = await run_in_threadpool(verify)
        request.state.signed_call = call
        request.state.rate_decision = await run_in_threadpool(check_rate, runtime, call.app.app_id)
    scope = route_scope(request)
    scopes = call.principal.scopes or frozenset()
    if scope is not None and scope not in scopes | OPEN_TO_EVERY_APP:
        raise Forbidden(
            f"the app has no '{scope}' scope here", code="app.scope_missing", scope=scope
        )
    return call.principal


def _header(scope: Scope, name: bytes) -> str | None:
    value = next((v for k, v in scope["headers"] if k == name), None)
    return value.decode("latin-1") if value is not None else None


async def _read_body(receive: Receive) -> tuple[bytes, Receive]:
    """The whole request body, and a `receive` that hands it to the app again."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"", receive  # the client went away; the app will see it too
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    return body, replay


class SignedCalls:
    """ASGI middleware: verify signed calls at the edge; sign the answers to them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        authorization = _header(scope, b"authorization")
        if authorization is not None and is_signed(authorization):
            try:
                receive, answered = await self._verify(scope, receive, send, authorization)
            except DomainError as exc:
                await refusal(scope["method"], scope["path"], exc)(scope, receive, send)
                return
            if answered:
                return
        await self.app(scope, receive, self._signer(scope, send))

    async def _verify(
        self, scope: Scope, receive: Receive, send: Send, authorization: str
    ) -> tuple[Receive, bool]:
        """Verify at the edge if no I/O is needed; True when the call is fully answered."""
        connection = HTTPConnection(scope)
        runtime: Runtime = connection.app.state.platform
        if any(_header(scope, h) is not None for h in (*EDGE_DEFERS, *TOKEN_HEADER_NAMES)):
            return receive, False
        if not (_in_process(runtime.nonces) and _in_process(runtime.rate_limiter)):
            return receive, False
        auth = parse_native(authorization)
        engine = database_for(connection).engine
        if cached_credentials(engine, auth.app_id) is None:
            return receive, False
        body, receive = await _read_body(receive)
        call = authenticate_cached(
            engine,
            runtime.nonces,
            auth=auth,
            method=scope["method"],
            path_query=_path_query(scope),
            body=body,
        )
        if call is None:  # the cached copy went stale meanwhile
            return receive, False
        rate = check_rate(runtime, call.app.app_id)
        state = scope.setdefault("state", {})
        state[STATE_CALL], state[STATE_RATE] = call, rate
        if scope["method"] == "GET" and get_route_path(scope) == VERIFY_ONLY_PATH:
            # The verify-only check: nothing to route, run or sign.
            headers = [(k.lower().encode(), v.encode()) for k, v in rate.headers().items()]
            await send({"type": "http.response.start", "status": 204, "headers": headers})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return receive, True
        return receive, False

    def _signer(self, scope: Scope, send: Send) -> Send:
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
            # A 204 carries nothing to vouch for.
            if call is not None and start["status"] != 204:
                database = database_for(HTTPConnection(scope))
                key = cached_platform_key(database.engine, call.algorithm)
                if key is None:
                    key = await run_in_threadpool(_load_platform_key, database, call.algorithm)
                headers += await _signature_headers(key, call.algorithm, body)
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body, "more_body": False})

        return capture


def _in_process(store: object) -> bool:
    return isinstance(store, (InProcessNonceStore, InProcessRateLimiter))


def _load_platform_key(database: Database, algorithm: SignAlgorithm) -> PrivateKey:
    from ccare.openplatform.service import platform_private_key

    with database.transaction() as db:
        return platform_private_key(db, algorithm)


_SIGNERS: ThreadPoolExecutor | None = None


def _signers() -> ThreadPoolExecutor:
    global _SIGNERS
    if _SIGNERS is None:
        _SIGNERS = ThreadPoolExecutor(os.cpu_count() or 2, thread_name_prefix="ccare-sign")
    return _SIGNERS


async def _signature_headers(
    key: PrivateKey, algorithm: SignAlgorithm, body: bytes
) -> list[tuple[bytes, bytes]]:
    if algorithm in SIGN_ON_THREADS:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(_signers(), signature_headers, key, algorithm, body)
    return signature_headers(key, algorithm, body)


def signature_headers(
    key: PrivateKey, algorithm: SignAlgorithm, body: bytes
) -> list[tuple[bytes, bytes]]:
    timestamp = str(int(time.time() * 1000))
    nonce = secrets.token_hex(16)
    signature = sign(key, response_content(timestamp, nonce, body))
    return [
        (b"ccare-timestamp", timestamp.encode()),
        (b"ccare-nonce", nonce.encode()),
        (b"ccare-sign-type", SignAlgorithm(algorithm).value.encode()),
        (b"ccare-signature", signature.encode()),
    ]
