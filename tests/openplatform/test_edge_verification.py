"""Signed calls verified at the edge (before routing) and in their route (docs/adr/0009).

The edge takes a call when it needs no I/O: the app's keys cached by an earlier call, no
app auth token, a declared body size, in-process nonce and rate stores. Everything else is
verified in the route. Both must refuse and accept exactly the same calls.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

import ccare.web.signed as signed
from ccare.client import CcareClient
from ccare.core.db import Database
from ccare.core.nonces import InProcessNonceStore
from ccare.core.signing import SignAlgorithm, authorization_header, generate_private_key
from tests.factories import login, make_merchant
from tests.openplatform.helpers import new_app

RSA = generate_private_key(SignAlgorithm.RSA2)
ED = generate_private_key(SignAlgorithm.ED25519)
VERIFY = "/api/v1/openplatform/verify"
WHOAMI = "/api/v1/openplatform/whoami"


@pytest.fixture
def in_route(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The app ids of the calls verified (or refused) in their route, not at the edge."""
    seen: list[str] = []
    real = signed.authenticate_native

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs["authorization"].app_id)
        return real(*args, **kwargs)

    monkeypatch.setattr(signed, "authenticate_native", spy)
    return seen


def _app(client: TestClient, db: Database, scopes: tuple[str, ...] = ("catalog",)) -> str:
    merchant = make_merchant(db)
    staff = login(client, merchant.owner_email, merchant.password)
    app_id: str = new_app(client, staff, RSA, scopes=scopes)["app_id"]
    return app_id


def _get(client: TestClient, app_id: str, path: str, **fields: Any) -> Any:
    key = fields.pop("key", RSA)
    header = authorization_header(app_id, key, "GET", path, b"", **fields)
    return client.get(path, headers={"Authorization": header})


def test_the_first_call_is_verified_in_its_route_and_later_ones_at_the_edge(
    client: TestClient, db: Database, in_route: list[str]
) -> None:
    app_id = _app(client, db)

    answers = [_get(client, app_id, path) for path in (WHOAMI, WHOAMI, VERIFY, VERIFY)]

    assert [a.status_code for a in answers] == [200, 200, 204, 204]
    assert in_route == [app_id]  # the first call cached the app's keys
    # Each call was counted against the app's rate limit, wherever it was verified.
    assert [a.headers["x-ratelimit-limit"] for a in answers] == ["1200"] * 4
    assert answers[1].json() == answers[0].json()
    assert "ccare-signature" in answers[1].headers
    assert (answers[3].content, "ccare-signature" in answers[3].headers) == (b"", False)


# case: (the signing fields, given the app id and now in ms; the code refused with)
REFUSALS: dict[str, tuple[Callable[[str, int], dict[str, Any]], str]] = {
    "wrong key": (
        lambda app, now: {"key": generate_private_key(SignAlgorithm.RSA2)},
        "signature.invalid",
    ),
    "no ed25519 key": (lambda app, now: {"key": ED}, "signature.no_key"),
    "expired timestamp": (
        lambda app, now: {"timestamp_ms": now - 301_000},
        "signature.timestamp_expired",
    ),
    "future timestamp": (
        lambda app, now: {"timestamp_ms": now + 301_000},
        "signature.timestamp_expired",
    ),
}


@pytest.mark.parametrize("warm", [False, True], ids=["in the route", "at the edge"])
@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_bad_calls_get_the_same_refusal_at_the_edge_and_in_the_route(
    client: TestClient, db: Database, in_route: list[str], case: str, warm: bool
) -> None:
    app_id = _app(client, db)
    if warm:
        assert _get(client, app_id, WHOAMI).status_code == 200
    fields, code = REFUSALS[case]
    in_route.clear()

    refused = _get(client, app_id, VERIFY, **fields(app_id, int(time.time() * 1000)))

    assert (refused.status_code, refused.json()["code"]) == (401, code)
    assert "ccare-signature" not in refused.headers
    assert in_route == ([] if warm else [app_id])


@pytest.mark.parametrize("path", [VERIFY, WHOAMI])
def test_a_replayed_nonce_is_refused_at_the_edge(
    client: TestClient, db: Database, in_route: list[str], path: str
) -> None:
    app_id = _app(client, db)
    assert _get(client, app_id, WHOAMI).status_code == 200
    header = authorization_header(app_id, RSA, "GET", path, b"", nonce="r" * 32)

    first = client.get(path, headers={"Authorization": header})
    replay = client.get(path, headers={"Authorization": header})

    assert first.status_code in (200, 204)
    assert (replay.status_code, replay.json()["code"]) == (401, "signature.nonce_reused")
    assert in_route == [app_id]  # only the warm-up call


def _mini_program(api: CcareClient, name: str) -> dict[str, Any]:
    created: dict[str, Any] = api.post(
        "/api/v1/mini-programs", json={"name": name, "category": "food"}
    )
    return created


def test_a_signed_body_verified_at_the_edge_still_reaches_the_route(
    client: TestClient, db: Database, in_route: list[str]
) -> None:
    app_id = _app(client, db)
    api = CcareClient(app_id=app_id, private_key=RSA, http=client)
    api.whoami()

    created = _mini_program(api, "早餐铺 小程序")

    assert (created["name"], created["category"]) == ("早餐铺 小程序", "food")
    assert in_route == [app_id]
    assert [m["name"] for m in api.get("/api/v1/mini-programs")] == ["早餐铺 小程序"]


def test_a_tampered_body_is_refused_at_the_edge_and_nothing_is_written(
    client: TestClient, db: Database, in_route: list[str]
) -> None:
    app_id = _app(client, db)
    api = CcareClient(app_id=app_id, private_key=RSA, http=client)
    api.whoami()
    body = json.dumps({"name": "Signed", "category": "food"}).encode()
    header = authorization_header(app_id, RSA, "POST", "/api/v1/mini-programs", body)

    refused = client.post(
        "/api/v1/mini-programs",
        content=body.replace(b"Signed", b"Forged"),
        headers={"Authorization": header, "content-type": "application/json"},
    )

    assert (refused.status_code, refused.json()["code"]) == (401, "signature.invalid")
    assert api.get("/api/v1/mini-programs") == []


def test_a_chunked_body_is_verified_in_the_route(
    client: TestClient, db: Database, in_route: list[str]
) -> None:
    app_id = _app(client, db)
    CcareClient(app_id=app_id, private_key=RSA, http=client).whoami()
    body = json.dumps({"name": "Chunked", "category": "food"}).encode()
    header = authorization_header(app_id, RSA, "POST", "/api/v1/mini-programs", body)

    def chunks() -> Iterator[bytes]:
        yield body[:10]
        yield body[10:]

    created = client.post(
        "/api/v1/mini-programs",
        content=chunks(),
        headers={"Authorization": header, "content-type": "application/json"},
    )

    assert (created.status_code, created.json()["name"]) == (201, "Chunked")
    assert in_route == [app_id, app_id]


class SharedNonces:
    """A store other processes share (as Redis is): claiming may block, so never inline."""

    def __init__(self) -> None:
        self.inner = InProcessNonceStore()

    def claim(self, key: str, ttl_seconds: float, now: float | None = None) -> bool:
        return self.inner.claim(key, ttl_seconds, now)


def test_with_a_shared_nonce_store_every_call_is_verified_in_its_route(
    client: TestClient, db: Database, in_route: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = client.app.state.platform  # type: ignore[attr-defined]
    monkeypatch.setattr(runtime, "nonces", SharedNonces())
    app_id = _app(client, db)

    answers = [_get(client, app_id, path) for path in (WHOAMI, VERIFY, VERIFY)]

    assert [a.status_code for a in answers] == [200, 204, 204]
    assert in_route == [app_id, app_id, app_id]


@pytest.mark.parametrize("warm", [False, True], ids=["cold", "warm"])
def test_a_public_route_answers_a_signed_call_the_same_way_warm_or_cold(
    client: TestClient, db: Database, warm: bool
) -> None:
    app_id = _app(client, db)
    if warm:
        assert _get(client, app_id, WHOAMI).status_code == 200
    path = "/api/v1/platform-key"

    good = _get(client, app_id, path)
    bad = _get(client, app_id, path, key=ED)
    unsigned = client.get(path)

    assert (good.status_code, good.json()) == (200, unsigned.json())
    assert good.headers["ccare-sign-type"] == "RSA2"
    assert (bad.status_code, bad.json()["code"]) == (401, "signature.no_key")
    assert (unsigned.status_code, "ccare-signature" in unsigned.headers) == (200, False)
