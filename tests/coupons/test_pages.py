"""Coupon pages: the merchant's activities in the console, the consumer's coupon wallet."""

from __future__ import annotations

import html
import json
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ccare.core.db import Database
from ccare.core.tenancy import PLATFORM
from ccare.web.charts import local_today
from tests import factories as f
from tests.web.conftest import World, app_sign_in, make_world, sign_in

COUPONS = "/console/merchant/coupons"
OUT_BIZ_NO = re.compile(r'name="out_biz_no" value="([0-9a-f]{32})"')
OUT_REQUEST_NO = re.compile(r'name="out_request_no" value="([0-9a-f]{32})"')


@pytest.fixture
def world(db: Database) -> World:
    return make_world(db)


def owner(client: TestClient, world: World) -> None:
    sign_in(client, world.merchant.owner_email, world.merchant.password)


def form(client: TestClient, **overrides: str) -> dict[str, str]:
    token = OUT_BIZ_NO.search(client.get(COUPONS).text)
    assert token is not None
    data = {
        "out_biz_no": token.group(1),
        "name": "满30减5",
        "kind": "fixed",
        "amount": "5",
        "floor": "30",
        "quantity": "100",
        "per_user": "2",
        "claim_begin": "2026-01-01",
        "claim_end": "2098-12-31",
        "valid_days": "7",
        "activate": "1",
    }
    data.update(overrides)
    return data


def create(client: TestClient, **overrides: str) -> int:
    r = client.post(COUPONS, data=form(client, **overrides), follow_redirects=False)
    assert r.status_code == 303, r.text
    match = re.fullmatch(COUPONS + r"/(\d+)\?created=1", r.headers["location"])
    assert match is not None
    return int(match.group(1))


def api_activity(client: TestClient, merchant: f.MerchantRef, **overrides: Any) -> dict[str, Any]:
    headers = f.login(client, merchant.owner_email, merchant.password)
    body: dict[str, Any] = {
        "out_biz_no": "api-1",
        "name": "Other shop coupon",
        "kind": "discount",
        "pay_rate_bp": 8500,
        "ceiling_fen": 2000,
        "quantity": 10,
        "claim_begin": "2026-01-01T00:00:00+08:00",
        "claim_end": "2099-01-01T00:00:00+08:00",
        "validity": {"days_after_claim": 3},
        "activate": True,
        **overrides,
    }
    r = client.post("/api/v1/coupon-activities", json=body, headers=headers)
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created


def claim(client: TestClient, consumer_id: int, activity_id: int, channel: str, key: str) -> int:
    headers = f.consumer_login(client, consumer_id)
    r = client.post(
        f"/api/v1/coupon-activities/{activity_id}/claim",
        json={"channel": channel, "claim_key": key},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    coupon_id: int = r.json()["id"]
    return coupon_id


def test_the_list_and_the_form_in_both_languages(client: TestClient, world: World) -> None:
    owner(client, world)
    empty = client.get(COUPONS).text
    assert '<h1 class="page-title">商家券</h1>' in empty
    assert (
        '<li><a href="/console/merchant/coupons" aria-current="page" class="active">商家券</a></li>'
        in empty
    )
    assert '<td colspan="6" class="empty-state">还没有活动。</td>' in empty
    assert "<h2>新建活动</h2>" in empty
    today = local_today()
    assert f'name="claim_begin" value="{today.isoformat()}"' in empty
    assert '<option value="fixed" selected>满减券</option>' in empty
    assert '<option value="discount">折扣券</option>' in empty

    activity_id = create(client)
    zh = client.get(COUPONS).text
    row = re.search(rf'<tr data-activity="{activity_id}">(.*?)</tr>', zh, re.S)
    assert row is not None
    cells = row.group(1)
    assert f'<a href="/console/merchant/coupons/{activity_id}">满30减5</a>' in cells
    assert '<small class="muted">满¥30.00减¥5.00</small>' in cells
    assert "<td>满减券</td>" in cells
    assert 'data-status="active">进行中</span>' in cells
    assert '<td class="num">¥5.00</td>' in cells
    assert '<span class="issued">0 / 100</span>' in cells
    assert '<progress class="issued-bar" value="0" max="100"' in cells
    assert "2026-01-01\u00a000:00 – 2099-01-01\u00a000:00" in cells
    assert "共 1 个活动" in zh

    client.cookies.set("ccare_locale", "en")
    en = client.get(COUPONS).text
    assert '<h1 class="page-title">Coupons</h1>' in en
    assert '<small class="muted">¥5.00 off orders from ¥30.00</small>' in en
    assert "<td>Fixed amount off</td>" in en
    assert 'data-status="active">In progress</span>' in en
    assert "<h2>New activity</h2>" in en
    assert "1 activity" in en


def test_creating_an_activity_through_the_form(
    client: TestClient, world: World, db: Database
) -> None:
    from ccare.coupons import service

    owner(client, world)
    data = form(client, kind="discount", name="85折", pay_rate="85", ceiling="20", floor="")
    r = client.post(COUPONS, data=data, follow_redirects=False)
    assert r.status_code == 303
    activity_id = int(r.headers["location"].split("/")[-1].split("?")[0])
    # A double submit of the same form creates nothing more.
    again = client.post(COUPONS, data=data, follow_redirects=False)
    assert again.headers["location"] == r.headers["location"]

    with db.transaction() as s:
        activities = service.list_activities(s, PLATFORM)
        assert [a.id for a in activities] == [activity_id]
        a = activities[0]
        assert a.merchant_id == world.merchant.merchant_id
        assert a.out_biz_no == data["out_biz_no"]
        assert (a.kind.value, a.status.value) == ("discount", "active")
        assert (a.pay_rate_bp, a.ceiling_fen, a.face_fen, a.floor_fen) == (8500, 2000, 2000, 0)
        assert (a.amount_fen, a.quantity, a.issued) == (0, 100, 0)
        assert a.user_limits == {"lifetime": 2}
        assert a.validity["days_after_claim"] == 7
        assert a.favoriters_only is False
        assert a.claim_begin.isoformat().startswith("2025-12-31T16:00:00")
        assert a.claim_end.isoformat().startswith("2098-12-31T16:00:00")  # 2099-01-01 +08:00

    page = client.get(r.headers["location"]).text
    assert '<p class="flash flash-ok" role="status">活动已创建。</p>' in page
    assert '<h1 class="page-title">85折</h1>' in page
    assert "<dd>按85%支付，最高优惠¥20.00</dd>" in page
    assert "<dd>领取后 7 天内有效</dd>" in page
    assert '<dd id="issued">0</dd>' in page and '<dd id="remaining">100</dd>' in page
    assert '<tr data-action="created">' in page and "<td>创建活动</td>" in page


def test_a_favoriters_only_benefit_through_the_form(
    client: TestClient, world: World, db: Database
) -> None:
    from ccare.coupons import service

    owner(client, world)
    r = client.post(COUPONS, data=form(client, favoriters_only="1"), follow_redirects=False)
    assert r.status_code == 303
    with db.transaction() as s:
        (activity,) = service.list_activities(s, PLATFORM)

    assert activity.favoriters_only is True


def test_special_price_and_exchange_coupons_name_the_merchants_goods(
    client: TestClient, world: World, db: Database
) -> None:
    from ccare.coupons import service

    owner(client, world)
    page = client.get(COUPONS).text
    assert '<option value="special_price">特价券</option>' in page
    assert '<option value="exchange">兑换券</option>' in page
    goods = re.search(r'<select name="items" multiple size="2">(.*?)</select>', page, re.S)
    assert goods is not None
    assert re.findall(r'<option value="(\d+)">([^<]*)</option>', goods.group(1)) == [
        (str(world.noodles_id), "葱油拌面 · ¥12.00 · 西湖早餐铺"),
        (str(world.dumplings_id), "鲜肉小笼 · ¥18.50 · 西湖早餐铺"),
    ]

    special = create(
        client,
        kind="special_price",
        name="小笼特价9.9",
        amount="5",  # a fixed coupon's field, hidden for this kind: not read
        special="9.90",
        ceiling="10",
        items=str(world.dumplings_id),
    )
    data = form(client, kind="exchange", name="免费拌面", cover="12", floor="")
    data["items"] = [str(world.noodles_id), str(world.dumplings_id)]  # type: ignore[assignment]
    r = client.post(COUPONS, data=data, follow_redirects=False)
    assert r.status_code == 303, r.text
    exchange = int(r.headers["location"].split("/")[-1].split("?")[0])

    with db.transaction() as s:
        a = service.get_activity(s, PLATFORM, special)
        assert (a.kind.value, a.special_fen, a.ceiling_fen, a.amount_fen) == (
            "special_price",
            990,
            1000,
            0,
        )
        assert (a.items_include, a.face_fen) == ([world.dumplings_id], 1000)
        b = service.get_activity(s, PLATFORM, exchange)
        assert (b.kind.value, b.amount_fen, b.ceiling_fen, b.special_fen) == (
            "exchange",
            1200,
            None,
            0,
        )
        assert (b.items_include, b.face_fen) == ([world.noodles_id, world.dumplings_id], 1200)

    # Without goods, the form says what the kind needs and keeps the choice.
    r = client.post(COUPONS, data=form(client, kind="special_price", special="9.9", ceiling="10"))
    assert r.status_code == 422
    assert "特价券需要填写最高优惠并选择商品" in r.text
    assert '<option value="special_price" selected>特价券</option>' in r.text


@pytest.mark.parametrize(
    ("overrides", "status", "message"),
    [
        (
            {"name": ""},
            422,
            "Please check the values you entered. (Name)",
        ),
        (
            {"kind": "discount", "pay_rate": "85"},
            422,
            "Please check the values you entered. A fixed coupon needs an amount; "
            "a discount needs a pay rate and a ceiling; a special price needs the most it "
            "takes off and its goods; an exchange needs the value it covers and its goods.",
        ),
        (
            # goods named, but the exchange's value is in the fixed coupon's hidden field
            {"kind": "exchange", "items": "1", "amount": "15"},
            422,
            "Please check the values you entered. A fixed coupon needs an amount; "
            "a discount needs a pay rate and a ceiling; a special price needs the most it "
            "takes off and its goods; an exchange needs the value it covers and its goods.",
        ),
        (
            {"claim_begin": "2026-02-01", "claim_end": "2026-01-01"},
            422,
            "Please check the values you entered. The claim window must end after it starts.",
        ),
        (
            {"quantity": "lots", "amount": "5.001"},
            422,
            "Please check the values you entered. (Amount off (¥), Quantity)",
        ),
        ({"claim_end": "someday"}, 422, "Please check the values you entered. (Claims until)"),
    ],
)
def test_form_errors_show_with_the_values_kept(
    client: TestClient, world: World, overrides: dict[str, str], status: int, message: str
) -> None:
    owner(client, world)
    client.cookies.set("ccare_locale", "en")
    r = client.post(COUPONS, data=form(client, **overrides))
    assert r.status_code == status
    assert f'<p class="flash flash-error" role="alert">{message}</p>' in r.text
    assert f'name="quantity" value="{overrides.get("quantity", "100")}"' in r.text
    assert '<td colspan="6" class="empty-state">No activities yet.</td>' in r.text


def test_form_errors_in_chinese(client: TestClient, world: World) -> None:
    owner(client, world)
    r = client.post(COUPONS, data=form(client, quantity="0"))
    assert r.status_code == 422
    assert '<p class="flash flash-error" role="alert">请检查填写的内容。 (数量)</p>' in r.text


def test_status_changes(client: TestClient, world: World) -> None:
    owner(client, world)
    activity_id = create(client, activate="")
    page = client.get(f"{COUPONS}/{activity_id}").text
    assert 'data-status="draft">草稿</span>' in page
    assert 'data-action="activate">激活</button>' in page
    assert 'data-action="stop">停止</button>' in page
    assert 'data-action="pause"' not in page

    url = f"{COUPONS}/{activity_id}/status"
    r = client.post(url, data={"status": "active"}, follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, f"{COUPONS}/{activity_id}?saved=1")
    r = client.post(url, data={"status": "paused"}, follow_redirects=False)
    assert r.status_code == 303
    page = client.get(f"{COUPONS}/{activity_id}?saved=1").text
    assert '<p class="flash flash-ok" role="status">已保存。</p>' in page
    assert 'data-status="paused">已暂停</span>' in page
    assert 'data-action="resume">恢复</button>' in page
    history = re.findall(r'<tr data-action="(\w+)">', page)
    assert history == ["paused", "activated", "created"]  # newest first
    assert "<td>草稿 → 进行中</td>" in page and "<td>进行中 → 已暂停</td>" in page

    assert client.post(url, data={"status": "stopped"}, follow_redirects=False).status_code == 303
    client.cookies.set("ccare_locale", "en")
    stopped = client.post(url, data={"status": "active"})
    assert stopped.status_code == 409
    assert (
        '<p class="flash flash-error" role="alert">'
        "The activity cannot do this in its current status.</p>" in stopped.text
    )
    assert "This activity has ended." in stopped.text
    assert 'id="append-form"' not in stopped.text
    bad = client.post(url, data={"status": "draft"})
    assert bad.status_code == 422
    assert "Please check the values you entered." in bad.text


def test_appending_stock(client: TestClient, world: World) -> None:
    owner(client, world)
    activity_id = create(client)
    page = client.get(f"{COUPONS}/{activity_id}").text
    token = OUT_REQUEST_NO.search(page)
    assert token is not None
    data = {"add": "50", "out_request_no": token.group(1)}
    url = f"{COUPONS}/{activity_id}/append"
    assert client.post(url, data=data, follow_redirects=False).status_code == 303
    # The same form sent twice adds once.
    assert client.post(url, data=data, follow_redirects=False).status_code == 303
    page = client.get(f"{COUPONS}/{activity_id}").text
    assert '<dd id="quantity">150</dd>' in page
    assert '<dd id="remaining">150</dd>' in page
    assert re.findall(r'<tr data-action="(\w+)">', page) == ["appended", "created"]
    assert "<td>+50，共 150</td>" in page

    client.cookies.set("ccare_locale", "en")
    r = client.post(url, data={"add": "0", "out_request_no": "x1"})
    assert r.status_code == 422
    assert "Please check the values you entered. (Coupons to add)" in r.text
    assert 'name="add" value="0"' in r.text


def test_channel_chart_counts_claims(client: TestClient, world: World, db: Database) -> None:
    owner(client, world)
    activity_id = create(client)
    claim(client, world.consumer_id, activity_id, "coupon_venue", "a")
    claim(client, world.consumer_id, activity_id, "coupon_venue", "b")
    claim(client, world.poor_consumer_id, activity_id, "offline_qr", "a")
    client.cookies.clear()
    owner(client, world)
    page = client.get(f"{COUPONS}/{activity_id}").text
    assert '<dd id="issued">3</dd>' in page and '<dd id="remaining">97</dd>' in page
    assert "已发放 3 张" in page
    assert "/assets/chart.js/dist/chart.umd.min.js" in page
    assert 'id="channel-chart"' in page
    chart = re.search(r'data-chart="([^"]*)"', page)
    assert chart is not None
    assert json.loads(html.unescape(chart.group(1))) == {
        "labels": [
            "支付成功页",
            "搜索口令",
            "领券中心",
            "粉丝群",
            "收藏有礼",
            "消息推送",
            "广告投放",
            "线下二维码",
            "商家自有系统",
        ],
        "counts": [0, 0, 2, 0, 0, 0, 0, 1, 0],
    }
    assert '<tr><td>领券中心</td><td class="num">2</td></tr>' in page

    from ccare.coupons import claims

    with db.transaction() as s:
        counts = claims.claims_by_channel(s, PLATFORM, activity_id)
    assert counts["coupon_venue"] == 2 and counts["offline_qr"] == 1
    assert sum(counts.values()) == 3 and len(counts) == 9


def test_clerks_read_but_do_not_change(client: TestClient, world: World) -> None:
    owner(client, world)
    activity_id = create(client)
    form_of_owner = form(client)
    client.cookies.clear()
    sign_in(client, world.clerk.email, world.clerk.password)
    listing = client.get(COUPONS).text
    assert f'<tr data-activity="{activity_id}">' in listing
    assert 'id="new-activity"' not in listing
    page = client.get(f"{COUPONS}/{activity_id}").text
    assert "只有店主和店长可以修改活动。" in page
    assert 'id="append-form"' not in page
    client.cookies.set("ccare_locale", "en")
    denied = "Your role does not allow this; ask an owner or a manager."
    r = client.post(f"{COUPONS}/{activity_id}/status", data={"status": "paused"})
    assert r.status_code == 403
    assert f'<p class="flash flash-error" role="alert">{denied}</p>' in r.text
    assert 'data-status="active">In progress</span>' in r.text
    r = client.post(COUPONS, data={**form_of_owner, "out_biz_no": "clerk-1"})
    assert r.status_code == 403
    assert f'<p class="flash flash-error" role="alert">{denied}</p>' in r.text


def test_a_merchant_cannot_open_another_merchants_activity(
    client: TestClient, world: World
) -> None:
    theirs = api_activity(client, world.other)
    owner(client, world)
    assert f'data-activity="{theirs["id"]}"' not in client.get(COUPONS).text
    client.cookies.set("ccare_locale", "en")
    for r in (
        client.get(f"{COUPONS}/{theirs['id']}"),
        client.post(f"{COUPONS}/{theirs['id']}/status", data={"status": "paused"}),
        client.post(f"{COUPONS}/{theirs['id']}/append", data={"add": "5", "out_request_no": "k"}),
    ):
        assert r.status_code == 404
        assert "<title>Page not found · ccare</title>" in r.text
        assert "Other shop coupon" not in r.text
    assert client.get(f"{COUPONS}/999999").status_code == 404


def test_the_wallet_shows_only_ones_own_coupons(
    client: TestClient, world: World, db: Database
) -> None:
    from ccare.coupons.models import Coupon, CouponStatus

    owner(client, world)
    mine = create(client)
    theirs = api_activity(client, world.other)
    available = claim(client, world.consumer_id, mine, "coupon_venue", "a")
    used = claim(client, world.consumer_id, theirs["id"], "message", "a")
    not_mine = claim(client, world.poor_consumer_id, mine, "coupon_venue", "a")
    with db.transaction() as s:
        coupon = s.get(Coupon, used)
        assert coupon is not None
        coupon.status = CouponStatus.USED

    client.cookies.clear()
    app_sign_in(client, world.consumer_id)
    page = client.get("/app/coupons").text
    assert "<title>我的券 · ccare</title>" in page
    assert '<a href="/app/coupons" aria-current="page" class="active">' in page
    assert re.findall(r'data-group="(\w+)"', page) == ["available", "used"]
    assert re.findall(r'data-coupon="(\d+)"', page) == [str(available), str(used)]
    assert f'data-coupon="{not_mine}"' not in page
    card = re.search(rf'data-coupon="{available}">(.*?)</small>', page, re.S)
    assert card is not None
    assert "<strong>西湖早餐</strong>" in card.group(1)
    assert 'data-status="available">可使用</span>' in card.group(1)
    assert "<div>满30减5</div>" in card.group(1)
    assert '<div class="coupon-offer">满¥30.00减¥5.00</div>' in card.group(1)
    assert "有效期至 " in card.group(1)
    assert "<strong>Other Shop</strong>" in page
    assert '<div class="coupon-offer">按85%支付，最高优惠¥20.00</div>' in page

    client.cookies.set("ccare_locale", "en")
    en = client.get("/app/coupons").text
    assert "<title>My coupons · ccare</title>" in en
    assert '<h3>Available <small class="muted">1</small></h3>' in en
    assert '<h3>Used <small class="muted">1</small></h3>' in en
    assert '<div class="coupon-offer">Pay 85%, up to ¥20.00 off</div>' in en

    client.cookies.clear()
    app_sign_in(client, world.poor_consumer_id)
    other = client.get("/app/coupons").text
    assert re.findall(r'data-coupon="(\d+)"', other) == [str(not_mine)]


def test_the_wallet_is_empty_and_needs_sign_in(client: TestClient, world: World) -> None:
    r = client.get("/app/coupons", follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, "/app/login?next=/app/coupons")
    app_sign_in(client, world.consumer_id)
    page = client.get("/app/coupons").text
    assert '<div class="empty-state"><p>还没有券。</p>' in page
