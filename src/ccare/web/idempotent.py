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
    scope = f"{principal.kind}:{principal.id}"
    fingerprint = idempotency.request_fingerprint(operation, jsonable_encoder(body))
    record = idempotency.lookup(db, scope, key, fingerprint)
    if record is not None:
        return JSONResponse(
            record.response, status_code=record.status_code, headers={"Idempotent-Replayed": "true"}
        )
    data = jsonable_encoder(produce())
    idempotency.remember(db, scope, key, fingerprint, status_code, data)
    return JSONResponse(data, status_code=status_code)
