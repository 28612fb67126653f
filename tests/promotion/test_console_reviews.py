"""The operator's creative review: pending creatives of every merchant, oldest first, with
merchant, plan, group, landing and coupon; approve or reject (with a note) in place or by a
plain POST. Merchants cannot reach it."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from ccare.core.db import Database
from ccare.promotion.models import AdCreative
from ccare.runtime import Runtime
from tests.promotion.test_console_world import (
    GROUPS,
    HTMX,
    REVIEWS,
    Shop,
    make_shop,
    new_group,
    new_plan,
)
from tests.web.conftest import sign_in


@pytest.fixture
def shop(db: Database, runtime: Runtime) -> Shop:
    return make_shop(db, runtime)


def my_creative(en: TestClient, shop: Shop) -> int:
    shop.sign_in(en)
    group_id = new_group(en, new_plan(en, name="Mornings"), name="Commuters")
    body = {
        "out_request_no": "c" * 32,
        "title": "Hot soy milk",
        "description": "",
        "mini_program_id": str(shop.world.mini_program_id),
        "page": "pages/menu/index",
        "coupon_activity_id": str(shop.coupon_id),
    }
    r = en.post(f"{GROUPS}/{group_id}/creatives", data=body, follow_redirects=False)
    assert r.status_code == 303, r.text
    [creative] = shop.rows(AdCreative, group_id=group_id)
    sign_out(en)
    return int(creative.id)


def sign_out(client: TestClient) -> None:
    locale = client.cookies.get("ccare_locale")
    client.cookies.clear()
    if locale:
        client.cookies.set("ccare_locale", locale)


def as_operator(client: TestClient, shop: Shop) -> None:
    sign_in(client, shop.world.operator.email, shop.world.operator.password)


def test_the_queue_lists_pending_creatives_of_every_merchant(en: TestClient, shop: Shop) -> None:
    mine = my_creative(en, shop)
    as_operator(en, shop)

    page = en.get(REVIEWS).text

    assert '<span class="badge badge-pending" id="pending-count">2</span>' in page
    assert re.findall(r'<tr id="review-(\d+)"', page) == [str(shop.other_creative_id), str(mine)]
    row = page.split(f'<tr id="review-{mine}"')[1].split("</tr>")[0]
    cells = re.findall(r"<td>(.*?)</td>", row, re.S)
    assert cells[:6] == [
        str(mine),
        "西湖早餐",
        "Mornings / Commuters",
        "<strong>Hot soy milk</strong>",
        '西湖早餐铺 <small class="mono">pages/menu/index</small>',
        "¥3 off soy milk",
    ]
    their = page.split(f'<tr id="review-{shop.other_creative_id}"')[1].split("</tr>")[0]
    assert "<td>Other Shop</td>" in their and "<td>Their plan / Their group</td>" in their


def test_approving_in_place_answers_the_row(en: TestClient, shop: Shop) -> None:
    mine = my_creative(en, shop)
    as_operator(en, shop)

    r = en.post(f"{REVIEWS}/{mine}", data={"decision": "approved", "note": ""}, headers=HTMX)

    assert r.status_code == 200, r.text
    assert r.text.startswith(f'<tr id="review-{mine}" data-creative="{mine}">')
    assert '<span class="badge badge-approved" data-review="approved">Approved</span>' in r.text
    creative = shop.creative(mine)
    assert (creative.review_status, creative.review_note) == ("approved", None)
    assert creative.reviewed_at is not None
    assert f'id="review-{mine}"' not in en.get(REVIEWS).text


def test_a_rejection_needs_a_note_the_merchant_then_reads(en: TestClient, shop: Shop) -> None:
    mine = my_creative(en, shop)
    as_operator(en, shop)

    bare = en.post(f"{REVIEWS}/{mine}", data={"decision": "rejected", "note": " "}, headers=HTMX)
    odd = en.post(f"{REVIEWS}/{mine}", data={"decision": "maybe"}, headers=HTMX)
    plain = en.post(
        f"{REVIEWS}/{mine}",
        data={"decision": "rejected", "note": "The coupon is not in the text"},
        follow_redirects=False,
    )

    assert bare.status_code == 422
    assert (
        f'<small class="flash-error" role="alert" id="review-error-{mine}">'
        "Say why the creative is rejected: the merchant sees it.</small>" in bare.text
    )
    assert odd.status_code == 422 and "Choose approve or reject." in odd.text
    assert plain.status_code == 303 and plain.headers["location"] == f"{REVIEWS}?reviewed=1"
    assert "Review saved." in en.get(plain.headers["location"]).text
    creative = shop.creative(mine)
    assert (creative.review_status, creative.review_note) == (
        "rejected",
        "The coupon is not in the text",
    )
    sign_out(en)
    shop.sign_in(en)
    page = en.get(f"{GROUPS}/{creative.group_id}").text
    assert (
        '<span class="badge badge-rejected" data-review="rejected">Rejected</span>'
        ' <small class="muted" data-note>The coupon is not in the text</small>' in page
    )


def test_merchants_cannot_reach_the_review(en: TestClient, shop: Shop) -> None:
    mine = my_creative(en, shop)
    shop.sign_in(en)

    page = en.get(REVIEWS, follow_redirects=False)
    post = en.post(f"{REVIEWS}/{mine}", data={"decision": "approved"}, follow_redirects=False)
    api = en.post(f"/api/v1/ad-creatives/{mine}/review", json={"decision": "approved"})

    # The consoles send a signed-in person to their own console, as for every other page.
    assert (page.status_code, page.headers["location"]) == (303, "/console/merchant")
    assert (post.status_code, post.headers["location"]) == (303, "/console/merchant")
    assert api.status_code in (401, 403)
    assert shop.creative(mine).review_status == "pending"


def test_an_unknown_creative_is_not_found(en: TestClient, shop: Shop) -> None:
    as_operator(en, shop)

    r = en.post(f"{REVIEWS}/999999", data={"decision": "approved"}, headers=HTMX)

    assert r.status_code == 404


def test_the_queue_in_chinese(client: TestClient, shop: Shop) -> None:
    as_operator(client, shop)

    page = client.get(REVIEWS).text

    assert '<html lang="zh-CN"' in page
    assert "<title>创意审核" in page
    buttons = re.findall(r'name="decision" value="(\w+)" class="[^"]+">([^<]+)</button>', page)
    assert buttons == [("approved", "通过"), ("rejected", "驳回")]
    r = client.post(
        f"{REVIEWS}/{shop.other_creative_id}", data={"decision": "rejected"}, headers=HTMX
    )
    assert "请说明驳回原因：商家会看到这条说明。" in r.text
