"""The merchant's star-points page with exact figures in English and Chinese: balance,
rule table with today's counts, the per-day chart and its table, ledger, grants, and the
redeem form by HTMX and by a plain POST (its errors in the page)."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from html import unescape
from typing import Any

from fastapi.testclient import TestClient

from ccare.core.time import local_date, utcnow
from tests.star_points.conftest import Shop
from tests.web.conftest import sign_in

PAGE = "/console/merchant/star-points"
REDEEM = PAGE + "/redemptions"
KEY = re.compile(r'name="out_request_no" value="([0-9a-f]{32})"')
HTMX = {"HX-Request": "true"}


def earn(shop: Shop) -> None:
    """Yesterday one own-channel visitor; today two own-channel visitors (one returning)
    and a new favorite: 300 yesterday, 300 + 300 + 30 + 100 = 730 today."""
    now = utcnow()
    a, b, c = shop.people[:3]
    shop.visit(a, "offline_qr", now - timedelta(days=1))
    shop.visit(a, "message", now)
    shop.visit(b, "fan_group", now)
    shop.visit(c, "search", now)
    shop.favorite(c, now)


def cell(page: str, attr: str, rule: str) -> str:
    row = re.search(rf'<tr data-rule="{rule}">(.*?)</tr>', page, re.S)
    assert row, rule
    found = re.search(rf"<td class=\"num\" {attr}>([^<]*)</td>", row.group(1))
    assert found, (rule, attr)
    return found.group(1)


def chart(page: str) -> Any:
    found = re.search(r'data-chart="([^"]*)"', page)
    assert found
    return json.loads(unescape(found.group(1)))


def test_the_page_shows_balance_rules_chart_and_ledger_in_english(
    en: TestClient, shop: Shop
) -> None:
    earn(shop)
    sign_in(en, shop.merchant.owner_email, shop.merchant.password)

    page = en.get(PAGE).text

    assert '<p class="value" id="points-balance">1,030</p>' in page
    assert "= 1,030 free impressions" in page
    assert '<p class="value" id="points-earned">1,030</p>' in page
    assert (
        "1 visitor you bring in (UV) = 300 free impressions (PV). One point is one free"
        " impression of your ads." in page
    )
    own = "Your own channels: Fan group, Favorites, Live room, Message, Offline QR code, Share"
    assert own in page
    assert [
        cell(page, a, "own_channel_visitor") for a in ("data-points", "data-cap", "data-today")
    ] == [
        "300",
        "3,000",
        "2",
    ]
    assert [cell(page, a, "repeat_visit") for a in ("data-points", "data-cap", "data-today")] == [
        "30",
        "5,000",
        "1",
    ]
    assert cell(page, "data-today", "new_favorite") == "1"
    data = chart(page)
    assert len(data["labels"]) == 30
    today, yesterday = local_date(utcnow()), local_date(utcnow()) - timedelta(days=1)
    assert data["labels"][-1] == today.strftime("%m-%d")
    assert [(d["label"], d["data"][-2:], sum(d["data"])) for d in data["datasets"]] == [
        ("Visitor from your own channels", [300, 600], 900),
        ("Repeat visit", [0, 30], 30),
        ("New favorite", [0, 100], 100),
    ]
    row = re.search(rf'<tr data-day="{today.isoformat()}">(.*?)</tr>', page).group(1)  # type: ignore[union-attr]
    assert re.findall(r'<td class="num">([^<]*)</td>', row) == ["600", "30", "100", "730"]
    row = re.search(rf'<tr data-day="{yesterday.isoformat()}">(.*?)</tr>', page).group(1)  # type: ignore[union-attr]
    assert re.findall(r'<td class="num">([^<]*)</td>', row) == ["300", "0", "0", "300"]
    ledger = re.findall(r'<td class="num" data-points>([^<]*)</td>', page)
    assert ledger[-5:] == ["+100", "+300", "+30", "+300", "+300"]
    assert "Nothing redeemed yet." in page
    assert '<option value="' + str(shop.group_id) + '">Morning plan / Morning</option>' in page


def test_redeeming_by_htmx_updates_balance_and_grants_in_place(en: TestClient, shop: Shop) -> None:
    earn(shop)
    sign_in(en, shop.merchant.owner_email, shop.merchant.password)
    key = KEY.search(en.get(PAGE).text).group(1)  # type: ignore[union-attr]
    body = {"ad_group_id": str(shop.group_id), "points": "1000", "out_request_no": key}

    r = en.post(REDEEM, data=body, headers=HTMX)
    again = en.post(REDEEM, data=body, headers=HTMX)  # a double click: one grant

    assert r.status_code == 200, r.text
    assert "✓ Redeemed: the free impressions are now serving." in r.text
    assert '<section class="panel" id="balance" hx-swap-oob="true">' in r.text
    assert '<p class="value" id="points-balance">30</p>' in r.text
    assert '<p class="value" id="points-redeemed">1,000</p>' in r.text
    assert "<span data-progress>0 / 1,000</span>" in r.text
    assert '<span class="badge badge-active" data-status="active">Serving</span>' in r.text
    assert again.status_code == 200
    assert shop.balance() == 30
    page = en.get(PAGE).text
    assert len(re.findall(r"<tr data-grant=", page)) == 1
    assert "<td>Morning plan / Morning</td>" in page
    assert re.findall(r'<td class="num negative" data-points>([^<]*)</td>', page) == ["-1,000"]


def test_a_refused_redemption_shows_why_and_changes_nothing(en: TestClient, shop: Shop) -> None:
    earn(shop)
    sign_in(en, shop.merchant.owner_email, shop.merchant.password)
    body = {"ad_group_id": str(shop.group_id), "points": "1031", "out_request_no": "k" * 32}

    r = en.post(REDEEM, data=body, headers=HTMX)
    bad = en.post(REDEEM, data={**body, "points": "0"}, headers=HTMX)
    theirs = en.post(REDEEM, data={**body, "ad_group_id": str(shop.other_group_id)})

    assert r.status_code == 409
    assert (
        '<p class="flash-error" role="alert" id="redeem-error">'
        "Not enough points for this redemption.</p>" in r.text
    )
    assert 'value="1031"' in r.text
    assert "hx-swap-oob" not in r.text
    assert bad.status_code == 422
    assert "Redeem between 1 and 1,000,000 points." in bad.text
    assert theirs.status_code == 404  # a plain POST: the whole page, with the error
    assert "Choose one of your ad groups." in theirs.text
    assert '<p class="value" id="points-balance">1,030</p>' in theirs.text
    assert shop.balance() == 1_030


def test_a_plain_post_redeems_and_comes_back_to_the_page(en: TestClient, shop: Shop) -> None:
    earn(shop)
    sign_in(en, shop.merchant.owner_email, shop.merchant.password)
    body = {"ad_group_id": str(shop.group_id), "points": "300", "out_request_no": "p" * 32}

    r = en.post(REDEEM, data=body, follow_redirects=False)

    assert r.status_code == 303
    assert r.headers["location"].startswith(PAGE + "?redeemed=")
    page = en.get(r.headers["location"]).text
    assert "✓ Redeemed: the free impressions are now serving." in page
    assert '<p class="value" id="points-balance">730</p>' in page


def test_a_clerk_sees_the_points_but_no_redeem_form(en: TestClient, shop: Shop) -> None:
    from tests import factories as f

    clerk = f.make_staff(shop.db, shop.merchant_id, role="clerk")
    earn(shop)
    sign_in(en, clerk.email, clerk.password)
    page = en.get(PAGE).text
    assert '<p class="value" id="points-balance">1,030</p>' in page
    assert 'id="redeem"' not in page


def test_the_page_in_chinese_has_the_same_figures(client: TestClient, shop: Shop) -> None:
    earn(shop)
    sign_in(client, shop.merchant.owner_email, shop.merchant.password)

    page = client.get(PAGE).text

    assert '<html lang="zh-CN"' in page
    assert '<p class="value" id="points-balance">1,030</p>' in page
    assert "粉丝群, 收藏, 直播间, 消息推送, 线下二维码" in page
    assert cell(page, "data-cap", "own_channel_visitor") == "3,000"
    assert cell(page, "data-today", "own_channel_visitor") == "2"
    assert "<td>推广单元" not in page and "推广单元" in page  # the form's label
