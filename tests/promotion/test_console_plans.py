"""A plan's page: budgets and hours by HTMX (and a plain POST), pause / resume / end, the
new-ad-group form with bidding and targeting and its precise refusals; another merchant's
plan is a 404 and stays as it was."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from ccare.core.db import Database
from ccare.promotion.console_texts import WORKDAYS
from ccare.promotion.models import AdGroup
from ccare.promotion.schemas import ALL_HOURS
from ccare.runtime import Runtime
from tests.promotion.test_console_world import (
    GROUPS,
    HTMX,
    PLANS,
    Shop,
    key_in,
    make_shop,
    new_group,
    new_plan,
)


@pytest.fixture
def shop(db: Database, runtime: Runtime) -> Shop:
    return make_shop(db, runtime)


def test_budgets_and_hours_change_in_place(en: TestClient, shop: Shop) -> None:
    shop.sign_in(en)
    plan_id = new_plan(en, total_budget="3000")
    budget = f"{PLANS}/{plan_id}/budget"

    r = en.post(
        budget, data={"daily_budget": "80", "total_budget": "", "hours": "workdays"}, headers=HTMX
    )

    assert r.status_code == 200, r.text
    assert r.text.startswith('<section class="panel" id="plan-budget">')
    assert "✓ Saved." in r.text
    assert '<section class="panel" id="plan" hx-swap-oob="true">' in r.text
    assert '<dd id="plan-daily">¥80.00</dd>' in r.text
    assert '<dd id="plan-total">No limit</dd>' in r.text
    assert '<dd id="plan-hours">09:00–18:00 Monday to Friday</dd>' in r.text
    plan = shop.plan(plan_id)
    assert (plan.daily_budget_fen, plan.total_budget_fen, plan.hours) == (8_000, None, WORKDAYS)
    assert WORKDAYS.count("1") == 45 and WORKDAYS[24 * 4 + 9 : 24 * 4 + 18] == "1" * 9


def test_hours_set_through_the_api_are_kept_unless_changed(en: TestClient, shop: Shop) -> None:
    from ccare.promotion.models import AdPlan

    shop.sign_in(en)
    plan_id = new_plan(en)
    custom = "1" * 12 + "0" * 156
    with shop.db.transaction() as s:
        s.get(AdPlan, plan_id).hours = custom  # type: ignore[union-attr]
    page = en.get(f"{PLANS}/{plan_id}").text
    assert '<dd id="plan-hours">Custom hours (12/168)</dd>' in page
    assert '<option value="keep" selected>Keep the current custom hours</option>' in page

    en.post(f"{PLANS}/{plan_id}/budget", data={"daily_budget": "60", "hours": "keep"})

    assert shop.plan(plan_id).hours == custom
    assert shop.plan(plan_id).daily_budget_fen == 6_000


def test_refused_budgets_say_why(en: TestClient, shop: Shop) -> None:
    shop.sign_in(en)
    plan_id = new_plan(en)
    budget = f"{PLANS}/{plan_id}/budget"

    below = en.post(
        budget, data={"daily_budget": "50", "total_budget": "40", "hours": "all_week"}, headers=HTMX
    )
    empty = en.post(budget, data={"daily_budget": "", "hours": "all_week"}, headers=HTMX)
    plain = en.post(budget, data={"daily_budget": "5", "hours": "all_week"})

    assert below.status_code == 422
    assert (
        '<p class="flash flash-error" role="alert" id="budget-error">'
        "The total budget cannot be below the daily budget.</p>" in below.text
    )
    assert 'name="total_budget" value="40"' in below.text
    assert empty.status_code == 422
    assert "Enter a daily budget of at least ¥10." in empty.text
    assert plain.status_code == 422 and "<title>" in plain.text
    assert "Enter a daily budget of at least ¥10." in plain.text
    plan = shop.plan(plan_id)
    assert (plan.daily_budget_fen, plan.total_budget_fen, plan.hours) == (5_000, None, ALL_HOURS)


def test_an_ended_plan_can_no_longer_change(en: TestClient, shop: Shop) -> None:
    shop.sign_in(en)
    plan_id = new_plan(en)
    en.post(f"{PLANS}/{plan_id}/status", data={"status": "ended"})

    page = en.get(f"{PLANS}/{plan_id}").text
    r = en.post(f"{PLANS}/{plan_id}/status", data={"status": "active"})
    budget = en.post(f"{PLANS}/{plan_id}/budget", data={"daily_budget": "90", "hours": "keep"})

    assert 'id="plan-budget"' not in page and 'id="group-form"' not in page
    assert r.status_code == 409
    assert (
        '<p class="flash flash-error" role="alert">'
        "This plan has ended and can no longer be changed.</p>" in r.text
    )
    assert budget.status_code == 409
    assert "This plan has ended and can no longer be changed." in budget.text
    assert shop.plan(plan_id).status == "ended"
    assert shop.plan(plan_id).daily_budget_fen == 5_000


def test_another_merchants_plan_is_not_found(en: TestClient, shop: Shop) -> None:
    shop.sign_in(en)
    theirs = f"{PLANS}/{shop.other_plan_id}"
    group = {"out_request_no": "t" * 32, "name": "Mine", "bid": "1", "placements": "home_feed"}

    pages = [
        en.get(theirs),
        en.post(theirs + "/budget", data={"daily_budget": "10", "hours": "all_week"}),
        en.post(theirs + "/status", data={"status": "ended"}),
        en.post(theirs + "/groups", data={**group, "bid_type": "manual"}),
    ]

    assert [p.status_code for p in pages] == [404, 404, 404, 404]
    assert all("Their plan" not in p.text for p in pages)
    plan = shop.plan(shop.other_plan_id)
    assert (plan.status, plan.daily_budget_fen) == ("active", 5_000)
    assert len(shop.rows(AdGroup, plan_id=shop.other_plan_id)) == 1


def group_form(shop: Shop, **fields: Any) -> dict[str, Any]:
    return {
        "out_request_no": "q" * 32,
        "name": "Commuters",
        "bid_type": "manual",
        "bid": "0.35",
        "target_cpa": "",
        "target_roi": "",
        "placements": ["home_feed", "search_results"],
        "search_words": "豆浆\n早餐, 豆浆",
        "cities": "杭州，上海",
        "member_levels": ["gold", "diamond"],
        "segments_include": [str(shop.segment_id)],
        "frequency_per_day": "3",
        "exclude_converted": "1",
        **fields,
    }


def test_the_group_form_makes_one_group_with_its_targeting(en: TestClient, shop: Shop) -> None:
    shop.sign_in(en)
    plan_id = new_plan(en, objective="leads")
    page = en.get(f"{PLANS}/{plan_id}").text
    assert f'<option value="{shop.segment_id}">Regulars</option>' in page
    assert f'value="{shop.other_segment_id}"' not in page
    assert "Search results · ¥0.30</label>" in page
    body = group_form(shop, out_request_no=key_in(page.split('id="group-form"')[1]))

    r = en.post(f"{PLANS}/{plan_id}/groups", data=body, headers=HTMX)
    again = en.post(f"{PLANS}/{plan_id}/groups", data=body, headers=HTMX)

    [group] = shop.rows(AdGroup, plan_id=plan_id)
    assert r.status_code == 200, r.text
    assert r.headers["hx-redirect"] == f"{GROUPS}/{group.id}?created=group"
    assert again.headers["hx-redirect"] == r.headers["hx-redirect"]
    assert (group.name, group.bid_type, group.bid_fen, group.frequency_per_day) == (
        "Commuters",
        "manual",
        35,
        3,
    )
    assert group.targeting == {
        "placements": ["home_feed", "search_results"],
        "segments_include": [shop.segment_id],
        "segments_exclude": [],
        "cities": ["杭州", "上海"],
        "member_levels": ["gold", "diamond"],
        "search_words": ["豆浆", "早餐"],
        "exclude_converted": True,
    }
    listing = en.get(f"{PLANS}/{plan_id}").text
    assert '<td class="num" data-bid>¥0.35</td>' in listing
    assert "<td>Home feed, Search results</td>" in listing


def test_ocpc_and_target_roi_take_only_their_own_target(en: TestClient, shop: Shop) -> None:
    shop.sign_in(en)
    plan_id = new_plan(en, objective="transactions")
    common = {"placements": ["home_feed"], "target_cpa": "12.5", "target_roi": "2.5"}

    ocpc = new_group(en, plan_id, bid_type="ocpc", out_request_no="o" * 32, **common)
    roi = new_group(en, plan_id, bid_type="target_roi", out_request_no="r" * 32, **common)

    assert (shop.group(ocpc).target_cpa_fen, shop.group(ocpc).target_roi_bp) == (1_250, None)
    assert (shop.group(roi).target_cpa_fen, shop.group(roi).target_roi_bp) == (None, 25_000)


def refusal(en: TestClient, plan_id: int, body: dict[str, Any]) -> tuple[int, str]:
    r = en.post(f"{PLANS}/{plan_id}/groups", data=body, headers=HTMX)
    found = r.text.split('id="group-error">')[1].split("</p>")[0] if "group-error" in r.text else ""
    return r.status_code, found


def test_refused_groups_say_precisely_why(en: TestClient, shop: Shop) -> None:
    shop.sign_in(en)
    plan_id = new_plan(en, objective="brand")
    base = group_form(shop)

    assert refusal(en, plan_id, {**base, "bid": "0.25"}) == (
        422,
        "The bid is below this placement&#39;s reserve price: Search results (¥0.30)",
    )
    assert refusal(en, plan_id, {**base, "placements": ["home_feed"]}) == (
        422,
        "Search words need the Search results placement.",
    )
    assert refusal(en, plan_id, {**base, "search_words": ""}) == (
        422,
        "An ad group on Search results needs search words.",
    )
    assert refusal(en, plan_id, {**base, "placements": ["five_blessings"]}) == (
        422,
        "Brand event placements are booked under Brand bookings, not bid on: Five Blessings"
        " (五福) event",
    )
    assert refusal(en, plan_id, {**base, "placements": []}) == (422, "Choose 1 to 20 placements.")
    assert refusal(en, plan_id, {**base, "search_words": "豆浆, !!!"}) == (
        422,
        "A search word is empty or too long (20 characters, 8 words at most): !!!",
    )
    assert refusal(en, plan_id, {**base, "bid_type": "ocpc", "target_cpa": "9"}) == (
        422,
        "oCPC needs a plan whose objective is transactions or leads.",
    )
    assert refusal(en, plan_id, {**base, "segments_exclude": [str(shop.segment_id)]}) == (
        422,
        "A segment cannot be both included and excluded.",
    )
    assert refusal(en, plan_id, {**base, "segments_include": [str(shop.other_segment_id)]}) == (
        404,
        "Choose segments from your own.",
    )
    assert refusal(en, plan_id, {**base, "bid": "1000.01", "frequency_per_day": "51"}) == (
        422,
        "Enter a bid between ¥0.01 and ¥1,000. The frequency cap is 1 to 50 impressions a day,"
        " or empty.",
    )
    kept = en.post(f"{PLANS}/{plan_id}/groups", data={**base, "bid": "0.25"}, headers=HTMX).text
    assert 'value="home_feed" checked' in kept and 'value="gold" checked' in kept
    assert f'<option value="{shop.segment_id}" selected>Regulars</option>' in kept
    assert shop.rows(AdGroup, plan_id=plan_id) == []


def test_a_cpm_plan_offers_placements_sold_by_the_thousand(en: TestClient, shop: Shop) -> None:
    shop.sign_in(en)
    plan_id = new_plan(en, charge_type="cpm")

    page = en.get(f"{PLANS}/{plan_id}").text
    status, text = refusal(en, plan_id, {**group_form(shop), "bid": "9"})

    assert "Bid per 1,000 impressions (yuan)" in page
    assert "Home feed · ¥8.00</label>" in page
    assert 'value="search_results"' not in page
    assert (status, text) == (
        422,
        "This placement sells clicks only; use a CPC plan: Search results",
    )
