"""ISV app authorisation: the merchant's consent -> code -> token -> refresh -> revocation."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from ccare.client import ApiError, CcareClient
from ccare.core.db import Database
from ccare.core.signing import SignAlgorithm, generate_private_key
from tests.factories import (
    consumer_login,
    login,
    make_consumer,
    make_isv,
    make_item,
    make_merchant,
    make_mini_program,
)
from tests.openplatform.helpers import new_app

KEY = generate_private_key(SignAlgorithm.RSA2)


def _isv_app(client: TestClient, db: Database) -> tuple[CcareClient, str]:
    isv = make_isv(db)
    app = new_app(client, login(client, isv.email, isv.password), KEY)
    return CcareClient(app_id=app["app_id"], private_key=KEY, http=client), app["app_id"]


def _authorize(client: TestClient, owner: dict[str, str], app_id: str, **extra: object) -> dict:
    response = client.post(
        "/api/v1/app-authorizations", json={"app_id": app_id, **extra}, headers=owner
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_code_token_refresh_and_the_token_acts_for_that_merchant_only(
    client: TestClient, db: Database
) -> None:
    shop = make_merchant(db, "Noodle Shop")
    other = make_merchant(db, "Other Shop")
    owner = login(client, shop.owner_email, shop.password)
    api, app_id = _isv_app(client, db)
    mp = make_mini_program(db, shop.merchant_id)
    other_mp = make_mini_program(db, other.merchant_id)
    make_item(db, shop.merchant_id, mp, "Beef noodles", 1800)
    make_item(db, other.merchant_id, other_mp, "Secret recipe", 9900)

    assert api.whoami()["merchant_id"] is None
    code = _authorize(client, owner, app_id)["app_auth_code"]
    token = api.post("/api/v1/app-auth/token", {"grant_type": "authorization_code", "code": code})
    as_shop = api.acting_for(token["app_auth_token"])

    assert token["auth_app_id"] == app_id
    assert token["user_id"] == f"20881{shop.merchant_id:011d}"
    assert (token["expires_in"], token["re_expires_in"]) == (31536000, 32140800)
    assert as_shop.whoami()["merchant_id"] == shop.merchant_id
    items = as_shop.get(f"/api/v1/mini-programs/{mp}/items")
    assert [i["name"] for i in items] == ["Beef noodles"]
    with pytest.raises(ApiError) as foreign:
        as_shop.get(f"/api/v1/mini-programs/{other_mp}/items")
    assert foreign.value.status in (403, 404)

    # The code is single use; refreshing replaces the pair.
    with pytest.raises(ApiError) as reused:
        api.post("/api/v1/app-auth/token", {"grant_type": "authorization_code", "code": code})
    assert reused.value.code == "app_auth.code_used"
    fresh = api.post(
        "/api/v1/app-auth/token",
        {"grant_type": "refresh_token", "refresh_token": token["app_refresh_token"]},
    )
    assert api.acting_for(fresh["app_auth_token"]).whoami()["merchant_id"] == shop.merchant_id
    with pytest.raises(ApiError) as stale:
        as_shop.whoami()
    assert stale.value.code == "app_auth.token_invalid"
    info = api.post("/api/v1/app-auth/token/query", {"app_auth_token": fresh["app_auth_token"]})
    assert (info["status"], info["merchant_id"], info["scopes"]) == (
        "valid",
        shop.merchant_id,
        ["catalog", "orders"],
    )


def test_revoking_the_grant_stops_the_token_at_once(client: TestClient, db: Database) -> None:
    shop = make_merchant(db)
    owner = login(client, shop.owner_email, shop.password)
    api, app_id = _isv_app(client, db)
    auth = _authorize(client, owner, app_id)
    token = api.post(
        "/api/v1/app-auth/token",
        {"grant_type": "authorization_code", "code": auth["app_auth_code"]},
    )["app_auth_token"]

    revoked = client.post(f"/api/v1/isv-grants/{auth['grant_id']}/revoke", headers=owner)

    assert revoked.json()["status"] == "revoked"
    with pytest.raises(ApiError) as refused:
        api.acting_for(token).whoami()
    assert (refused.value.status, refused.value.code) == (401, "app_auth.revoked")
    listed = client.get("/api/v1/app-auth/tokens", headers=owner).json()
    assert [t["status"] for t in listed] == ["revoked"]


def test_a_grant_narrower_than_the_app_limits_the_token(client: TestClient, db: Database) -> None:
    shop = make_merchant(db)
    owner = login(client, shop.owner_email, shop.password)
    api, app_id = _isv_app(client, db)
    code = _authorize(client, owner, app_id, scopes=["catalog"])["app_auth_code"]
    token = api.post("/api/v1/app-auth/token", {"grant_type": "authorization_code", "code": code})

    as_shop = api.acting_for(token["app_auth_token"])

    assert as_shop.whoami()["scopes"] == ["catalog"]
    with pytest.raises(ApiError) as refused:
        as_shop.get("/api/v1/orders")
    assert (refused.value.code, refused.value.details) == ("app.scope_missing", {"scope": "orders"})


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("scope the app did not ask for", "app.scope_not_requested"),
        ("a merchant app", "app.not_found"),
        ("consumer", "auth.staff_only"),
        ("isv staff", "isv.grant_merchant_only"),
    ],
)
def test_bad_authorisations_are_refused(
    client: TestClient, db: Database, case: str, code: str
) -> None:
    shop = make_merchant(db)
    owner = login(client, shop.owner_email, shop.password)
    _, isv_app_id = _isv_app(client, db)
    merchant_app_id = new_app(client, owner, KEY)["app_id"]
    body: dict[str, object] = {"app_id": isv_app_id}
    headers = owner
    if case == "scope the app did not ask for":
        body["scopes"] = ["ledger"]
    elif case == "a merchant app":
        body["app_id"] = merchant_app_id
    elif case == "consumer":
        headers = consumer_login(client, make_consumer(db))
    else:
        isv = make_isv(db)
        headers = login(client, isv.email, isv.password)

    response = client.post("/api/v1/app-authorizations", json=body, headers=headers)

    assert response.json()["code"] == code
    assert client.get("/api/v1/isv-grants", headers=owner).json() == []


def test_codes_and_tokens_of_another_app_are_unknown(client: TestClient, db: Database) -> None:
    shop = make_merchant(db)
    owner = login(client, shop.owner_email, shop.password)
    api, app_id = _isv_app(client, db)
    thief, _ = _isv_app(client, db)
    code = _authorize(client, owner, app_id)["app_auth_code"]

    with pytest.raises(ApiError) as stolen_code:
        thief.post("/api/v1/app-auth/token", {"grant_type": "authorization_code", "code": code})
    token = api.post("/api/v1/app-auth/token", {"grant_type": "authorization_code", "code": code})
    with pytest.raises(ApiError) as stolen_token:
        thief.acting_for(token["app_auth_token"]).whoami()

    assert stolen_code.value.code == "app_auth.code_invalid"
    assert stolen_token.value.code == "app_auth.token_invalid"
