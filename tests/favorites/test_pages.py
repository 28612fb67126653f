"""The app's favorite toggle, gift and benefits on the storefront, "my mini-programs" on
the home page, and the merchant's favorites page (English, plus a few Chinese checks)."""

from __future__ import annotations

import html
import json
import re

import pytest
from fastapi.testclient import TestClient

from ccare.core.db import Database
from ccare.runtime import Runtime
from tests.factories import make_consumer
from tests.favorites.conftest import deliver, new_activity
from tests.web.conftest import World, app_sign_in, make_world, sign_in

FORM = {"action": "add", "channel": "storefront"}


@pytest.fixture
def world(db: Database) -> World:
    return make_world(db)


@pytest.fixture
def en(client: TestClient) -> TestClient:
    client.cookies.set("ccare_locale", "en")
    return client


def _owner(client: TestClient, world: World) -> None:
    sign_in(client, world.merchant.owner_email, world.merchant.password)


def _set(client: TestClient, world: World, **form: object) -> int:
    r = client.post(
        f"/console/merchant/favorites/{world.mini_program_id}/settings",
        data=form,
        follow_redirects=False,
    )
    return r.status_code


def _activity(client: TestClient, world: World, **overrides: object) -> int:
    from tests.factories import login

    owner = login(client, world.merchant.owner_email, world.merchant.password)
    return new_activity(client, owner, **overrides)


def test_favorite_without_javascript_and_find_it_on_home(en: TestClient, world: World) -> None:
    mp = world.mini_program_id
    gift = _activity(en, world, out_biz_no="gift", name="收藏礼", quantity=5)
    _owner(en, world)
    assert _set(en, world, gift_activity_id=str(gift)) == 303
    app_sign_in(en, world.consumer_id)

    empty_home = en.get("/app").text
    before = en.get(f"/app/mp/{mp}").text
    posted = en.post(f"/app/mp/{mp}/favorite", data=FORM, follow_redirects=False)
    after = en.get(f"/app/mp/{mp}").text
    home = en.get("/app").text
    removed = en.post(f"/app/mp/{mp}/favorite", data={"action": "remove"}, follow_redirects=False)
    again = en.get(f"/app/mp/{mp}").text

    assert "Favorite a mini-program to find it here." in empty_home
    assert 'id="gift-offer"' in before
    assert "Favorite to get a coupon" in before
    assert '收藏礼 · <span class="coupon-offer">¥5.00 off orders from ¥30.00</span>' in before
    assert 'aria-pressed="false"' in before
    assert (posted.status_code, posted.headers["location"]) == (303, f"/app/mp/{mp}")
    assert 'aria-pressed="true"' in after and "★ Favorited" in after
    assert 'id="gift-offer"' not in after
    assert 'data-outcome="given"' in after and "Your favorites gift is in" in after
    my = home[home.index('id="my-mini-programs"') : home.index('class="search"')]
    assert f'href="/app/mp/{mp}?channel=favorites"' in my and "西湖早餐铺" in my
    assert removed.status_code == 303
    # Once ever: no offer after unfavoriting.
    assert 'aria-pressed="false"' in again and 'id="gift-offer"' not in again


def test_the_htmx_toggle_answers_the_panel_alone(en: TestClient, world: World) -> None:
    mp = world.mini_program_id
    app_sign_in(en, world.consumer_id)
    htmx = {"HX-Request": "true"}

    on = en.post(f"/app/mp/{mp}/favorite", data=FORM, headers=htmx)
    off = en.post(f"/app/mp/{mp}/favorite", data={"action": "remove"}, headers=htmx)

    assert on.status_code == 200
    assert on.text.lstrip().startswith('<section class="card fav-panel" id="favorite-panel"')
    assert "<html" not in on.text
    assert 'data-favorited="yes"' in on.text and 'aria-pressed="true"' in on.text
    assert f'hx-post="/app/mp/{mp}/favorite"' in on.text
    assert 'data-favorited="no"' in off.text


def test_a_refused_gift_is_explained(en: TestClient, world: World, db: Database) -> None:
    mp = world.mini_program_id
    gift = _activity(en, world, out_biz_no="gift", quantity=1)
    _owner(en, world)
    _set(en, world, gift_activity_id=str(gift))
    app_sign_in(en, make_consumer(db, name="First"))
    en.post(f"/app/mp/{mp}/favorite", data=FORM)
    app_sign_in(en, world.consumer_id)

    before = en.get(f"/app/mp/{mp}").text
    en.post(f"/app/mp/{mp}/favorite", data=FORM)
    after = en.get(f"/app/mp/{mp}").text

    assert 'id="gift-offer"' not in before  # nothing left to offer
    assert 'data-code="coupon.stock_exhausted"' in after
    assert "No favorites gift: the coupons have all been given." in after
    assert "★ Favorited" in after


def test_benefits_show_and_claim_for_favoriters_only(en: TestClient, world: World) -> None:
    mp = world.mini_program_id
    perk = _activity(
        en, world, out_biz_no="perk", name="粉丝专享", quantity=5, user_limits={"lifetime": 1}
    )
    _owner(en, world)
    _set(en, world, benefit_activity_ids=[str(perk)])
    app_sign_in(en, world.consumer_id)
    claim = f"/app/mp/{mp}/benefits/{perk}"

    stranger = en.get(f"/app/mp/{mp}").text
    refused = en.post(claim, data={"claim_key": "k1"}, follow_redirects=False)
    refused_page = en.get(refused.headers["location"]).text
    en.post(f"/app/mp/{mp}/favorite", data=FORM)
    favoriter = en.get(f"/app/mp/{mp}").text
    key = re.search(r'name="claim_key" value="([0-9a-f]+)"', favoriter)
    assert key is not None
    claimed = en.post(claim, data={"claim_key": key.group(1)}, follow_redirects=False)
    held = en.get(f"/app/mp/{mp}").text
    coupons = en.get("/app/coupons").text

    assert 'id="benefits"' not in stranger and "粉丝专享" not in stranger
    assert refused.headers["location"] == f"/app/mp/{mp}?problem=favorite.favoriters_only"
    assert "Not done: favorite this mini-program first." in refused_page
    assert "For favoriters only" in favoriter and "粉丝专享" in favoriter
    assert 'class="benefit-claim"' in favoriter
    assert (claimed.status_code, claimed.headers["location"]) == (303, f"/app/mp/{mp}")
    assert 'data-held="yes"' in held and 'class="benefit-claim"' not in held
    assert "粉丝专享" in coupons


def test_the_merchant_page_charts_and_saves_settings(
    en: TestClient, world: World, runtime: Runtime
) -> None:
    mp = world.mini_program_id
    gift = _activity(en, world, out_biz_no="gift", name="收藏礼")
    perk = _activity(en, world, out_biz_no="perk", name="粉丝专享")
    for consumer in (world.consumer_id, world.poor_consumer_id):
        app_sign_in(en, consumer)
        en.post(f"/app/mp/{mp}/favorite", data=FORM)
    deliver(runtime)
    _owner(en, world)

    page = en.get("/console/merchant/favorites")
    both = _set(en, world, gift_activity_id=str(gift), benefit_activity_ids=[str(gift)])
    refused = en.post(
        f"/console/merchant/favorites/{mp}/settings",
        data={"gift_activity_id": str(gift), "benefit_activity_ids": [str(gift)]},
    )
    saved = en.post(
        f"/console/merchant/favorites/{mp}/settings",
        data={"gift_activity_id": str(gift), "benefit_activity_ids": [str(perk)]},
        follow_redirects=False,
    )
    after = en.get(saved.headers["location"]).text

    assert page.status_code == 200
    assert '<strong id="current-favoriters">2</strong>' in page.text
    found = re.search(r'data-chart="([^"]+)"', page.text)
    assert found is not None
    chart = json.loads(html.unescape(found.group(1)))
    assert (chart["added"], chart["removed"]) == ([0] * 29 + [2], [0] * 30)
    assert len(chart["labels"]) == 30
    assert f'data-consumer="{world.consumer_id}"' in page.text
    assert both == 422
    assert "The gift cannot also be an exclusive benefit." in refused.text
    assert saved.headers["location"] == f"/console/merchant/favorites?mp={mp}&saved=1"
    assert "Saved." in after
    assert f'<option value="{gift}" selected>' in after
    assert f'value="{perk}" checked>' in after


def test_another_merchant_cannot_see_or_set_these_favorites(
    client: TestClient, world: World, db: Database
) -> None:
    mp = world.mini_program_id
    gift = _activity(client, world, out_biz_no="gift")
    sign_in(client, world.other.owner_email, world.other.password)

    page = client.get(f"/console/merchant/favorites?mp={mp}")
    changed = client.post(
        f"/console/merchant/favorites/{mp}/settings", data={"gift_activity_id": str(gift)}
    )
    _owner(client, world)
    mine = client.get(f"/console/merchant/favorites?mp={mp}").text

    assert page.status_code == 200 and "西湖早餐铺" not in page.text
    assert changed.status_code == 404
    assert f'<option value="{gift}" selected>' not in mine


def test_chinese_storefront_keeps_working(client: TestClient, world: World) -> None:
    app_sign_in(client, world.consumer_id)
    page = client.get(f"/app/mp/{world.mini_program_id}")
    assert page.status_code == 200
    assert 'id="favorite-panel"' in page.text
