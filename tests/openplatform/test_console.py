"""Developer console pages, key rotation through forms, and the app-authorisation pages."""

from __future__ import annotations

import html
import json
import re
from typing import Any

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
        ("coupons", ""),
        ("profiles", ""),
        ("favorites", ""),
        ("messages", ""),
        ("segments", ""),
        ("campaigns", ""),
        ("dashboard", ""),
        ("promotion", ""),
        ("brand_bookings", ""),
        ("star_points", ""),
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
    # The webhooks product serves the app's notification log.
    assert (
        f'<a href="/console/developer/apps/{app_id}/notifications" role="button" '
        'class="small outline" id="notification-log">Notification log</a>' in detail
    )

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


def test_the_notification_log_link_appears_only_when_its_page_exists(
    en: TestClient, world: World
) -> None:
    _owner(en, world)
    app_id = _create_app(en)
    link = f'href="/console/developer/apps/{app_id}/notifications"'
    assert link in en.get(f"/console/developer/apps/{app_id}").text
    # Without the webhooks product's pages, no link.
    routes = en.app.router.routes  # type: ignore[attr-defined]
    kept = [r for r in routes if not getattr(r, "path", "").endswith("/notifications")]
    assert len(routes) - len(kept) == 1  # the log page
    en.app.router.routes = kept  # type: ignore[attr-defined]
    try:
        page = en.get(f"/console/developer/apps/{app_id}")
        assert page.status_code == 200
        assert link not in page.text and 'id="notification-log"' not in page.text
    finally:
        en.app.router.routes = routes  # type: ignore[attr-defined]


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


# ---------------------------------------------------------------- the sandbox world

SANDBOX_APP_LOCATION = re.compile(r"^/sandbox/console/developer/apps/(9[0-9]{15})\?created=1$")


def _main(page: str) -> str:
    """The page's own content: the console's sidebar and top bar are not the developer's."""
    return page[page.index('<main class="content">') : page.index("</main>")]


def _addresses(page: str) -> list[str]:
    """Every link and form target of the page's content, but the live side of the switch."""
    main = re.sub(r'<a href="[^"]*" data-world="live"', "", _main(page))
    return re.findall(r'(?:href|action)="(/[^"]*)"', main)


def _twin(client: TestClient, email: str, password: str) -> dict[str, Any]:
    from tests.factories import login

    r = client.get("/sandbox/api/v1/sandbox/account", headers=login(client, email, password))
    assert r.status_code == 200, r.text
    account: dict[str, Any] = r.json()
    return account


def test_signing_in_opens_the_live_and_the_sandbox_consoles(
    client: TestClient, world: World, sandbox: Database
) -> None:
    r = client.post(
        "/console/login",
        data={"email": world.merchant.owner_email, "password": world.merchant.password},
        follow_redirects=False,
    )
    cookies = r.headers.get_list("set-cookie")
    token = client.cookies.get("ccare_session", path="/console")
    assert token and client.cookies.get("ccare_session", path="/sandbox/console") == token
    assert [re.search(r"Path=([^;]+)", c).group(1) for c in cookies] == [  # type: ignore[union-attr]
        "/console",
        "/sandbox/console",
    ]
    assert client.get("/sandbox/console/developer").status_code == 200

    r = client.post("/console/logout", follow_redirects=False)
    cleared = r.headers.get_list("set-cookie")
    assert [re.search(r"Path=([^;]+)", c).group(1) for c in cleared] == [  # type: ignore[union-attr]
        "/console",
        "/sandbox/console",
    ]
    assert all('ccare_session=""' in c and "Max-Age=0" in c for c in cleared)
    r = client.get("/sandbox/console/developer", follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (
        303,
        "/console/login?next=/sandbox/console/developer",
    )
    # The consumer app keeps its own cookie path.
    app_sign_in(client, world.consumer_id)
    assert client.cookies.get("ccare_session", path="/app")


def test_the_live_console_switches_to_the_sandbox_on_the_same_tab(
    en: TestClient, world: World, sandbox: Database
) -> None:
    _owner(en, world)
    home = en.get("/console/developer").text
    assert (
        '<div class="world-switch" id="world-switch"><nav class="worlds" aria-label="Live or '
        'sandbox"><a href="/console/developer" data-world="live" class="active" '
        'aria-current="true">Live</a><a href="/sandbox/console/developer" data-world="sandbox">'
        "Sandbox</a></nav></div>" in home
    )
    assert 'id="sandbox-banner"' not in home and 'id="sandbox-account"' not in home
    explorer = en.get("/console/developer/explorer").text
    assert '<a href="/sandbox/console/developer/explorer" data-world="sandbox">' in explorer
    keys = en.get("/sandbox/console/developer/platform-key").text
    assert (
        '<a href="/console/developer/platform-key" data-world="live">Live</a>'
        '<a href="/sandbox/console/developer/platform-key" data-world="sandbox" class="active" '
        'aria-current="true">Sandbox</a>' in keys
    )
    sandbox_key = en.get("/sandbox/api/v1/platform-key?algorithm=RSA2&format=spki").json()
    assert html.escape(sandbox_key["public_key"], quote=False) in keys
    assert (
        'href="/sandbox/api/v1/platform-key?algorithm=RSA2&amp;format=spki" target="_blank"' in keys
    )
    assert all(a.startswith(("/sandbox/", "/static/")) for a in _addresses(keys))


def test_a_merchant_developer_works_in_the_sandbox_as_its_twin(
    en: TestClient, world: World, db: Database, sandbox: Database
) -> None:
    _owner(en, world)
    page = en.get("/sandbox/console/developer")
    assert page.status_code == 200
    text = page.text
    twin = _twin(en, world.merchant.owner_email, world.merchant.password)
    assert (
        '<p class="sandbox-banner" id="sandbox-banner" role="note"><strong>SANDBOX — test money'
        "</strong>" in text
    )
    assert (
        '<a href="/sandbox/console/developer" class="active" aria-current="page">Apps</a>' in text
    )
    assert '<a href="/sandbox/api/docs" target="_blank" rel="noopener">API docs ↗</a>' in text
    assert '<form method="post" action="/sandbox/console/developer/apps">' in text
    assert f'<span class="mono" id="sandbox-merchant-id">{twin["merchant_id"]}</span>' in text
    assert f'<span class="mono" id="sandbox-mini-program-id">{twin["mini_program_id"]}</span>' in (
        text
    )
    assert f'seller_id <span class="mono">{service.merchant_pid(twin["merchant_id"])}' in text
    buyers = re.findall(
        r'<tr data-consumer-id="(\d+)">\s*<td>(.*?)</td>\s*<td class="mono">\d+</td>\s*'
        r'<td class="mono">(\d+)</td>\s*<td>(.*?)</td>',
        text,
    )
    assert buyers == [
        (str(b["consumer_id"]), f"Buyer {n}", b["buyer_id"], "¥10,000.00")
        for n, b in enumerate(twin["buyers"], start=1)
    ]
    assert 'id="sandbox-authorize"' not in text  # merchants authorise nothing here
    assert all(a.startswith(("/sandbox/", "/static/")) for a in _addresses(text))

    # Creating an app through the form makes a sandbox app, in the sandbox database.
    data = {
        "name": "Till (sandbox)",
        "scopes": ["catalog", "orders"],
        "public_key": export_public_key(KEY.public_key(), "spki"),
        "idempotency_key": _form_key(text),
    }
    r = en.post("/sandbox/console/developer/apps", data=data, follow_redirects=False)
    assert r.status_code == 303, r.text
    match = SANDBOX_APP_LOCATION.match(r.headers["location"])
    assert match is not None, r.headers["location"]
    app_id = match.group(1)
    assert _app_rows(sandbox) == [(app_id, "Till (sandbox)", ["catalog", "orders"], None)]
    assert _app_rows(db) == []

    detail = en.get(r.headers["location"]).text
    assert '<dt>Mode</dt><dd><span class="badge badge-sandbox" data-status="sandbox">' in detail
    assert f'href="/sandbox/console/developer/explorer?app_id={app_id}"' in detail
    assert f'<a href="/sandbox/console/developer/apps/{app_id}/notifications"' in detail
    assert f'action="/sandbox/console/developer/apps/{app_id}/keys"' in detail
    assert all(a.startswith(("/sandbox/", "/static/")) for a in _addresses(detail))
    # An app of one world does not exist in the other.
    assert en.get(f"/console/developer/apps/{app_id}").status_code == 404

    log = en.get(f"/sandbox/console/developer/apps/{app_id}/notifications").text
    assert f'action="/sandbox/console/developer/apps/{app_id}/notifications/webhooks"' in log
    assert all(a.startswith(("/sandbox/", "/static/")) for a in _addresses(log))

    explorer = en.get(f"/sandbox/console/developer/explorer?app_id={app_id}").text
    assert '<div class="explorer-grid" id="explorer" data-api-base="/sandbox">' in explorer
    assert f'data-path="/api/v1/mini-programs/{twin["mini_program_id"]}/items"' in explorer
    # The app signs calls at the sandbox address.
    api = CcareClient(app_id=app_id, private_key=KEY, path_prefix="/sandbox", http=en)
    assert api.whoami()["merchant_id"] == twin["merchant_id"]


def test_an_isv_developer_authorises_its_sandbox_app_from_the_console(
    en: TestClient, world: World, sandbox: Database
) -> None:
    _isv(en, world)
    page = en.get("/sandbox/console/developer").text
    twin = _twin(en, world.isv.email, world.isv.password)
    assert f'<span class="mono" id="sandbox-isv-id">{twin["isv_id"]}</span>' in page
    assert '<p class="muted">Create a sandbox app first.</p>' in page

    data = {
        "name": "Kitchen sync (sandbox)",
        "scopes": ["orders"],
        "public_key": export_public_key(KEY.public_key(), "spki"),
        "idempotency_key": _form_key(page),
    }
    r = en.post("/sandbox/console/developer/apps", data=data, follow_redirects=False)
    match = SANDBOX_APP_LOCATION.match(r.headers["location"])
    assert match is not None
    app_id = match.group(1)
    page = en.get("/sandbox/console/developer").text
    assert '<form method="post" action="/sandbox/console/developer/sandbox/authorize"' in page
    assert f'<option value="{app_id}">{app_id} · Kitchen sync (sandbox)</option>' in page

    r = en.post("/sandbox/console/developer/sandbox/authorize", data={"app_id": app_id})
    assert r.status_code == 200
    assert (
        '<p class="flash flash-ok" role="status">'
        "App authorized for your sandbox merchant. Exchange this code for a token.</p>" in r.text
    )
    code = re.search(r'<p class="secret-code" id="app-auth-code">([^<]+)</p>', r.text)
    assert code is not None
    api = CcareClient(app_id=app_id, private_key=KEY, path_prefix="/sandbox", http=en)
    token = api.post(
        "/api/v1/app-auth/token", {"grant_type": "authorization_code", "code": code.group(1)}
    )
    assert token["merchant_id"] == twin["merchant_id"]
    assert api.acting_for(token["app_auth_token"]).whoami()["merchant_id"] == twin["merchant_id"]

    r = en.post("/sandbox/console/developer/sandbox/authorize", data={"app_id": "12"})
    assert r.status_code == 422
    assert "Please check the values you entered. (App ID)" in r.text
    # Only in the sandbox.
    assert (
        en.post("/console/developer/sandbox/authorize", data={"app_id": app_id}).status_code == 404
    )


def test_a_merchant_developer_cannot_use_the_isv_shortcut(
    en: TestClient, world: World, sandbox: Database
) -> None:
    _owner(en, world)
    page = en.get("/sandbox/console/developer").text
    r = en.post("/sandbox/console/developer/sandbox/authorize", data={"app_id": "9000000000000001"})
    assert r.status_code == 403
    assert "Only service providers&#39; developers authorize apps this way." in r.text
    assert 'id="sandbox-account"' in page and 'id="app-auth-code"' not in r.text
