"""The anti-cheating filter in the merchant console: the strictness form and the published
rules on the coupon list, the risk section (totals, budget kept, chart, blocked claims with
their reasons) on an activity's page."""

from __future__ import annotations

import html
import json
import re

import pytest
from fastapi.testclient import TestClient

from ccare.core.db import Database
from ccare.coupons.antifraud import RULES
from ccare.coupons.console_filter import RULE_NAMES, RULE_SUMMARIES
from tests import factories as f
from tests.coupons.test_pages import COUPONS, create, owner
from tests.web.conftest import World, make_world, sign_in

STRICTNESS = f"{COUPONS}/strictness"
DENIED = "Your role does not allow this; ask an owner or a manager."


@pytest.fixture
def world(db: Database) -> World:
    return make_world(db)


def _strictness(db: Database, world: World) -> str:
    from ccare.core.tenancy import PLATFORM
    from ccare.coupons import risk

    with db.transaction() as s:
        return risk.strictness(s, PLATFORM, world.merchant.merchant_id).strictness.value


def _farm(client: TestClient, db: Database, activity_id: int) -> list[int]:
    """Six new accounts claim on one device; the answers' status codes."""
    answers = []
    for n in range(6):
        headers = f.consumer_login(client, f.make_consumer(db))
        r = client.post(
            f"/api/v1/coupon-activities/{activity_id}/claim",
            json={"channel": "coupon_venue", "claim_key": f"farm-{n}", "device_id": "farm-phone"},
            headers=headers,
        )
        answers.append(r.status_code)
    return answers


def _section(page: str, element_id: str) -> str:
    found = re.search(rf'<(section|table|details) [^>]*id="{element_id}".*?</\1>', page, re.S)
    assert found is not None, element_id
    return found.group(0)


def test_the_filter_panel_and_the_rule_table_in_both_languages(
    client: TestClient, world: World
) -> None:
    owner(client, world)
    zh = _section(client.get(COUPONS).text, "risk-settings")
    assert "<h2>防作弊过滤</h2>" in zh
    assert '<span class="badge badge-standard" data-strictness="standard">标准</span>' in zh
    assert '<form method="post" action="/console/merchant/coupons/strictness"' in zh
    assert (
        '<input type="radio" name="strictness" value="standard" checked> <strong>标准</strong> '
        '<small class="muted">推荐：评分达到 40 分需验证，达到 70 分拒绝。</small>' in zh
    )
    assert '<strong>宽松</strong> <small class="muted">拦截最少：评分达到 60 分需验证，' in zh
    assert "拦截最多，也会让更多真实顾客验证：评分达到 25 分需验证，达到 50 分拒绝。" in zh
    assert '<strong>关闭</strong> <small class="muted">所有领取都会发券；评分和原因照常记录' in zh
    assert re.findall(r'name="strictness" value="(\w+)"', zh) == [
        "off",
        "lenient",
        "standard",
        "strict",
    ]

    rules = _section(zh, "rule-table")
    assert "<summary>规则及其权重（第 1 版）</summary>" in rules
    assert re.findall(r'<tr data-rule="([\w.]+)">', rules) == [r.code for r in RULES]
    device = re.search(r'<tr data-rule="risk.device_shared">(.*?)</tr>', rules, re.S)
    assert device is not None
    assert '<td>多账号共用设备<br><small class="mono muted">risk.device_shared</small></td>' in (
        device.group(1)
    )
    assert "近 7 天内在同一设备上领券的账号数" in device.group(1)
    assert (
        '<td class="tiers">≥ 10 个账号 → 40<br>≥ 5 个账号 → 25<br>≥ 3 个账号 → 10</td>'
        in device.group(1)
    )
    assert '<td class="tiers">&lt; 1 天 → 25<br>&lt; 7 天 → 15<br>&lt; 30 天 → 5</td>' in rules
    assert '<td class="tiers">&gt; 1000 公里/小时 → 25<br>&gt; 400 公里/小时 → 15</td>' in rules
    assert '<td class="tiers">≥ 95% → 25<br>≥ 80% → 15</td>' in rules
    assert '<td class="tiers">命中时 → 10</td>' in rules
    assert "距离（100 公里及以上）" in rules
    assert "领取满 5 张才计算" in rules
    assert rules.count('<span class="badge">暂未采集</span>') == 3

    client.cookies.set("ccare_locale", "en")
    en = _section(client.get(COUPONS).text, "risk-settings")
    assert "<h2>Anti-cheating filter</h2>" in en
    assert 'data-strictness="standard">Standard</span>' in en
    assert (
        '<strong>Standard</strong> <small class="muted">Recommended: challenges claims '
        "scoring 40 or more, rejects from 70.</small>" in en
    )
    assert "<summary>The rules and their weights (version 1)</summary>" in en
    assert '<td class="tiers">≥ 10 accounts → 40<br>≥ 5 accounts → 25<br>' in en
    assert '<td class="tiers">&lt; 1 day → 25<br>&lt; 7 days → 15<br>' in en
    assert '<td class="tiers">≥ 1 blacklist → 50</td>' in en
    assert '<td class="tiers">when it applies → 10</td>' in en
    assert "<td>Shared device<br>" in en
    assert "Accounts that claimed on the same device in the last 7 days" in en
    assert en.count('<span class="badge">not measured yet</span>') == 3


def test_every_published_rule_has_its_words() -> None:
    codes = {r.code for r in RULES}
    assert set(RULE_NAMES) == codes
    assert set(RULE_SUMMARIES) == codes


def test_setting_the_strictness_through_the_form(
    client: TestClient, world: World, db: Database
) -> None:
    owner(client, world)
    r = client.post(STRICTNESS, data={"strictness": "strict"}, follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, f"{COUPONS}?saved=1#risk-settings")
    assert _strictness(db, world) == "strict"
    page = client.get(f"{COUPONS}?saved=1").text
    assert '<p class="flash flash-ok" role="status">已保存。</p>' in page
    assert '<span class="badge badge-strict" data-strictness="strict">严格</span>' in page
    assert '<input type="radio" name="strictness" value="strict" checked>' in page
    assert '<input type="radio" name="strictness" value="standard">' in page

    client.cookies.set("ccare_locale", "en")
    assert (
        client.post(STRICTNESS, data={"strictness": "off"}, follow_redirects=False).status_code
        == 303
    )
    assert _strictness(db, world) == "off"
    assert 'data-strictness="off">Off</span>' in client.get(COUPONS).text

    bad = client.post(STRICTNESS, data={"strictness": "paranoid"})
    assert bad.status_code == 422
    assert (
        '<p class="flash flash-error" role="alert">'
        "Please check the values you entered. (Strictness)</p>" in bad.text
    )
    assert _strictness(db, world) == "off"


def test_a_clerk_sees_the_filter_but_cannot_change_it(
    client: TestClient, world: World, db: Database
) -> None:
    sign_in(client, world.clerk.email, world.clerk.password)
    panel = _section(client.get(COUPONS).text, "risk-settings")
    assert 'id="strictness-form"' not in panel
    assert 'name="strictness"' not in panel
    assert (
        '<li data-level="standard" aria-current="true"><strong>标准</strong> '
        '<small class="muted">推荐：评分达到 40 分需验证，达到 70 分拒绝。</small></li>' in panel
    )
    assert '<li data-level="strict"><strong>严格</strong>' in panel
    assert '<p class="muted">只有店主和店长可以修改过滤设置。</p>' in panel
    assert "<summary>规则及其权重（第 1 版）</summary>" in panel

    client.cookies.set("ccare_locale", "en")
    r = client.post(STRICTNESS, data={"strictness": "off"})
    assert r.status_code == 403
    assert f'<p class="flash flash-error" role="alert">{DENIED}</p>' in r.text
    assert 'data-strictness="standard">Standard</span>' in r.text
    assert _strictness(db, world) == "standard"


def test_a_device_farm_shows_in_the_risk_section(
    client: TestClient, world: World, db: Database
) -> None:
    owner(client, world)
    activity_id = create(client, amount="5", floor="")
    # At standard, new accounts (25) on a device with 5 or more accounts (25) score 50:
    # challenged from 40, rejected from 70.
    assert _farm(client, db, activity_id) == [200, 200, 200, 200, 403, 403]

    client.cookies.clear()
    owner(client, world)
    page = client.get(f"{COUPONS}/{activity_id}").text
    assert '<dd id="issued">4</dd>' in page
    risk = _section(page, "risk")
    assert "<h2>风险</h2>" in risk
    assert (
        '<a href="/console/merchant/coupons#risk-settings" data-strictness="standard">'
        "过滤强度：标准</a>" in risk
    )
    totals = _section(risk, "risk-totals")
    assert (
        '<tr data-outcome="pass"><td><span class="badge badge-pass" data-status="pass">'
        '通过</span></td><td class="num">4</td><td class="num">¥20.00</td></tr>' in totals
    )
    assert (
        '<tr data-outcome="challenge"><td><span class="badge badge-challenge" '
        'data-status="challenge">需验证</span></td><td class="num">2</td>'
        '<td class="num">¥10.00</td></tr>' in totals
    )
    assert (
        '<tr data-outcome="reject"><td><span class="badge badge-reject" data-status="reject">'
        '拒绝</span></td><td class="num">0</td><td class="num">¥0.00</td></tr>' in totals
    )
    assert '<dt>拦截领取省下的预算</dt><dd id="budget-kept">¥10.00</dd>' in risk
    chart = re.search(r'id="risk-chart"[^>]*data-chart="([^"]*)"', risk)
    assert chart is not None
    assert json.loads(html.unescape(chart.group(1))) == {
        "labels": ["通过", "需验证", "拒绝"],
        "counts": [4, 2, 0],
    }
    assert '<h3>被拦截的领取 <small class="muted">共拦截 2 次</small></h3>' in risk
    assert "<th>时间（北京时间）</th>" in risk

    blocked = _section(risk, "blocked-claims")
    rows = re.findall(r'<tr data-decision="\d+">(.*?)</tr>', blocked, re.S)
    assert len(rows) == 2
    for row in rows:
        assert re.search(r"<td>\d{4}-\d\d-\d\d\u00a0\d\d:\d\d</td>", row)
        assert '<td class="mono">farm-phone</td>' in row
        assert '<td class="mono">testclient</td>' in row
        assert '<span class="badge badge-challenge" data-status="challenge">需验证</span>' in row
        assert '<td class="num">50</td>' in row
        assert re.findall(r'data-reason="([\w.]+)"', row) == [
            "risk.device_shared",
            "risk.new_account",
        ]
        assert "<strong>新注册账号</strong> +25 · 账号在领券前不到一天注册" in row
    # Newest first: the 6th account saw 6 accounts on the device, the 5th saw 5.
    assert (
        '<li data-reason="risk.device_shared"><strong>多账号共用设备</strong> +25 · '
        "此设备上已有 6 个账号领券 "
        '<small class="mono muted">accounts_on_device = 6 accounts (&gt;= 5)</small></li>'
        in rows[0]
    )
    assert "此设备上已有 5 个账号领券" in rows[1]
    consumers = [re.findall(r'<td class="mono">(\d+)</td>', row) for row in rows]
    assert consumers[0] != consumers[1] and all(len(c) == 1 for c in consumers)

    client.cookies.set("ccare_locale", "en")
    en = _section(client.get(f"{COUPONS}/{activity_id}").text, "risk")
    assert "<h2>Risk</h2>" in en
    assert 'data-status="pass">Passed</span></td><td class="num">4</td>' in en
    assert 'data-status="challenge">Challenged</span></td><td class="num">2</td>' in en
    assert '<dt>Budget kept from blocked claims</dt><dd id="budget-kept">¥10.00</dd>' in en
    assert 'data-strictness="standard">Filter strictness: Standard</a>' in en
    assert '<h3>Blocked claims <small class="muted">2 blocked claims</small></h3>' in en
    assert "<th>Time (Beijing time)</th>" in en
    assert (
        '<li data-reason="risk.device_shared"><strong>Shared device</strong> +25 · '
        "6 accounts claimed on this device "
        '<small class="mono muted">accounts_on_device = 6 accounts (&gt;= 5)</small></li>' in en
    )
    assert (
        "<strong>New account</strong> +25 · account opened less than a day before the claim "
        '<small class="mono muted">account_age_days = 0 days (&lt; 1)</small>' in en
    )
    chart = re.search(r'id="risk-chart"[^>]*data-chart="([^"]*)"', en)
    assert chart is not None
    assert json.loads(html.unescape(chart.group(1)))["labels"] == [
        "Passed",
        "Challenged",
        "Rejected",
    ]


def test_an_activity_without_blocked_claims(client: TestClient, world: World) -> None:
    owner(client, world)
    activity_id = create(client)
    client.cookies.set("ccare_locale", "en")
    risk = _section(client.get(f"{COUPONS}/{activity_id}").text, "risk")
    assert '<td colspan="7" class="empty-state">No claim was blocked.</td>' in risk
    assert '<dd id="budget-kept">¥0.00</dd>' in risk
    assert "0 blocked claims" in risk


def test_another_merchant_cannot_see_the_risk_section(
    client: TestClient, world: World, db: Database
) -> None:
    owner(client, world)
    activity_id = create(client, name="Farm target")
    assert _farm(client, db, activity_id)[4:] == [403, 403]
    client.cookies.clear()
    sign_in(client, world.other.owner_email, world.other.password)
    client.cookies.set("ccare_locale", "en")
    r = client.get(f"{COUPONS}/{activity_id}")
    assert r.status_code == 404
    assert "<title>Page not found · ccare</title>" in r.text
    for leak in ("Farm target", "farm-phone", 'id="risk"', "Budget kept"):
        assert leak not in r.text
    # Their own list shows their own filter, untouched by the other merchant's claims.
    mine = client.get(COUPONS).text
    assert f'data-activity="{activity_id}"' not in mine
    assert 'data-strictness="standard">Standard</span>' in mine
