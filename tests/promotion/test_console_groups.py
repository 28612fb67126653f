"""An ad group's page: its targeting, the bid by HTMX, pause / resume / end, creatives with
their review and the new-creative form (once per form) and its refusals; another
merchant's group, mini-program or coupon is refused and nothing changes."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from ccare.core.db import Database
from ccare.promotion.models import AdCreative
from ccare.promotion.schemas import ReviewRequest
from ccare.runtime import Runtime
from tests.factories import FACTORY_OPERATOR
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


def a_group(en: TestClient, shop: Shop, **fields: Any) -> int:
    shop.sign_in(en)
    plan_id = new_plan(en, objective="leads")
    return new_group(en, plan_id, **fields)


def test_the_page_shows_the_groups_targeting(en: TestClient, shop: Shop) -> None:
    group_id = a_group(
        en,
        shop,
        placements=["home_feed", "coupon_venue"],
        cities="杭州",
        segments_exclude=[str(shop.segment_id)],
        exclude_converted="1",
    )

    page = en.get(f"{GROUPS}/{group_id}?created=group").text

    assert "Ad group created: add a creative; it serves once approved." in page
    assert '<dd id="group-bid">¥0.40 · per click</dd>' in page
    assert "<dt>Placements</dt><dd>Home feed, Coupon venue</dd>" in page
    assert "<dt>Cities</dt><dd>杭州</dd>" in page
    assert "<dt>Member levels</dt><dd>All</dd>" in page
    assert "<dt>Never these segments</dt><dd>Regulars</dd>" in page
    assert "<dt>Frequency cap</dt><dd>No limit</dd>" in page
    assert "<dt>Converted people</dt><dd>Left out</dd>" in page
    assert "No creative yet." in page


def test_the_bid_changes_in_place(en: TestClient, shop: Shop) -> None:
    group_id = a_group(en, shop, bid_type="ocpc", target_cpa="20")
    bid = f"{GROUPS}/{group_id}/bid"
    page = en.get(f"{GROUPS}/{group_id}").text
    assert 'name="target_cpa" value="20.00"' in page and 'name="target_roi"' not in page

    r = en.post(bid, data={"bid": "0.55", "target_cpa": "18.8"}, headers=HTMX)
    low = en.post(bid, data={"bid": "0.1", "target_cpa": "18.8"}, headers=HTMX)

    assert r.status_code == 200, r.text
    assert r.text.startswith('<section class="panel" id="group-bid-form">')
    assert "✓ Saved." in r.text
    assert '<dd id="group-bid">¥0.55 · per click</dd>' in r.text
    assert '<dd id="group-cpa">¥18.80</dd>' in r.text
    assert low.status_code == 422
    assert (
        '<p class="flash flash-error" role="alert" id="bid-error">'
        "The bid is below this placement&#39;s reserve price: Home feed (¥0.20)</p>" in low.text
    )
    group = shop.group(group_id)
    assert (group.bid_fen, group.target_cpa_fen) == (55, 1_880)


def test_pause_resume_and_end_a_group(en: TestClient, shop: Shop) -> None:
    group_id = a_group(en, shop)
    status = f"{GROUPS}/{group_id}/status"

    en.post(status, data={"status": "paused"})
    paused = shop.group(group_id).status
    r = en.post(status, data={"status": "active"}, follow_redirects=False)
    en.post(status, data={"status": "ended"})
    page = en.get(f"{GROUPS}/{group_id}").text
    bid = en.post(f"{GROUPS}/{group_id}/bid", data={"bid": "1"})

    assert paused == "paused"
    assert r.headers["location"] == f"{GROUPS}/{group_id}"
    assert (
        '<dt>Status</dt><dd><span class="badge badge-ended" data-status="ended">Ended</span>'
        in page
    )
    assert 'id="group-bid-form"' not in page and 'id="creative-form"' not in page
    assert bid.status_code == 409
    assert "This ad group has ended and can no longer be changed." in bid.text
    assert (shop.group(group_id).status, shop.group(group_id).bid_fen) == ("ended", 40)


def creative_form(shop: Shop, **fields: str) -> dict[str, str]:
    return {
        "out_request_no": "c" * 32,
        "title": "Hot soy milk",
        "description": "Freshly ground every morning",
        "mini_program_id": str(shop.world.mini_program_id),
        "page": "pages/menu/index",
        "coupon_activity_id": str(shop.coupon_id),
        **fields,
    }


def test_a_creative_is_submitted_once_and_shows_its_review(en: TestClient, shop: Shop) -> None:
    group_id = a_group(en, shop)
    page = en.get(f"{GROUPS}/{group_id}").text
    assert f'<option value="{shop.world.mini_program_id}">西湖早餐铺</option>' in page
    assert f'<option value="{shop.coupon_id}">¥3 off soy milk</option>' in page
    assert f'value="{shop.other_coupon_id}"' not in page
    body = creative_form(shop, out_request_no=key_in(page.split('id="creative-form"')[1]))

    r = en.post(f"{GROUPS}/{group_id}/creatives", data=body, follow_redirects=False)
    again = en.post(f"{GROUPS}/{group_id}/creatives", data=body, headers=HTMX)

    assert r.status_code == 303
    assert r.headers["location"] == f"{GROUPS}/{group_id}?created=creative"
    assert again.headers["hx-redirect"] == r.headers["location"]
    [creative] = shop.rows(AdCreative, group_id=group_id)
    assert (creative.title, creative.page, creative.coupon_activity_id) == (
        "Hot soy milk",
        "pages/menu/index",
        shop.coupon_id,
    )
    page = en.get(r.headers["location"]).text
    assert "Creative submitted: it serves once the platform approves it." in page
    assert '<span class="badge badge-pending" data-review="pending">Pending review</span>' in page
    assert '西湖早餐铺 <small class="mono">pages/menu/index</small>' in page
    assert "<td>¥3 off soy milk</td>" in page
    from ccare.promotion import service

    with shop.db.transaction() as s:
        service.review_creative(
            s, FACTORY_OPERATOR, creative.id, ReviewRequest(decision="rejected", note="Blurry")
        )
    page = en.get(f"{GROUPS}/{group_id}").text
    assert (
        '<span class="badge badge-rejected" data-review="rejected">Rejected</span>'
        ' <small class="muted" data-note>Blurry</small>' in page
    )


def test_refused_creatives_say_why_and_make_nothing(en: TestClient, shop: Shop) -> None:
    group_id = a_group(en, shop)
    url = f"{GROUPS}/{group_id}/creatives"

    def refused(**fields: str) -> tuple[int, str]:
        r = en.post(url, data=creative_form(shop, **fields), headers=HTMX)
        return r.status_code, r.text.split('id="creative-error">')[1].split("</p>")[0]

    assert refused(mini_program_id=str(shop.other_mini_program_id)) == (
        404,
        "Choose one of your mini-programs.",
    )
    assert refused(coupon_activity_id=str(shop.other_coupon_id)) == (
        404,
        "Choose one of your coupon activities.",
    )
    assert refused(page="../../etc passwd") == (
        422,
        "Enter the landing page as a path, e.g. pages/menu/index.",
    )
    assert refused(title="", description="x" * 81) == (
        422,
        "Enter a title of 1 to 40 characters. The description has 80 characters at most.",
    )
    assert shop.rows(AdCreative, group_id=group_id) == []


def test_another_merchants_group_is_not_found(en: TestClient, shop: Shop) -> None:
    shop.sign_in(en)
    theirs = f"{GROUPS}/{shop.other_group_id}"

    pages = [
        en.get(theirs),
        en.post(theirs + "/bid", data={"bid": "5"}),
        en.post(theirs + "/status", data={"status": "ended"}),
        en.post(theirs + "/creatives", data=creative_form(shop)),
    ]

    assert [p.status_code for p in pages] == [404, 404, 404, 404]
    assert all("Their group" not in p.text for p in pages)
    group = shop.group(shop.other_group_id)
    assert (group.status, group.bid_fen) == ("active", 40)
    assert len(shop.rows(AdCreative, group_id=shop.other_group_id)) == 1
    assert en.get(f"{PLANS}/{shop.other_plan_id}").status_code == 404
