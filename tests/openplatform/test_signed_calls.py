"""Native API signing: apps, keys, the Authorization scheme and signed responses."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ccare.client import ApiError, CcareClient, ResponseSignatureError
from ccare.core.db import Database
from ccare.core.signing import (
    SignAlgorithm,
    authorization_header,
    export_private_key,
    export_public_key,
    generate_private_key,
    load_public_key,
)
from tests.factories import login, make_merchant, make_staff
from tests.openplatform.helpers import new_app

RSA = generate_private_key(SignAlgorithm.RSA2)
ED = generate_private_key(SignAlgorithm.ED25519)


def test_a_merchant_app_signs_calls_and_gets_signed_answers(
    client: TestClient, db: Database
) -> None:
    merchant = make_merchant(db)
    app = new_app(client, login(client, merchant.owner_email, merchant.password), RSA)
    platform = client.get("/api/v1/platform-key", params={"algorithm": "RSA2"}).json()
    api = CcareClient(
        app_id=app["app_id"],
        private_key=RSA,
        platform_public_key=platform["public_key"],
        http=client,
    )

    assert api.whoami() == {
        "app_id": app["app_id"],
        "kind": "app",
        "merchant_id": merchant.merchant_id,
        "scopes": ["catalog", "orders"],
    }
    assert app["app_id"].startswith("2") and len(app["app_id"]) == 16


def test_ed25519_keys_sign_and_the_platform_answers_with_ed25519(
    client: TestClient, db: Database
) -> None:
    merchant = make_merchant(db)
    app = new_app(client, login(client, merchant.owner_email, merchant.password), ED)
    platform = client.get("/api/v1/platform-key", params={"algorithm": "ED25519"}).json()
    api = CcareClient(
        app_id=app["app_id"],
        private_key=ED,
        platform_public_key=platform["public_key"],
        http=client,
    )

    assert api.whoami()["merchant_id"] == merchant.merchant_id
    # The RSA platform key does not verify an Ed25519-signed answer.
    rsa_platform = client.get("/api/v1/platform-key").json()["public_key"]
    with pytest.raises(ResponseSignatureError):
        CcareClient(
            app_id=app["app_id"], private_key=ED, platform_public_key=rsa_platform, http=client
        ).whoami()


def _signed(client: TestClient, app_id: str, **overrides: Any) -> dict[str, str]:
    fields: dict[str, Any] = {"nonce": None, "timestamp_ms": None}
    fields.update(overrides)
    return {
        "Authorization": authorization_header(
            app_id, fields.pop("key", RSA), "GET", "/api/v1/openplatform/whoami", b"", **fields
        )
    }


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("wrong key", 401, "signature.invalid"),
        ("unknown app", 401, "app.unknown"),
        ("expired timestamp", 401, "signature.timestamp_expired"),
        ("future timestamp", 401, "signature.timestamp_expired"),
        ("no ed25519 key", 401, "signature.no_key"),
        ("malformed", 401, "signature.malformed"),
        ("tampered path", 401, "signature.invalid"),
    ],
)
def test_bad_signatures_are_refused_with_precise_codes(
    client: TestClient, db: Database, case: str, status: int, code: str
) -> None:
    merchant = make_merchant(db)
    app_id = new_app(client, login(client, merchant.owner_email, merchant.password), RSA)["app_id"]
    now = int(time.time() * 1000)
    headers = {
        "wrong key": lambda: _signed(client, app_id, key=generate_private_key(SignAlgorithm.RSA2)),
        "unknown app": lambda: _signed(client, "2000000000000001"),
        "expired timestamp": lambda: _signed(client, app_id, timestamp_ms=now - 301_000),
        "future timestamp": lambda: _signed(client, app_id, timestamp_ms=now + 301_000),
        "no ed25519 key": lambda: _signed(client, app_id, key=ED),
        "malformed": lambda: {"Authorization": f"CCARE-SHA256withRSA app_id={app_id},sign=abc"},
        "tampered path": lambda: _signed(client, app_id),
    }[case]()
    path = "/api/v1/openplatform/whoami" + ("?x=1" if case == "tampered path" else "")

    response = client.get(path, headers=headers)

    assert (response.status_code, response.json()["code"]) == (status, code)


def test_a_nonce_is_accepted_once(client: TestClient, db: Database) -> None:
    merchant = make_merchant(db)
    app_id = new_app(client, login(client, merchant.owner_email, merchant.password), RSA)["app_id"]
    headers = _signed(client, app_id, nonce="n" * 32)

    first = client.get("/api/v1/openplatform/whoami", headers=headers)
    replay = client.get("/api/v1/openplatform/whoami", headers=headers)

    assert first.status_code == 200
    assert (replay.status_code, replay.json()["code"]) == (401, "signature.nonce_reused")


def test_a_route_outside_the_apps_scopes_is_forbidden(client: TestClient, db: Database) -> None:
    merchant = make_merchant(db)
    app = new_app(client, login(client, merchant.owner_email, merchant.password), RSA)
    api = CcareClient(app_id=app["app_id"], private_key=RSA, http=client)

    with pytest.raises(ApiError) as refused:
        api.get(f"/api/v1/merchants/{merchant.merchant_id}/stores")

    assert (refused.value.status, refused.value.code) == (403, "app.scope_missing")
    assert refused.value.details == {"scope": "merchants"}


def test_key_rotation_keeps_the_old_key_for_the_overlap_then_revocation_ends_it(
    client: TestClient, db: Database
) -> None:
    merchant = make_merchant(db)
    token = login(client, merchant.owner_email, merchant.password)
    app_id = new_app(client, token, RSA)["app_id"]
    new_key = generate_private_key(SignAlgorithm.RSA2)

    rotated = client.post(
        f"/api/v1/apps/{app_id}/keys",
        json={"public_key": export_public_key(new_key.public_key(), "pkcs1"), "overlap_hours": 2},
        headers=token,
    )
    keys = client.get(f"/api/v1/apps/{app_id}/keys", headers=token).json()

    assert rotated.status_code == 201
    assert [k["status"] for k in keys] == ["active", "retiring"]
    assert CcareClient(app_id=app_id, private_key=RSA, http=client).whoami()["app_id"] == app_id
    assert CcareClient(app_id=app_id, private_key=new_key, http=client).whoami()["app_id"] == app_id

    old_id = keys[1]["id"]
    revoked = client.post(f"/api/v1/apps/{app_id}/keys/{old_id}/revoke", headers=token)
    assert revoked.json()["status"] == "revoked"
    with pytest.raises(ApiError) as refused:
        CcareClient(app_id=app_id, private_key=RSA, http=client).whoami()
    assert refused.value.code == "signature.invalid"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("not a key at all, just some forty characters of text", "key.invalid"),
        (export_private_key(RSA, "pkcs8"), "key.private_given"),
    ],
)
def test_bad_public_keys_are_refused(
    client: TestClient, db: Database, text: str, code: str
) -> None:
    merchant = make_merchant(db)
    token = login(client, merchant.owner_email, merchant.password)
    app_id = new_app(client, token, None)["app_id"]

    response = client.post(f"/api/v1/apps/{app_id}/keys", json={"public_key": text}, headers=token)

    assert (response.status_code, response.json()["code"]) == (422, code)
    assert client.get(f"/api/v1/apps/{app_id}/keys", headers=token).json() == []


def test_a_reused_key_and_a_clerk_are_refused(client: TestClient, db: Database) -> None:
    merchant = make_merchant(db)
    token = login(client, merchant.owner_email, merchant.password)
    app_id = new_app(client, token, RSA)["app_id"]
    clerk = make_staff(db, merchant.merchant_id, "clerk")
    pem = export_public_key(RSA.public_key(), "base64")

    reused = client.post(f"/api/v1/apps/{app_id}/keys", json={"public_key": pem}, headers=token)
    by_clerk = client.post(
        "/api/v1/apps", json={"name": "x"}, headers=login(client, clerk.email, clerk.password)
    )

    assert (reused.status_code, reused.json()["code"]) == (409, "key.reused")
    assert (by_clerk.status_code, by_clerk.json()["code"]) == (403, "staff.role_forbidden")


def test_the_platform_key_is_stable_and_exported_in_every_format(client: TestClient) -> None:
    spki = client.get("/api/v1/platform-key").json()
    pkcs1 = client.get("/api/v1/platform-key", params={"format": "pkcs1"}).json()
    bare = client.get("/api/v1/platform-key", params={"format": "base64"}).json()

    assert spki["public_key"].startswith("-----BEGIN PUBLIC KEY-----")
    assert pkcs1["public_key"].startswith("-----BEGIN RSA PUBLIC KEY-----")
    assert spki["fingerprint"] == pkcs1["fingerprint"] == bare["fingerprint"]
    assert (
        load_public_key(bare["public_key"]).public_numbers()
        == load_public_key(  # type: ignore[union-attr]
            spki["public_key"]
        ).public_numbers()
    )  # type: ignore[union-attr]
    assert client.get("/api/v1/platform-key").json() == spki


def test_the_verify_only_check_answers_204_unsigned(client: TestClient, db: Database) -> None:
    merchant = make_merchant(db)
    app_id = new_app(client, login(client, merchant.owner_email, merchant.password), RSA)["app_id"]
    path = "/api/v1/openplatform/verify"

    good = client.get(
        path, headers={"Authorization": authorization_header(app_id, RSA, "GET", path, b"")}
    )
    bad = client.get(
        path, headers={"Authorization": authorization_header(app_id, ED, "GET", path, b"")}
    )

    assert (good.status_code, good.content) == (204, b"")
    assert "ccare-signature" not in good.headers
    assert good.headers["x-ratelimit-limit"] == "1200"
    assert (bad.status_code, bad.json()["code"]) == (401, "signature.no_key")
