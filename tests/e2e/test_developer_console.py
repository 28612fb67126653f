"""A merchant owner creates apps in the developer console and signs calls in the API explorer.

The browser signs with WebCrypto (RSASSA-PKCS1-v1_5 SHA-256 and Ed25519) and verifies the
response's `ccare-signature` against the platform key; the server checks the request.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from ccare.core.signing import (
    PrivateKey,
    SignAlgorithm,
    export_private_key,
    export_public_key,
    generate_private_key,
)
from tests import factories as f
from tests.e2e.conftest import LiveServer

pytestmark = pytest.mark.browser

SHOTS = Path(os.environ.get("CCARE_E2E_SCREENSHOTS", "/tmp/ccare-e2e"))


def _create_app(page: Page, base: str, name: str, key: PrivateKey) -> str:
    page.goto(f"{base}/console/developer")
    form = page.locator("#create-app form")
    form.locator("input[name=name]").fill(name)
    form.locator("textarea[name=public_key]").fill(export_public_key(key.public_key(), "spki"))
    form.locator("button[type=submit]").click()
    page.wait_for_url(f"{base}/console/developer/apps/*?created=1")
    app_id = page.locator("#app-id").inner_text().strip()
    assert len(app_id) == 16 and app_id.startswith("2")
    return app_id


def _send(page: Page, private_key: str, preset: str | None = None) -> None:
    if preset is not None:
        page.locator("#ex-preset").select_option(preset)
    page.locator("#ex-private-key").fill(private_key)
    page.locator("#ex-send").click()
    expect(page.locator("#ex-send")).to_be_enabled()


def test_owner_creates_apps_and_signs_calls_in_the_explorer(
    live_server: LiveServer, browser: Browser
) -> None:
    db = live_server.runtime.db
    merchant = f.make_merchant(db, name="西湖早餐", owner_email="owner@breakfast.test")
    mini_program = f.make_mini_program(db, merchant.merchant_id, name="西湖早餐铺")
    f.make_item(db, merchant.merchant_id, mini_program, name="葱油拌面", price_fen=1200)
    base = live_server.url
    SHOTS.mkdir(parents=True, exist_ok=True)
    rsa_key = generate_private_key(SignAlgorithm.RSA2)
    ed_key = generate_private_key(SignAlgorithm.ED25519)

    # --- in English: an RSA app, a signed whoami
    context = browser.new_context(locale="en-US", viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    page.goto(f"{base}/console/developer")
    page.wait_for_url("**/console/login?next=**")
    page.get_by_label("Email").fill(merchant.owner_email)
    page.get_by_label("Password").fill(merchant.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/console/developer")
    expect(page.locator("h1.page-title")).to_have_text("Developer console")

    rsa_app = _create_app(page, base, "Till integration", rsa_key)
    expect(page.get_by_role("status")).to_have_text(
        "App created. Sign your calls with its private key."
    )
    expect(page.locator("#keys tbody tr[data-state=active] td").nth(0)).to_have_text("RSA2")

    page.get_by_role("button", name="Try it in the API explorer").click()
    page.wait_for_url(f"{base}/console/developer/explorer?app_id={rsa_app}")
    expect(page.locator("#ex-app-id")).to_have_value(rsa_app)
    expect(page.locator("#ex-path")).to_have_value("/api/v1/openplatform/whoami")
    expect(page.locator("#private-key-note")).to_contain_text("never sends the key to ccare")
    _send(page, export_private_key(rsa_key, "pkcs8"))
    expect(page.locator("#ex-status")).to_have_text("200")
    expect(page.locator("#ex-verify")).to_have_text("Signature verified (RSA2)")
    expect(page.locator("#ex-verify")).to_have_attribute("data-verified", "true")
    body = json.loads(page.locator("#ex-response").inner_text())
    assert body == {
        "app_id": rsa_app,
        "kind": "app",
        "merchant_id": merchant.merchant_id,
        "scopes": ["catalog", "orders"],
    }
    signed_text = page.locator("#ex-signed-text").text_content() or ""
    assert signed_text.startswith(f"app_id={rsa_app},nonce=")
    assert signed_text.endswith("\nGET\n/api/v1/openplatform/whoami\n\n")
    assert (page.locator("#ex-authorization").text_content() or "").startswith(
        f"Authorization: CCARE-SHA256withRSA app_id={rsa_app},nonce="
    )
    page.screenshot(path=str(SHOTS / "developer-explorer.png"), full_page=True)

    # The same key as PKCS#1 signs too; a query string is part of the signed text.
    _send(page, export_private_key(rsa_key, "pkcs1"), preset="paid-orders")
    expect(page.locator("#ex-status")).to_have_text("200")
    expect(page.locator("#ex-verify")).to_have_text("Signature verified (RSA2)")
    assert json.loads(page.locator("#ex-response").inner_text()) == {
        "items": [],
        "limit": 10,
        "offset": 0,
    }

    # Another key is refused by the server; the error is not a signed response.
    _send(page, export_private_key(generate_private_key(SignAlgorithm.RSA2), "pkcs8"), "whoami")
    expect(page.locator("#ex-status")).to_have_text("401")
    expect(page.locator("#ex-verify")).to_have_text(
        "The response is not signed (the call was not verified)."
    )
    assert json.loads(page.locator("#ex-response").inner_text())["code"] == "signature.invalid"
    context.close()

    # --- in Chinese: an Ed25519 app reads the mini-program's items
    context = browser.new_context(locale="zh-CN", viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    page.goto(f"{base}/console/login")
    page.get_by_label("邮箱").fill(merchant.owner_email)
    page.get_by_label("密码").fill(merchant.password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{base}/console/merchant")
    page.get_by_role("link", name="开发者").click()
    page.wait_for_url(f"{base}/console/developer")
    ed_app = _create_app(page, base, "Ed25519 app", ed_key)
    expect(page.locator("#keys tbody tr[data-state=active] td").nth(0)).to_have_text("ED25519")
    page.goto(f"{base}/console/developer/explorer?app_id={ed_app}")
    expect(page.locator("#ex-app-id")).to_have_value(ed_app)
    page.locator("#ex-preset").select_option("items")
    expect(page.locator("#ex-path")).to_have_value(f"/api/v1/mini-programs/{mini_program}/items")
    _send(page, export_private_key(ed_key, "pkcs8"))
    expect(page.locator("#ex-status")).to_have_text("200")
    expect(page.locator("#ex-verify")).to_have_text("签名验证通过 (ED25519)")
    items = json.loads(page.locator("#ex-response").inner_text())
    assert [(i["name"], i["price_fen"]) for i in items] == [("葱油拌面", 1200)]
    assert (page.locator("#ex-authorization").text_content() or "").startswith(
        f"Authorization: CCARE-ED25519 app_id={ed_app},nonce="
    )
    page.screenshot(path=str(SHOTS / "developer-explorer-ed25519.png"), full_page=True)

    # The apps list shows both apps with their key fingerprints.
    page.goto(f"{base}/console/developer")
    expect(page.locator("#apps tbody tr")).to_have_count(2)
    expect(page.locator(f"#apps tr[data-app-id='{ed_app}'] .fingerprints li")).to_contain_text(
        "ED25519"
    )
    page.screenshot(path=str(SHOTS / "developer-apps.png"), full_page=True)
    context.close()


def test_a_developer_switches_to_the_sandbox_and_signs_calls_there(
    live_server: LiveServer, browser: Browser
) -> None:
    merchant = f.make_merchant(live_server.runtime.db, name="西湖早餐", owner_email="dev@b.test")
    base = live_server.url
    SHOTS.mkdir(parents=True, exist_ok=True)
    key = generate_private_key(SignAlgorithm.RSA2)

    context = browser.new_context(locale="en-US", viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    page.goto(f"{base}/console/login?next=/console/developer")
    page.get_by_label("Email").fill(merchant.owner_email)
    page.get_by_label("Password").fill(merchant.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/console/developer")
    expect(page.locator("#world-switch a.active")).to_have_text("Live")
    expect(page.locator("#sandbox-banner")).to_have_count(0)

    # The switch: the same console on the sandbox database, as the twin merchant.
    page.locator("#world-switch").get_by_role("link", name="Sandbox").click()
    page.wait_for_url(f"{base}/sandbox/console/developer")
    expect(page.locator("#world-switch a.active")).to_have_text("Sandbox")
    expect(page.locator("#sandbox-banner strong")).to_have_text("SANDBOX — test money")
    expect(page.locator("#sandbox-buyers tbody tr")).to_have_count(3)
    expect(page.locator("#sandbox-buyers tbody tr td:last-child")).to_have_text(["¥10,000.00"] * 3)
    twin_merchant = int(page.locator("#sandbox-merchant-id").inner_text())
    mini_program = page.locator("#sandbox-mini-program-id").inner_text().strip()
    page.screenshot(path=str(SHOTS / "developer-sandbox-home.png"), full_page=True)

    form = page.locator("#create-app form")
    form.locator("input[name=name]").fill("Till (sandbox)")
    form.locator("textarea[name=public_key]").fill(export_public_key(key.public_key(), "spki"))
    form.locator("button[type=submit]").click()
    page.wait_for_url(f"{base}/sandbox/console/developer/apps/*?created=1")
    app_id = page.locator("#app-id").inner_text().strip()
    assert len(app_id) == 16 and app_id.startswith("9")
    expect(page.locator(".facts [data-status=sandbox]")).to_have_text("Sandbox")

    page.get_by_role("button", name="Try it in the API explorer").click()
    page.wait_for_url(f"{base}/sandbox/console/developer/explorer?app_id={app_id}")
    expect(page.locator("#ex-path")).to_have_value("/api/v1/openplatform/whoami")
    _send(page, export_private_key(key, "pkcs8"))
    expect(page.locator("#ex-status")).to_have_text("200")
    expect(page.locator("#ex-verify")).to_have_text("Signature verified (RSA2)")
    assert json.loads(page.locator("#ex-response").inner_text()) == {
        "app_id": app_id,
        "kind": "app",
        "merchant_id": twin_merchant,
        "scopes": ["catalog", "orders"],
    }
    # The browser signed the path it called: the sandbox's.
    signed_text = page.locator("#ex-signed-text").text_content() or ""
    assert signed_text.endswith("\nGET\n/sandbox/api/v1/openplatform/whoami\n\n")
    page.screenshot(path=str(SHOTS / "developer-sandbox-explorer.png"), full_page=True)

    # The twin's goods, read with the sandbox app.
    _send(page, export_private_key(key, "pkcs8"), preset="items")
    expect(page.locator("#ex-status")).to_have_text("200")
    expect(page.locator("#ex-verify")).to_have_text("Signature verified (RSA2)")
    assert page.locator("#ex-path").input_value() == f"/api/v1/mini-programs/{mini_program}/items"
    items = json.loads(page.locator("#ex-response").inner_text())
    assert [(i["name"], i["price_fen"]) for i in items] == [
        ("Sandbox latte", 1_800),
        ("Sandbox bagel", 1_200),
        ("Sandbox gift card", 10_000),
    ]

    # Back to live: the sandbox app is not there.
    page.locator("#world-switch").get_by_role("link", name="Live").click()
    page.wait_for_url(f"{base}/console/developer/explorer")
    expect(page.locator("#sandbox-banner")).to_have_count(0)
    expect(page.locator(f"#ex-app-id option[value='{app_id}']")).to_have_count(0)
    context.close()
