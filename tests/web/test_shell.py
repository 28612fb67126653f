"""Console sign-in, sign-out, role homes and redirects of signed-out visitors."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.web.conftest import World, app_sign_in, sign_in


@pytest.mark.parametrize(
    "path",
    [
        "/console",
        "/console/merchant",
        "/console/merchant/orders",
        "/console/merchant/orders/1",
        "/console/merchant/catalog",
        "/console/merchant/stores",
        "/console/merchant/staff",
        "/console/operator/merchants",
        "/console/operator/consumers",
        "/console/operator/isvs",
        "/console/operator/ledger",
        "/console/isv",
        "/console/isv/orders",
    ],
)
def test_signed_out_console_pages_redirect_to_login(client: TestClient, path: str) -> None:
    r = client.get(path, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == f"/console/login?next={path}"


@pytest.mark.parametrize(
    "path", ["/app", "/app/mp/1", "/app/orders", "/app/orders/1", "/app/wallet"]
)
def test_signed_out_app_pages_redirect_to_app_login(client: TestClient, path: str) -> None:
    r = client.get(path, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == f"/app/login?next={path}"


def test_login_page_in_both_locales(client: TestClient) -> None:
    zh = client.get("/console/login")
    assert zh.status_code == 200
    assert "<h1>登录工作台</h1>" in zh.text
    assert '<button type="submit">登录</button>' in zh.text
    assert '<strong aria-current="true">中文</strong>' in zh.text
    client.cookies.set("ccare_locale", "en")
    en = client.get("/console/login")
    assert "<h1>Sign in to the console</h1>" in en.text
    assert '<button type="submit">Sign in</button>' in en.text
    assert '<strong aria-current="true">English</strong>' in en.text
    assert "/assets/htmx.org/dist/htmx.min.js" in en.text
    assert "/assets/@picocss/pico/css/pico.min.css" in en.text


def test_wrong_password_shows_the_error(client: TestClient, world: World) -> None:
    data = {"email": world.merchant.owner_email, "password": "not-the-password"}
    r = client.post("/console/login", data=data, follow_redirects=False)
    assert r.status_code == 401
    assert '<p class="flash flash-error" role="alert">邮箱或密码错误。</p>' in r.text
    assert f'value="{world.merchant.owner_email}"' in r.text
    assert "set-cookie" not in r.headers
    client.cookies.set("ccare_locale", "en")
    r = client.post("/console/login", data={"email": "nobody@x.test", "password": "x"})
    assert r.status_code == 401
    assert '<p class="flash flash-error" role="alert">Wrong email or password.</p>' in r.text
    r = client.post("/console/login", data={"email": "", "password": ""})
    assert r.status_code == 401
    assert "Enter your email and password." in r.text


def test_login_sets_an_http_only_lax_cookie_and_goes_home(client: TestClient, world: World) -> None:
    data = {"email": world.merchant.owner_email, "password": world.merchant.password}
    r = client.post("/console/login", data=data, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/console/merchant"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("ccare_session=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/console" in cookie
    assert client.get("/console", follow_redirects=False).headers["location"] == "/console/merchant"
    # The login page of a signed-in user goes home.
    assert (
        client.get("/console/login", follow_redirects=False).headers["location"]
        == "/console/merchant"
    )


def test_login_follows_next_but_only_within_the_site(client: TestClient, world: World) -> None:
    creds = {"email": world.merchant.owner_email, "password": world.merchant.password}
    r = client.post(
        "/console/login", data={**creds, "next": "/console/merchant/orders"}, follow_redirects=False
    )
    assert r.headers["location"] == "/console/merchant/orders"
    r = client.post(
        "/console/login", data={**creds, "next": "https://evil.example/"}, follow_redirects=False
    )
    assert r.headers["location"] == "/console/merchant"


@pytest.mark.parametrize(
    ("who", "home"),
    [("operator", "/console/operator"), ("isv", "/console/isv"), ("merchant", "/console/merchant")],
)
def test_each_role_has_its_home_and_is_kept_out_of_others(
    client: TestClient, world: World, who: str, home: str
) -> None:
    creds = {
        "operator": (world.operator.email, world.operator.password),
        "isv": (world.isv.email, world.isv.password),
        "merchant": (world.merchant.owner_email, world.merchant.password),
    }[who]
    sign_in(client, *creds)
    assert client.get("/console", follow_redirects=False).headers["location"] == home
    for other in ("/console/merchant/orders", "/console/operator/ledger", "/console/isv/orders"):
        if not other.startswith(home):
            r = client.get(other, follow_redirects=False)
            assert (r.status_code, r.headers["location"]) == (303, home)


def test_logout_ends_the_session(client: TestClient, world: World) -> None:
    sign_in(client, world.merchant.owner_email, world.merchant.password)
    assert client.get("/console/merchant").status_code == 200
    r = client.get("/console/logout", follow_redirects=False)
    assert r.headers["location"] == "/console/login"
    r = client.get("/console/merchant", follow_redirects=False)
    assert r.headers["location"] == "/console/login?next=/console/merchant"


def test_a_consumer_session_does_not_open_the_console(client: TestClient, world: World) -> None:
    app_sign_in(client, world.consumer_id)
    assert client.get("/app").status_code == 200
    r = client.get("/console/merchant", follow_redirects=False)
    assert r.headers["location"] == "/console/login?next=/console/merchant"


def test_layout_shows_navigation_and_the_current_user(client: TestClient, world: World) -> None:
    sign_in(client, world.merchant.owner_email, world.merchant.password)
    zh = client.get("/console/merchant/stores").text
    assert '<a href="/console/merchant/stores" aria-current="page" class="active">门店</a>' in zh
    assert '<a href="/console/merchant/orders">订单</a>' in zh
    assert "西湖早餐 owner · 店主" in zh
    client.cookies.set("ccare_locale", "en")
    en = client.get("/console/merchant/stores").text
    assert '<a href="/console/merchant/stores" aria-current="page" class="active">Stores</a>' in en
    assert "西湖早餐 owner · Owner" in en
    assert ">Sign out</a>" in en


def test_a_broken_locale_cookie_is_ignored(client: TestClient) -> None:
    client.cookies.set("ccare_locale", "zz-??")
    r = client.get("/console/login")
    assert r.status_code == 200
    assert "<h1>登录工作台</h1>" in r.text


@pytest.mark.parametrize(
    "path",
    [
        "/console/merchant/orders/99999999999999999999",
        "/app/orders/99999999999999999999",
        "/app/mp/0",
        "/console/merchant/orders/-1",
    ],
)
def test_out_of_range_ids_are_rejected_not_crashing(
    client: TestClient, world: World, path: str
) -> None:
    sign_in(client, world.merchant.owner_email, world.merchant.password)
    app_sign_in(client, world.consumer_id)
    assert client.get(path).status_code == 422
