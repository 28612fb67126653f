"""The merchant's promotion page: the advertising account and its top-up from the sales
balance (once per form), the new-plan form (once per form), the plan list with pause /
resume / end, in English and Chinese; a clerk sees but cannot change anything."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from ccare.core.db import Database
from ccare.promotion.console_texts import DAYTIME
from ccare.promotion.models import AdPlan
from ccare.runtime import Runtime
from tests.promotion.test_console_world import (
    HTMX,
    PAGE,
    PLANS,
    Shop,
    key_in,
    make_shop,
    new_plan,
)
from tests.web.conftest import sign_in

TOP_UPS = PAGE + "/top-ups"


@pytest.fixture
def shop(db: Database, runtime: Runtime) -> Shop:
    return make_shop(db, runtime)


def test_a_top_up_moves_sales_money_once_per_form(en: TestClient, shop: Shop) -> None:
    shop.sign_in(en)
    page = en.get(PAGE).text
    assert '<p class="value" id="ad-balance">¥0.00</p>' in page
    assert '<p class="value" id="sales-balance">¥500.00</p>' in page
    body = {"amount": "120.5", "out_request_no": key_in(page)}

    r = en.post(TOP_UPS, data=body, headers=HTMX)
    again = en.post(TOP_UPS, data=body, headers=HTMX)  # a double click: one top-up
    other = en.post(TOP_UPS, data={**body, "amount": "1"}, headers=HTMX)

    assert r.status_code == 200, r.text
    assert r.text.startswith('<section class="panel" id="ad-account">')
    assert "✓ Topped up: the money is in your advertising balance." in r.text
    assert '<p class="value" id="ad-balance">¥120.50</p>' in r.text
    assert '<p class="value" id="sales-balance">¥379.50</p>' in r.text
    assert key_in(r.text) != body["out_request_no"]  # the next top-up is a new one
    assert again.status_code == 200
    assert other.status_code == 409
    assert "This form was already submitted with different values." in other.text
    assert shop.balances() == (12_050, 37_950)


def test_a_refused_top_up_says_why_and_moves_nothing(en: TestClient, shop: Shop) -> None:
    shop.sign_in(en)

    too_much = en.post(TOP_UPS, data={"amount": "500.01", "out_request_no": "a" * 32}, headers=HTMX)
    typo = en.post(TOP_UPS, data={"amount": "12.345", "out_request_no": "b" * 32}, headers=HTMX)
    plain = en.post(TOP_UPS, data={"amount": "", "out_request_no": "c" * 32})

    assert too_much.status_code == 409
    assert (
        '<p class="flash flash-error" role="alert" id="top-up-error">'
        "Your sales balance is not enough for this top-up.</p>" in too_much.text
    )
    assert 'value="500.01"' in too_much.text
    assert typo.status_code == 422
    assert "Enter an amount between ¥0.01 and ¥100,000." in typo.text
    assert plain.status_code == 422  # a plain POST: the whole page, with the error
    assert "<title>" in plain.text and "Enter an amount between ¥0.01 and ¥100,000." in plain.text
    assert shop.balances() == (0, 50_000)


def test_a_plain_top_up_comes_back_to_the_page(en: TestClient, shop: Shop) -> None:
    shop.sign_in(en)

    r = en.post(TOP_UPS, data={"amount": "500", "out_request_no": "d" * 32}, follow_redirects=False)

    assert r.status_code == 303
    assert r.headers["location"] == PAGE + "?topped=1"
    page = en.get(r.headers["location"]).text
    assert "✓ Topped up: the money is in your advertising balance." in page
    assert '<p class="value" id="ad-balance">¥500.00</p>' in page
    assert '<p class="value" id="sales-balance">¥0.00</p>' in page


def test_the_plan_form_creates_one_plan_per_form(en: TestClient, shop: Shop) -> None:
    shop.sign_in(en)
    key = key_in(en.get(PAGE).text)
    fields = {
        "out_request_no": key,
        "name": "Breakfast",
        "objective": "leads",
        "charge_type": "cpm",
        "daily_budget": "50.5",
        "total_budget": "1,000",
        "hours": "daytime",
    }

    plan_id = new_plan(en, **fields)
    again = en.post(PLANS, data=fields, headers=HTMX)  # resubmitted: the same plan

    assert again.status_code == 200
    assert again.headers["hx-redirect"] == f"{PLANS}/{plan_id}?created=1"
    [plan] = shop.rows(AdPlan, merchant_id=shop.merchant_id)
    assert (plan.id, plan.name, plan.objective, plan.charge_type) == (
        plan_id,
        "Breakfast",
        "leads",
        "cpm",
    )
    assert (plan.daily_budget_fen, plan.total_budget_fen, plan.hours) == (5_050, 100_000, DAYTIME)
    assert DAYTIME[:24] == "0000000111111111111111" + "00"
    page = en.get(f"{PLANS}/{plan_id}?created=1").text
    assert "Plan created: add an ad group to start serving." in page
    assert '<dd id="plan-hours">07:00–22:00 every day</dd>' in page
    listing = en.get(PAGE).text
    assert f'<td><a href="{PLANS}/{plan_id}">Breakfast</a></td>' in listing
    assert '<td class="num" data-daily>¥50.50</td>' in listing
    assert '<td class="num" data-total>¥1,000.00</td>' in listing
    assert "<td>Pay per 1,000 impressions (CPM)</td>" in listing
    assert "Their plan" not in listing


def test_a_refused_plan_says_why_in_the_form(en: TestClient, shop: Shop) -> None:
    shop.sign_in(en)
    base = {
        "out_request_no": "e" * 32,
        "name": "Breakfast",
        "objective": "transactions",
        "charge_type": "cpc",
        "daily_budget": "50",
        "total_budget": "",
        "hours": "all_week",
    }

    low = en.post(PLANS, data={**base, "daily_budget": "9.99"}, headers=HTMX)
    below = en.post(PLANS, data={**base, "total_budget": "49"}, headers=HTMX)
    unnamed = en.post(PLANS, data={**base, "name": " ", "daily_budget": "abc"}, headers=HTMX)
    plain = en.post(PLANS, data={**base, "total_budget": "49.99"})

    assert low.status_code == 422
    assert low.text.startswith('<section class="panel" id="plan-form">')
    assert (
        '<p class="flash flash-error" role="alert" id="plan-error">'
        "Enter a daily budget of at least ¥10.</p>" in low.text
    )
    assert 'value="9.99"' in low.text
    assert below.status_code == 422
    assert "The total budget cannot be below the daily budget." in below.text
    assert (
        "Enter a name of 1 to 60 characters. Enter a daily budget of at least ¥10." in unnamed.text
    )
    assert plain.status_code == 422
    assert "The total budget cannot be below the daily budget." in plain.text
    assert "<title>" in plain.text
    assert shop.rows(AdPlan, merchant_id=shop.merchant_id) == []


def test_pause_resume_and_end_from_the_list(en: TestClient, shop: Shop) -> None:
    shop.sign_in(en)
    plan_id = new_plan(en)
    status = f"{PLANS}/{plan_id}/status"

    paused = en.post(status, data={"status": "paused", "next": PAGE}, follow_redirects=False)
    listing = en.get(PAGE).text
    resumed = en.post(status, data={"status": "active", "next": "//evil.test/"})
    en.post(status, data={"status": "ended", "next": PAGE})
    after = en.get(PAGE).text

    assert paused.status_code == 303 and paused.headers["location"] == PAGE
    assert '<span class="badge badge-paused" data-status="paused">Paused</span>' in listing
    assert '<button type="submit" class="small outline">Resume</button>' in listing
    assert resumed.url.path == f"{PLANS}/{plan_id}"  # not to another site
    assert '<span class="badge badge-ended" data-status="ended">Ended</span>' in after
    assert "Resume</button>" not in after and "Pause</button>" not in after
    assert shop.plan(plan_id).status == "ended"


def test_a_clerk_sees_the_account_but_changes_nothing(en: TestClient, shop: Shop) -> None:
    clerk = shop.world.clerk
    sign_in(en, clerk.email, clerk.password)

    page = en.get(PAGE).text
    r = en.post(TOP_UPS, data={"amount": "10", "out_request_no": "f" * 32}, headers=HTMX)
    body = {"out_request_no": "g" * 32, "name": "x", "objective": "leads", "daily_budget": "50"}
    plan = en.post(PLANS, data={**body, "charge_type": "cpc", "hours": "all_week"}, headers=HTMX)

    assert '<p class="value" id="sales-balance">¥500.00</p>' in page
    assert 'name="amount"' not in page and 'id="plan-form"' not in page
    assert r.status_code == 403
    assert "Your role does not allow this; ask an owner or a manager." in r.text
    assert plan.status_code == 403
    assert shop.balances() == (0, 50_000)
    assert shop.rows(AdPlan, merchant_id=shop.merchant_id) == []


def test_the_page_in_chinese(client: TestClient, shop: Shop) -> None:
    shop.sign_in(client)
    new_plan(client, hours="daytime")

    page = client.get(PAGE).text

    assert '<html lang="zh-CN"' in page
    assert "<h2>广告账户</h2>" in page
    assert '<p class="value" id="sales-balance">¥500.00</p>' in page
    assert '<span class="badge badge-active" data-status="active">投放中</span>' in page
    assert "<td>成交</td>" in page and "<td>按点击付费 (CPC)</td>" in page
    r = client.post(TOP_UPS, data={"amount": "600", "out_request_no": "h" * 32}, headers=HTMX)
    assert "销售余额不足以完成本次充值。" in r.text
