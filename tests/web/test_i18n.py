"""Catalogs cover every text of the templates and pages; locale negotiation."""

from __future__ import annotations

import re

import pytest
from babel.messages.pofile import read_po
from fastapi.testclient import TestClient

from ccare.web import i18n
from ccare.web.templating import env

PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def _catalog(locale: str):  # type: ignore[no-untyped-def]
    with i18n.catalog_path(locale).open("rb") as fp:
        return read_po(fp, locale=locale)


def _ids(message_id: str | tuple[str, ...]) -> str:
    return message_id if isinstance(message_id, str) else message_id[0]


@pytest.fixture(scope="module")
def used() -> dict[str, object]:
    extracted = i18n.extract()
    ids = {_ids(m.id): m.id for m in extracted if m.id}
    assert len(ids) > 200  # templates and pages were found
    return ids


@pytest.mark.parametrize("locale", i18n.LOCALES)
def test_catalog_has_every_message(locale: str, used: dict[str, object]) -> None:
    catalog = _catalog(locale)
    present = {_ids(m.id) for m in catalog if m.id}
    missing = sorted(set(used) - present)
    assert missing == [], f"run `python -m ccare.web.i18n` and translate: {missing}"


def test_zh_cn_translates_everything_with_the_same_placeholders(used: dict[str, object]) -> None:
    catalog = _catalog("zh_CN")
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        assert all(strings), f"untranslated: {message.id!r}"
        assert not message.fuzzy, f"fuzzy: {message.id!r}"
        source = message.id if isinstance(message.id, str) else message.id[1]
        for s in strings:
            assert set(PLACEHOLDER.findall(s)) == set(PLACEHOLDER.findall(source)), message.id


def test_every_template_compiles() -> None:
    names = [n for n in env.list_templates() if n.endswith(".html")]
    assert len(names) > 20
    for name in names:
        env.get_template(name)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("zh_CN", "zh_CN"),
        ("zh-cn", "zh_CN"),
        ("zh-Hans-CN", "zh_CN"),
        ("zh-TW", "zh_CN"),
        ("en", "en"),
        ("en-US", "en"),
        ("en_GB", "en"),
        ("fr", None),
        ("", None),
        ("??", None),
    ],
)
def test_normalize(code: str, expected: str | None) -> None:
    assert i18n.normalize(code) == expected


def test_accept_language_respects_quality() -> None:
    assert i18n.from_accept_language("fr-FR,fr;q=0.9,en;q=0.8,zh-CN;q=0.7") == "en"
    assert i18n.from_accept_language("zh-CN,zh;q=0.9,en;q=0.8") == "zh_CN"
    assert i18n.from_accept_language("en;q=0.5, zh;q=0.6") == "zh_CN"
    assert i18n.from_accept_language("de, *") is None


def test_locale_comes_from_cookie_then_header_then_default(client: TestClient) -> None:
    assert "登录工作台" in client.get("/console/login").text  # default zh_CN
    english = client.get("/console/login", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert "<h1>Sign in to the console</h1>" in english.text
    assert 'lang="en"' in english.text
    client.cookies.set("ccare_locale", "zh_CN")
    chinese = client.get("/console/login", headers={"Accept-Language": "en-US"})
    assert "<h1>登录工作台</h1>" in chinese.text
    assert 'lang="zh-CN"' in chinese.text


def test_switch_link_sets_cookie_and_goes_back(client: TestClient) -> None:
    r = client.get("/locale/en?next=/console/login", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/console/login"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("ccare_locale=en;")
    assert "Path=/" in cookie and "SameSite=lax" in cookie
    assert "<h1>Sign in to the console</h1>" in client.get("/console/login").text
    # Unknown codes fall back to the default; foreign sites are not followed.
    r = client.get("/locale/xx?next=//evil.example/", follow_redirects=False)
    assert r.headers["location"] == "/"
    assert r.headers["set-cookie"].startswith("ccare_locale=zh_CN;")
    r = client.get(
        "/locale/en", headers={"Referer": "http://testserver/app/wallet"}, follow_redirects=False
    )
    assert r.headers["location"] == "/app/wallet"
