"""Developer console pages, key rotation through forms, and the app-authorisation pages."""

from __future__ import annotations

import html
import json
import re

import pytest
from fastapi.testclient import TestClient

from ccare.client import CcareClient
from ccare.core.db import Database
from ccare.core.signing import (
    SignAlgorithm,
    export_private_key,
    export_public_key,
    fingerprint,
    generate_private_key,
)
from ccare.core.tenancy import PLATFORM
from ccare.openplatform import service
from tests.web.conftest import World, app_sign_in, make_world, sign_in

KEY = generate_private_key(SignAlgorithm.RSA2)
NEXT_KEY = generate_private_key(SignAlgorithm.ED25519)
FORM_KEY = re.compile(r'name="idempotency_key" value="([0-9a-f]{32})"')
APP_LOCATION = re.compile(r"^/console/developer/apps/(2[0-9]{15})\?created=1$")


@pytest.fixture
def world(db: Database) -> World:
    return make_world(db)


@pytest.fixture
def en(client: TestClient) -> TestClient:
    client.cookies.set("ccare_locale", "en")
    return client


def _switch(client: TestClient, email: str, password: str) -> None:
    """Sign out whoever is signed in and sign in as someone else, keeping the language."""
    locale = client.cookies.get("ccare_locale")
    client.cookies.clear()
    if locale:
        client.cookies.set("ccare_locale", locale)
    sign_in(client, email, password)


def _owner(client: TestClient, world: World) -> None:
    _switch(client, world.merchant.owner_email, world.merchant.password)


def _isv(client: TestClient, world: World) -> None:
    _switch(client, world.isv.email, world.isv.password)


def _form_key(page: str) -> str:
    match = FORM_KEY.search(page)
    assert match is not None
    return match.group(1)


def _create_app(client: TestClient, **fields: object) -> str:
    page = client.get("/console/developer").text
    data = {
        "name": "Till integration",
        "scopes": ["catalog", "orders"],
        "notify_url": "",
        "public_key": export_public_key(KEY.public_key(), "spki"),
        "idempotency_key": _form_key(page),
        **fields,
    }
    r = client.post("/console/developer/apps", data=data, follow_redirects=False)
    assert r.status_code == 303, r.text
    match = APP_LOCATION.match(r.headers["location"])
    assert match is not None, r.headers["location"]
    return match.group(1)


def _app_rows(db: Database) -> list[tuple[str, str, list[str], str | None]]:
    from ccare.core.tenancy import Principal, PrincipalKind

    operator = Principal(kind=PrincipalKind.OPERATOR, id=0, name="t", tenant=PLATFORM)
    with db.transaction() as s:
        return [
            (a.app_id, a.name, list(a.scopes), a.notify_url) for a in service.list_apps(s, operator)
        ]


def _key_rows(page: str) -> list[tuple[str, str]]:
    """(key id, state) of the keys table, newest first."""
    return re.findall(r'<tr data-key-id="(\d+)" data-state="(\w+)">', page)


# ---------------------------------------------------------------- pages and forms


def test_developer_console_for_a_merchant_owner_in_both_languages(
    en: TestClient, world: World
) -> None:
    _owner(en, world)
    en.cookies.set("ccare_locale", "en")
    page = en.get("/console/developer")
    assert page.status_code == 200
    text = page.text
    assert '<h1 class="page-title">Developer console</h1>' in text
    assert '<a href="/console/developer" class="active" aria-current="page">Apps</a>' in text
    assert '<a href="/console/developer/explorer">API explorer</a>' in text
    assert '<a href="/console/developer/platform-key">Platform public key</a>' in text
    assert '<a href="/api/docs" target="_blank" rel="noopener">API docs ↗</a>' in text
    # The spot the sandbox fills with its live / sandbox switch.
    assert '<div class="world-switch" id="world-switch"></div>' in text
    assert '<td colspan="7" class="empty-state">No apps yet. Create one below.</td>' in text
    boxes = re.findall(r'<input type="checkbox" name="scopes" value="(\w+)"( checked)?>', text)
    assert boxes == [
        ("catalog", " checked"),
        ("merchants", ""),
        ("orders", " checked"),
        ("ledger", ""),
        ("isvs", ""),
        ("webhooks", ""),
    ]
    # The merchant nav links the new pages.
    assert '<li><a href="/console/merchant/apps">Authorized apps</a></li>' in text
    assert (
        '<li><a href="/console/developer" aria-current="page" class="active">Developer</a></li>'
        in text
    )
    en.cookies.set("ccare_locale", "zh_CN")
    zh = en.get("/console/developer").text
    assert '<h1 class="page-title">开发者中心</h1>' in zh
    assert '<td colspan="7" class="empty-state">还没有应用，请在下方创建。</td>' in zh
    assert '<li><a href="/console/merchant/apps">已授权应用</a></li>' in zh


def test_create_an_app_through_the_form_once(en: TestClient, world: World, db: Database) -> None:
    _owner(en, world)
    page = en.get("/console/developer").text
    key = _form_key(page)
    data = {
        "name": "Till integration",
        "scopes": ["orders", "catalog"],
        "notify_url": "https://till.example.com/notify",
        "public_key": export_public_key(KEY.public_key(), "pkcs1"),
        "idempotency_key": key,
    }
    first = en.post("/console/developer/apps", data=data, follow_redirects=False)
    assert first.status_code == 303
    match = APP_LOCATION.match(first.headers["location"])
    assert match is not None
    app_id = match.group(1)
    # A double click sends the same form again: still one app.
    again = en.post("/console/developer/apps", data=data, follow_redirects=False)
    assert again.headers["location"] == first.headers["location"]
    assert _app_rows(db) == [
        (app_id, "Till integration", ["catalog", "orders"], "https://till.example.com/notify")
    ]

    detail = en.get(first.headers["location"]).text
    assert '<h1 class="page-title">Till integration</h1>' in detail
    assert (
        '<p class="flash flash-ok" role="status">'
        "App created. Sign your calls with its private key.</p>" in detail
    )
    assert f'<span class="mono" id="app-id">{app_id}</span>' in detail
    assert '<span class="mono">https://till.example.com/notify</span>' in detail
    assert f'<td class="mono">{fingerprint(KEY.public_key())}</td>' in detail
    assert [state for _id, state in _key_rows(detail)] == ["active"]
    assert f'href="/console/developer/explorer?app_id={app_id}"' in detail
    # No notification log yet: the link appears once the webhooks product serves it.
    assert 'id="notification-log"' not in detail

    listing = en.get("/console/developer").text
    row = listing[listing.index(f'<tr data-app-id="{app_id}">') :]
    row = row[: row.index("</tr>")]
    assert f'<a class="mono" href="/console/developer/apps/{app_id}">{app_id}</a>' in row
    assert '<span class="badge badge-live" data-status="live">Live</span>' in row
    assert '<span class="badge badge-active" data-status="active">Active</span>' in row
    assert re.findall(r'data-scope="(\w+)"', row) == ["catalog", "orders"]
    assert f'<span class="mono">{fingerprint(KEY.public_key())}</span>' in row
    assert '<small class="muted">RSA2</small>' in row


def test_create_form_errors_keep_the_values(en: TestClient, world: World, db: Database) -> None:
    _owner(en, world)
    key = _form_key(en.get("/console/developer").text)
    r = en.post(
        "/console/developer/apps",
        data={"name": "No scopes", "public_key": "", "idempotency_key": key},
    )
    assert r.status_code == 422
    assert (
        '<p class="flash flash-error" role="alert">'
        "Please check the values you entered. (Scopes)</p>" in r.text
    )
    assert 'name="name" value="No scopes"' in r.text
    private = export_private_key(KEY, "pkcs8")
    r = en.post(
        "/console/developer/apps",
        data={
            "name": "Leaky",
            "scopes": ["orders"],
            "public_key": private,
            "idempotency_key": _form_key(r.text),
        },
    )
    assert r.status_code == 422
    assert (
        "This is a private key: paste the public key only and keep the private one secret."
        in r.text
    )
    assert _app_rows(db) == []


def test_upload_a_new_key_with_an_overlap_then_revoke_the_old_one(
    en: TestClient, world: World
) -> None:
    _owner(en, world)
    app_id = _create_app(en)
    url = f"/console/developer/apps/{app_id}"
    page = en.get(url).text
    upload = {
        "public_key": export_public_key(NEXT_KEY.public_key(), "spki"),
        "overlap_hours": "2",
        "idempotency_key": _form_key(page),
    }
    r = en.post(f"{url}/keys", data=upload, follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, f"{url}?saved=1")
    page = en.get(r.headers["location"]).text
    assert '<p class="flash flash-ok" role="status">New key registered.</p>' in page
    rows = _key_rows(page)
    assert [state for _id, state in rows] == ["active", "retiring"]
    new_id, old_id = rows[0][0], rows[1][0]
    assert '<td class="mono">' + fingerprint(NEXT_KEY.public_key()) + "</td>" in page
    assert '<span class="badge badge-retiring" data-status="retiring">Retiring</span>' in page
    assert "<td>until replaced</td>" in page

    # Registering a key twice is refused with words a developer can act on.
    upload["idempotency_key"] = _form_key(page)
    r = en.post(f"{url}/keys", data=upload)
    assert r.status_code == 409
    assert (
        '<p class="flash flash-error" role="alert">'
        "This key was registered before; generate a new key pair.</p>" in r.text
    )
    junk = "MIIB" + "not-base64!" * 5
    r = en.post(
        f"{url}/keys",
        data={"public_key": junk, "overlap_hours": "0", "idempotency_key": _form_key(r.text)},
    )
    assert r.status_code == 422
    assert "This is not a usable RSA or Ed25519 public key (PEM or base64)." in r.text

    r = en.post(f"{url}/keys/{old_id}/revoke", follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, f"{url}?revoked=1")
    page = en.get(r.headers["location"]).text
    assert (
        '<p class="flash flash-ok" role="status">'
        "Key revoked: calls signed with it are refused.</p>" in page
    )
    assert _key_rows(page) == [(new_id, "active"), (old_id, "revoked")]


def test_the_notification_log_link_appears_when_its_page_exists(
    en: TestClient, world: World
) -> None:
    _owner(en, world)
    app_id = _create_app(en)
    app = en.app
    app.add_api_route(  # type: ignore[attr-defined]
        "/console/developer/apps/{app_id}/notifications", lambda app_id: {}
    )
    page = en.get(f"/console/developer/apps/{app_id}").text
    assert (
        f'<a href="/console/developer/apps/{app_id}/notifications" role="button" '
        'class="small outline" id="notification-log">Notification log</a>' in page
    )


def test_platform_key_page_and_download(en: TestClient, world: World) -> None:
    _owner(en, world)
    page = en.get("/console/developer/platform-key").text
    rsa = en.get("/api/v1/platform-key?algorithm=RSA2&format=spki").json()
    ed = en.get("/api/v1/platform-key?algorithm=ED25519&format=spki").json()
    assert '<h1 class="page-title">Platform public key</h1>' in page
    for key in (rsa, ed):
        algorithm = key["algorithm"]
        assert f'<header><h2>{algorithm}</h2><span class="mono">{key["fingerprint"]}</span>' in page
        assert f'id="platform-key-text-{algorithm}"' in page
        assert html.escape(key["public_key"], quote=False) in page
        assert (
            f'href="/console/developer/platform-key/download?algorithm={algorithm}'
            '&amp;format=spki" download>Download</a>' in page
        )
        assert f'href="/api/v1/platform-key?algorithm={algorithm}&amp;format=spki"' in page

    pkcs1 = en.get("/console/developer/platform-key?format=pkcs1").text
    assert "-----BEGIN RSA PUBLIC KEY-----" in pkcs1
    assert pkcs1.count("PKCS#1 exists for RSA keys only; shown as SPKI.") == 1

    r = en.get("/console/developer/platform-key/download?algorithm=RSA2&format=pkcs1")
    assert r.status_code == 200
    assert r.headers["content-disposition"] == (
        'attachment; filename="ccare-platform-rsa2-pkcs1.pem"'
    )
    pem = en.get("/api/v1/platform-key?algorithm=RSA2&format=pkcs1").json()["public_key"]
    assert r.text == pem
    r = en.get("/console/developer/platform-key/download?algorithm=ED25519&format=base64")
    assert r.headers["content-disposition"] == (
        'attachment; filename="ccare-platform-ed25519-base64.txt"'
    )
    assert (
        r.text
        == en.get("/api/v1/platform-key?algorithm=ED25519&format=base64").json()["public_key"]
        + "\n"
    )


def test_explorer_page_prefills_requests_and_keeps_the_key_in_the_browser(
    en: TestClient, world: World
) -> None:
    _owner(en, world)
    empty = en.get("/console/developer/explorer").text
    assert (
        "<p>Create an app and upload its public key first; then sign calls with it here.</p>"
        in empty
    )
    first = _create_app(en)
    second = _create_app(en, name="Second", public_key="")
    page = en.get(f"/console/developer/explorer?app_id={second}").text
    assert '<script src="/static/api_explorer.js" defer></script>' in page
    assert '<div class="explorer-grid" id="explorer" data-api-base="">' in page
    assert re.findall(r'<option value="(\d{16})" data-algorithm="(\w*)"( selected)?>', page) == [
        (first, "RSA2", ""),
        (second, "", " selected"),
    ]
    presets = re.findall(r'<option value="([\w-]+)" data-method="(\w+)" data-path="([^"]+)"', page)
    mp = world.mini_program_id
    assert presets == [
        ("whoami", "GET", "/api/v1/openplatform/whoami"),
        ("apps", "GET", "/api/v1/apps"),
        ("mini-programs", "GET", "/api/v1/mini-programs"),
        ("items", "GET", f"/api/v1/mini-programs/{mp}/items"),
        ("orders", "GET", "/api/v1/orders?limit=10"),
        ("paid-orders", "GET", "/api/v1/orders?status=paid&amp;limit=10"),
        ("add-item", "POST", f"/api/v1/mini-programs/{mp}/items"),
    ]
    # The private key field is not part of any form: it cannot be submitted to the server.
    field = re.search(r"<textarea id=\"ex-private-key\"[^>]*>", page)
    assert field is not None and "name=" not in field.group(0)
    assert "<form" not in page[page.index('id="explorer"') :]
    assert (
        "Your private key stays in this browser: the page signs the request here with "
        "WebCrypto and never sends the key to ccare." in page
    )
    texts = re.search(r'<script type="application/json" id="explorer-texts">(.*?)</script>', page)
    assert texts is not None
    decoded = json.loads(texts.group(1))
    assert (decoded["verified"], decoded["not_verified"]) == (
        "Signature verified",
        "Signature does NOT verify",
    )
    en.cookies.set("ccare_locale", "zh_CN")
    zh = en.get("/console/developer/explorer").text
    texts = re.search(r'<script type="application/json" id="explorer-texts">(.*?)</script>', zh)
    assert texts is not None and json.loads(texts.group(1))["verified"] == "签名验证通过"


# ---------------------------------------------------------------- grants


def test_merchant_authorises_an_isv_app_and_revokes_it(
    en: TestClient, world: World, db: Database
) -> None:
    # The ISV creates its app in its own developer console.
    _isv(en, world)
    isv_home = en.get("/console/developer").text
    assert '<li><a href="/console/isv/apps">App authorizations</a></li>' in isv_home
    assert (
        '<li><a href="/console/developer" aria-current="page" class="active">Developer</a></li>'
        in isv_home
    )
    app_id = _create_app(en, name="Kitchen sync", scopes=["orders"])
    tokens_page = en.get("/console/isv/apps").text
    assert '<p class="empty-state">No merchant has authorized your apps yet.</p>' in tokens_page

    # The merchant sees the grant it gave the ISV and authorises the app.
    _owner(en, world)
    page = en.get("/console/merchant/apps").text
    assert '<h1 class="page-title">Authorized apps</h1>' in page
    assert "<td><strong>Kitchen ISV</strong></td>" in page
    assert '<span class="muted">No token issued yet</span>' in page
    r = en.post("/console/merchant/apps/authorize", data={"app_id": app_id})
    assert r.status_code == 200
    assert (
        '<p class="flash flash-ok" role="status">'
        "App authorized. Hand this code to the service provider.</p>" in r.text
    )
    code = re.search(r'<p class="secret-code" id="app-auth-code">([^<]+)</p>', r.text)
    assert code is not None
    assert f'<span class="muted">App <span class="mono">{app_id}</span></span>' in r.text
    # The grant now has the app's scopes.
    assert re.findall(r'data-scope="(\w+)"', r.text) == ["orders"]

    # The ISV's app exchanges the code (a signed call) for a token.
    api = CcareClient(app_id=app_id, private_key=KEY, http=en)
    token = api.post(
        "/api/v1/app-auth/token", {"grant_type": "authorization_code", "code": code.group(1)}
    )
    assert token["merchant_id"] == world.merchant.merchant_id

    page = en.get("/console/merchant/apps").text
    grant_row = re.search(r'<tr data-grant-id="(\d+)">(.*?)</tr>', page, re.S)
    assert grant_row is not None
    grant_id, row = grant_row.groups()
    assert f'<span class="mono">{app_id}</span> Kitchen sync' in row
    assert '<span class="badge badge-active" data-status="active">Active</span>' in row

    _isv(en, world)
    tokens_page = en.get("/console/isv/apps").text
    section = re.search(
        rf'<section class="panel" data-merchant-id="{world.merchant.merchant_id}">(.*?)</section>',
        tokens_page,
        re.S,
    )
    assert section is not None
    assert "<h2>西湖早餐</h2>" in section.group(1)
    assert f'<a class="mono" href="/console/developer/apps/{app_id}">{app_id}</a>' in section.group(
        1
    )
    assert re.findall(r'data-status="(\w+)"', section.group(1)) == ["active"]

    # The merchant revokes: the ISV's token shows revoked at once.
    _owner(en, world)
    r = en.post(f"/console/merchant/apps/grants/{grant_id}/revoke", follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, "/console/merchant/apps?revoked=1")
    page = en.get(r.headers["location"]).text
    assert '<p class="flash flash-ok" role="status">Authorization revoked.</p>' in page
    row = re.search(rf'<tr data-grant-id="{grant_id}">(.*?)</tr>', page, re.S)
    assert row is not None
    assert re.findall(r'data-status="(\w+)"', row.group(1)) == ["revoked", "revoked"]
    assert f"/console/merchant/apps/grants/{grant_id}/revoke" not in page
    _isv(en, world)
    tokens_page = en.get("/console/isv/apps").text
    assert '<span class="badge badge-revoked" data-status="revoked">Revoked</span>' in tokens_page


def test_authorise_form_errors(en: TestClient, world: World, db: Database) -> None:
    _owner(en, world)
    own_app = _create_app(en)
    r = en.post("/console/merchant/apps/authorize", data={"app_id": own_app})
    assert r.status_code == 404
    assert "No service provider app has this app id." in r.text
    assert f'name="app_id" value="{own_app}"' in r.text
    r = en.post("/console/merchant/apps/authorize", data={"app_id": "12"})
    assert r.status_code == 422
    assert "Please check the values you entered. (App ID)" in r.text

    _isv(en, world)
    isv_app = _create_app(en, scopes=["orders"])
    _owner(en, world)
    r = en.post("/console/merchant/apps/authorize", data={"app_id": isv_app, "scopes": ["ledger"]})
    assert r.status_code == 422
    assert "The app does not ask for one of these scopes." in r.text
    assert 'id="app-auth-code"' not in r.text


# ---------------------------------------------------------------- who may not


def test_a_clerk_may_not_use_the_developer_console(en: TestClient, world: World) -> None:
    client = en
    _isv(client, world)
    isv_app = _create_app(client)
    _switch(client, world.clerk.email, world.clerk.password)
    for path in ("/console/developer", "/console/developer/explorer"):
        r = client.get(path)
        assert r.status_code == 403
        assert "<p>Your role does not allow this; ask an owner or a manager.</p>" in r.text
    r = client.post("/console/developer/apps", data={"name": "x", "scopes": ["orders"]})
    assert r.status_code == 403
    page = client.get("/console/merchant/apps").text
    assert 'href="/console/developer"' not in page
    assert '<li><a href="/console/merchant/apps" aria-current="page" class="active">' in page
    assert 'action="/console/merchant/apps/authorize"' not in page
    assert "/revoke" not in page
    r = client.post("/console/merchant/apps/authorize", data={"app_id": isv_app})
    assert r.status_code == 403
    assert (
        '<p class="flash flash-error" role="alert">'
        "Your role does not allow this; ask an owner or a manager.</p>" in r.text
    )
    assert 'id="app-auth-code"' not in r.text


def test_another_merchant_cannot_see_or_change_an_app(en: TestClient, world: World) -> None:
    _owner(en, world)
    app_id = _create_app(en)
    key_id = _key_rows(en.get(f"/console/developer/apps/{app_id}").text)[0][0]
    grant_id = re.search(r'<tr data-grant-id="(\d+)">', en.get("/console/merchant/apps").text)
    assert grant_id is not None

    _switch(en, world.other.owner_email, world.other.password)
    r = en.get(f"/console/developer/apps/{app_id}")
    assert r.status_code == 404
    assert "<p>Not found.</p>" in r.text
    assert en.post(f"/console/developer/apps/{app_id}/keys/{key_id}/revoke").status_code == 404
    r = en.post(f"/console/merchant/apps/grants/{grant_id.group(1)}/revoke")
    assert r.status_code == 404
    assert app_id not in en.get("/console/developer").text
    assert en.get("/console/merchant/apps").text.count("data-grant-id") == 0

    _owner(en, world)
    assert _key_rows(en.get(f"/console/developer/apps/{app_id}").text) == [(key_id, "active")]
    assert "badge-revoked" not in en.get("/console/merchant/apps").text


def test_operators_isvs_consumers_and_visitors_are_sent_elsewhere(
    client: TestClient, world: World, db: Database
) -> None:
    r = client.get("/console/developer", follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (
        303,
        "/console/login?next=/console/developer",
    )
    r = client.get("/console/merchant/apps", follow_redirects=False)
    assert r.headers["location"] == "/console/login?next=/console/merchant/apps"

    sign_in(client, world.operator.email, world.operator.password)
    r = client.get("/console/developer", follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, "/console/operator")
    r = client.get("/console/isv/apps", follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, "/console/operator")

    client.cookies.clear()
    sign_in(client, world.isv.email, world.isv.password)
    r = client.get("/console/merchant/apps", follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, "/console/isv")
    r = client.post(
        "/console/merchant/apps/authorize",
        data={"app_id": "2000000000000001"},
        follow_redirects=False,
    )
    assert (r.status_code, r.headers["location"]) == (303, "/console/isv")

    # A consumer's session is not a console session.
    client.cookies.clear()
    app_sign_in(client, world.consumer_id)
    token = client.cookies.get("ccare_session", path="/app")
    assert token
    client.cookies.set("ccare_session", token, path="/console")
    r = client.get("/console/developer", follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (
        303,
        "/console/login?next=/console/developer",
    )
