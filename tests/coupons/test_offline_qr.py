"""The offline QR code: the merchant prints it, a scan opens the coupon in the app, one tap
claims it on the offline_qr channel."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from ccare.core.db import Database
from ccare.coupons.qr import claim_link, claim_qr_svg
from tests import factories as f
from tests.coupons.test_pages import api_activity, create, owner
from tests.web.conftest import World, app_sign_in, make_world

KEY = re.compile(r'name="claim_key" value="([0-9a-f]{16})"')


@pytest.fixture
def world(db: Database) -> World:
    return make_world(db)


def test_the_qr_code_encodes_the_claim_page_of_the_activity(
    client: TestClient, world: World
) -> None:
    owner(client, world)
    aid = create(client)

    svg = client.get(f"/console/merchant/coupons/{aid}/qr.svg")
    page = client.get(f"/console/merchant/coupons/{aid}").text
    other = api_activity(client, world.other)
    theirs = client.get(f"/console/merchant/coupons/{other['id']}/qr.svg")
    token = f.login(client, world.merchant.owner_email, world.merchant.password)
    by_api = client.get(f"/api/v1/coupon-activities/{aid}/qr.svg", headers=token)

    link = f"http://testserver/app/coupons/claim/{aid}?channel=offline_qr"
    assert claim_link("http://testserver/", aid) == link
    assert (svg.status_code, svg.headers["content-type"]) == (200, "image/svg+xml")
    assert svg.content == claim_qr_svg(link)
    assert svg.content.startswith(b"<?xml") and b"<svg" in svg.content
    assert f'<img src="/console/merchant/coupons/{aid}/qr.svg"' in page
    assert theirs.status_code == 404
    assert (by_api.status_code, by_api.content) == (200, svg.content)


def test_a_scan_opens_the_coupon_and_one_tap_claims_it_once(
    client: TestClient, world: World
) -> None:
    owner(client, world)
    aid = create(client)
    client.cookies.clear()
    app_sign_in(client, world.consumer_id)

    page = client.get(f"/app/coupons/claim/{aid}?channel=offline_qr")
    key = KEY.search(page.text)
    assert key is not None
    form = {"channel": "offline_qr", "claim_key": key.group(1)}
    first = client.post(f"/app/coupons/claim/{aid}", data=form, follow_redirects=False)
    again = client.post(f"/app/coupons/claim/{aid}", data=form, follow_redirects=False)
    buyer = f.consumer_login(client, world.consumer_id)
    wallet = client.get("/api/v1/me/coupons", headers=buyer).json()

    assert page.status_code == 200
    assert "<title>领取此券 · ccare</title>" in page.text
    assert '<input type="hidden" name="channel" value="offline_qr">' in page.text
    assert (first.status_code, first.headers["location"]) == (303, "/app/coupons")
    assert again.status_code == 303
    assert [(c["activity_id"], c["channel"]) for c in wallet] == [(aid, "offline_qr")]


def test_a_coupon_no_longer_offered_says_so(client: TestClient, world: World) -> None:
    owner(client, world)
    aid = create(client)
    r = client.post(
        f"/console/merchant/coupons/{aid}/status",
        data={"status": "stopped"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    client.cookies.clear()
    client.cookies.set("ccare_locale", "en")
    app_sign_in(client, world.consumer_id)

    page = client.get(f"/app/coupons/claim/{aid}").text
    refused = client.post(
        f"/app/coupons/claim/{aid}", data={"claim_key": "k"}, follow_redirects=False
    )

    assert '<p class="muted" id="not-offered">This coupon is no longer offered.</p>' in page
    assert "<form" not in page.split('id="claim"')[1]
    assert refused.status_code == 409
    assert 'role="alert"' in refused.text
