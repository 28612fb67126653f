"""One request = one transaction; idempotency keys; error shape for bad input."""

from __future__ import annotations

import itertools

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from ccare.core.errors import Conflict
from ccare.core.idempotency import IdempotencyRecord
from ccare.core.tenancy import SYSTEM
from ccare.identity.models import Operator
from ccare.web.deps import DbSession, IdempotencyKey
from ccare.web.errors import install_error_handlers
from ccare.web.idempotent import run_idempotent
from ccare.web.routing import api_router

_seq = itertools.count(1)


class Body(BaseModel):
    amount_fen: int = Field(gt=0, le=10_000_000)


def _add_operator(db) -> int:  # type: ignore[no-untyped-def]
    op = Operator(email=f"t{next(_seq)}@x.test", name="t", password_hash="x")
    db.add(op)
    db.flush()
    return op.id


@pytest.fixture
def app_client(runtime):  # type: ignore[no-untyped-def]
    router = api_router(prefix="/t")

    @router.post("/write", status_code=201)
    def write(db: DbSession) -> dict[str, int]:
        return {"id": _add_operator(db)}

    @router.post("/write-then-fail")
    def write_then_fail(db: DbSession) -> None:
        _add_operator(db)
        raise Conflict("rule broken after a write", code="test.rule_broken")

    @router.post("/charge")
    def charge(body: Body, db: DbSession, key: IdempotencyKey):  # type: ignore[no-untyped-def]
        return run_idempotent(
            db,
            SYSTEM,
            key,
            "test.charge",
            body,
            lambda: {"operator": _add_operator(db), "amount_fen": body.amount_fen},
            status_code=201,
        )

    app = FastAPI()
    app.state.platform = runtime
    install_error_handlers(app)
    app.include_router(router)
    with TestClient(app) as c:
        yield c


def count(db, model) -> int:  # type: ignore[no-untyped-def]
    with db.transaction() as s:
        return int(s.scalar(select(func.count()).select_from(model)))


def test_success_commits(app_client, db) -> None:  # type: ignore[no-untyped-def]
    r = app_client.post("/t/write")
    assert r.status_code == 201
    assert count(db, Operator) == 1


def test_domain_error_rolls_back_earlier_writes(app_client, db) -> None:  # type: ignore[no-untyped-def]
    r = app_client.post("/t/write-then-fail")
    assert r.status_code == 409
    assert r.json() == {
        "code": "test.rule_broken",
        "message": "rule broken after a write",
        "details": {},
    }
    assert count(db, Operator) == 0


def test_idempotency_same_key_same_body_replays(app_client, db) -> None:  # type: ignore[no-untyped-def]
    first = app_client.post(
        "/t/charge", json={"amount_fen": 500}, headers={"Idempotency-Key": "k1"}
    )
    again = app_client.post(
        "/t/charge", json={"amount_fen": 500}, headers={"Idempotency-Key": "k1"}
    )
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert count(db, Operator) == 1
    assert count(db, IdempotencyRecord) == 1


def test_idempotency_same_key_other_body_conflicts(app_client, db) -> None:  # type: ignore[no-untyped-def]
    app_client.post("/t/charge", json={"amount_fen": 500}, headers={"Idempotency-Key": "k2"})
    r = app_client.post("/t/charge", json={"amount_fen": 501}, headers={"Idempotency-Key": "k2"})
    assert r.status_code == 409
    assert r.json()["code"] == "idempotency.key_reused"
    assert count(db, Operator) == 1


@pytest.mark.parametrize(
    ("headers", "code"),
    [({}, "idempotency.key_missing"), ({"Idempotency-Key": "x" * 65}, "idempotency.key_invalid")],
)
def test_idempotency_key_required(app_client, db, headers, code) -> None:  # type: ignore[no-untyped-def]
    r = app_client.post("/t/charge", json={"amount_fen": 1}, headers=headers)
    assert (r.status_code, r.json()["code"]) == (422, code)
    assert count(db, Operator) == 0


def test_malformed_json_and_wrong_types_are_422_with_codes(app_client) -> None:  # type: ignore[no-untyped-def]
    r = app_client.post(
        "/t/charge",
        content=b"{not json",
        headers={"Idempotency-Key": "k3", "Content-Type": "application/json"},
    )
    assert (r.status_code, r.json()["code"]) == (422, "malformed_json")
    r = app_client.post("/t/charge", json={"amount_fen": "lots"}, headers={"Idempotency-Key": "k4"})
    assert (r.status_code, r.json()["code"]) == (422, "invalid_request")
    assert r.json()["message"].startswith("body.amount_fen:")
    r = app_client.post("/t/charge", json={"amount_fen": -5}, headers={"Idempotency-Key": "k5"})
    assert (r.status_code, r.json()["code"]) == (422, "invalid_request")
