"""`GET|POST /gateway.do`: verify, dispatch, answer signed (HTTP 200, as Alipay does).

One request is one transaction (`api_router`), but the route commits every answer below
400 and every gateway answer is a 200: a refused call therefore rolls its session back
itself, so nothing it did is written.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from ccare.core.errors import DomainError, Forbidden
from ccare.core.signing import PrivateKey, SignAlgorithm
from ccare.openplatform.auth import authenticate_gateway
from ccare.runtime import Runtime
from ccare.web import signed
from ccare.web.deps import DbSession
from ccare.web.errors import error_body
from ccare.web.gateway import protocol
from ccare.web.gateway.errors import (
    MESSAGES,
    SUCCESS,
    AlipayError,
    from_domain,
    invalid,
    missing,
    unavailable,
)
from ccare.web.gateway.registry import GatewayContext, GatewayMethod, lookup
from ccare.web.routing import api_router

log = logging.getLogger(__name__)

router = api_router(tags=["gateway"])

# Checked in this order, so each call learns about the first thing it lacks.
REQUIRED = (
    ("method", "isv.missing-method"),
    ("app_id", "isv.missing-app-id"),
    ("sign", "isv.missing-signature"),
    ("sign_type", "isv.missing-signature-type"),
    ("timestamp", "isv.missing-timestamp"),
)


class _TooLarge(Exception):
    pass


async def _body(request: Request) -> bytes:
    """The body, refused past the app's limit even when no Content-Length announced it."""
    from ccare.web.app import MAX_BODY_BYTES

    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


SUMMARY = "The Alipay v1 gateway: signed calls from Alipay SDKs (docs/adr/0008)"


@router.get("/gateway.do", summary=SUMMARY, response_class=Response, operation_id="gateway_get")
@router.post("/gateway.do", summary=SUMMARY, response_class=Response, operation_id="gateway_post")
async def gateway(request: Request, db: DbSession) -> Response:
    from ccare.web.app import MAX_BODY_BYTES

    try:
        body = await _body(request)
    except _TooLarge:
        return JSONResponse(
            error_body("payload_too_large", f"body over {MAX_BODY_BYTES} bytes"), status_code=413
        )
    runtime: Runtime = request.app.state.platform
    query = request.scope.get("query_string", b"")
    content_type = request.headers.get("content-type", "")
    content, media_type = await run_in_threadpool(_answer, runtime, db, query, body, content_type)
    return Response(content, media_type=media_type)


def _answer(
    runtime: Runtime, db: Session, query: bytes, body: bytes, content_type: str
) -> tuple[bytes, str]:
    try:
        params, codec = protocol.parse_params(query, body, content_type)
    except AlipayError as unreadable:
        # Parameters that cannot be read: answered in utf-8, with the RSA2 key.
        key = _platform_key(db, SignAlgorithm.RSA2)
        return _render("error_response", unreadable.body(), key, "utf-8")
    key = _platform_key(db, _algorithm(params))
    try:
        method, result = _dispatch(runtime, db, params)
    except Exception as exc:
        db.rollback()
        error = _refusal(exc, params)
        method = params.get("method", "")
        known = not error.gateway and lookup(method) is not None
        name = protocol.response_key(method) if known else "error_response"
        return _render(name, error.body(), key, codec)
    outcome = {"code": SUCCESS, "msg": MESSAGES[SUCCESS], **result}
    return _render(protocol.response_key(method), outcome, key, codec)


def _algorithm(params: Mapping[str, str]) -> SignAlgorithm:
    return SignAlgorithm.ED25519 if params.get("sign_type") == "ED25519" else SignAlgorithm.RSA2


def _platform_key(db: Session, algorithm: SignAlgorithm) -> PrivateKey:
    """The platform key of the request's world (its database), in a session of its own,
    taken before the request's session begins: on SQLite a second transaction inside the
    first would wait for the writer lock forever, and a key created in a session that then
    rolls back would be lost."""
    from ccare.openplatform.service import platform_private_key

    with Session(bind=db.get_bind(), info=dict(db.info)) as session, session.begin():
        return platform_private_key(session, algorithm)


def _render(
    name: str, payload: Mapping[str, Any], key: PrivateKey, codec: str
) -> tuple[bytes, str]:
    charset = "utf-8" if codec == "utf-8" else "gbk"
    return protocol.envelope(name, payload, key, codec), f"application/json;charset={charset}"


def _check_common(params: Mapping[str, str]) -> GatewayMethod:
    for name, sub_code in REQUIRED:
        if not params.get(name):
            raise missing(sub_code, f"the {name} parameter is required")
    if params.get("format", "json").lower() != "json":
        raise invalid("isv.invalid-format", "format must be json")
    if params.get("version", "1.0") != "1.0":
        raise invalid("isv.invalid-parameter", "version must be 1.0")
    if params.get("encrypt_type"):
        raise invalid("isv.invalid-encrypt-type", "encrypted biz_content is not supported")
    entry = lookup(params["method"])
    if entry is None:
        raise invalid("isv.invalid-method", f"no method {params['method']!r}")
    return entry


def _dispatch(
    runtime: Runtime, db: Session, params: Mapping[str, str]
) -> tuple[str, dict[str, Any]]:
    entry = _check_common(params)
    call = authenticate_gateway(db, params)
    signed.check_rate(runtime, call.app.app_id)
    principal = call.principal
    token = params.get("app_auth_token") or None
    if entry.scope is not None and entry.scope not in (principal.scopes or frozenset()):
        if token and entry.scope in call.app.scopes:
            raise Forbidden(
                f"the merchant did not grant '{entry.scope}' to this app",
                code="app_auth.scope_missing",
                scope=entry.scope,
            )
        raise Forbidden(
            f"the app has no '{entry.scope}' scope", code="app.scope_missing", scope=entry.scope
        )
    biz = protocol.parse_biz(entry.biz, params.get("biz_content"))
    context = GatewayContext(
        db=db,
        principal=principal,
        app_id=call.app.app_id,
        algorithm=call.algorithm,
        method=entry.name,
        notify_url=params.get("notify_url") or None,
        app_auth_token=token,
    )
    return entry.name, entry.handler(context, biz)


def _refusal(exc: Exception, params: Mapping[str, str]) -> AlipayError:
    method, app_id = params.get("method"), params.get("app_id")
    if isinstance(exc, AlipayError):
        error = exc
    elif isinstance(exc, DomainError):
        error = from_domain(exc)
    elif isinstance(exc, ValidationError):
        error = protocol.validation_error(exc)
    elif isinstance(exc, SQLAlchemyError):
        log.warning("gateway %s for %s: database busy or unavailable: %s", method, app_id, exc)
        return unavailable()
    else:
        log.exception("gateway %s for %s failed", method, app_id)
        return unavailable("internal error")
    # The same log line as the native API's refusals: the app owner's "why?" is answered.
    log.info("gateway %s for %s refused: %s %s", method, app_id, error.code, error.sub_code)
    return error
