"""Run a money-moving endpoint at most once per (caller, Idempotency-Key)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from ccare.core import idempotency
from ccare.core.tenancy import Principal


def run_idempotent(
    db: Session,
    principal: Principal,
    key: str,
    operation: str,
    body: Any,
    produce: Callable[[], Any],
    status_code: int = 200,
) -> JSONResponse:
    outcome = idempotency.execute_once(
        db,
        scope_of(principal),
        key,
        operation,
        jsonable_encoder(body),
        lambda: jsonable_encoder(produce()),
        status_code,
    )
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else None
    return JSONResponse(outcome.data, status_code=outcome.status_code, headers=headers)


def scope_of(principal: Principal) -> str:
    if principal.app_id is not None:
        # An ISV app acts for many merchants: the same key for two of them is two calls.
        return f"{principal.kind}:{principal.id}:{principal.merchant_id}"
    return f"{principal.kind}:{principal.id}"
