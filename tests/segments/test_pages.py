"""The merchant's segment pages, in English: list, editor with live estimate, detail with
its history chart, refresh (and its failure), export, and another merchant's 404."""

from __future__ import annotations

import html
import json
import re

import pytest
from fastapi.testclient import TestClient

from ccare.core.db import Database
from ccare.core.time import utcnow
from ccare.runtime import Runtime
from tests.segments.events import record, world
from tests.web.conftest import World, make_world, sign_in

SEGMENTS = "/console/merchant/segments"
KEY = re.compile(r'name="out_request_no" value="([0-9a-f]{32})"')
NEVER_PAID = {"event": {"type": "order.paid", "count": {"eq": 0}}}


@pytest.fixture
def shop(db: Database, runtime: Runtime, en: TestClient) -> World:
    w = make_world(db)
    assert runtime.analytics is not None
    record(runtime.analytics, world(w.merchant.merchant_id, w.other.merchant_id, now=utcnow()))
    sign_in(en, w.merchant.owner_email, w.merchant.password)
    return w


def create(client: TestClient, name: str, rule: object) -> int:
    key = KEY.search(client.get(SEGMENTS).text)
    assert key is not None
    r = client.post(
        SEGMENTS,
        data={
            "out_request_no": key.group(1),
            "name": name,
            "rule": json.dumps(rule),
            "every": "1440",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    match = re.fullmatch(SEGMENTS + r"/(\d+)\?saved=1", r.headers["location"])
    assert match is not None
    return int(match.group(1))


def test_the_list_offers_an_editor_and_shows_segments(en: TestClient, shop: World) -> None:
    page = en.get(SEGMENTS)
    assert page.status_code == 200
    assert "<title>Segments · ccare</title>" in page.text
    assert "No segment yet." in page.text
    assert 'hx-post="/console/merchant/segments/estimate"' in page.text
    segment_id = create(en, "Never paid", NEVER_PAID)
    page = en.get(SEGMENTS).text
    row = re.search(rf'<tr data-segment="{segment_id}">(.*?)</tr>', page, re.S)
    assert row is not None
    assert "Never paid" in row.group(1)
    assert re.search(r"<td class=\"num\" data-size>3</td>", row.group(1))
    assert 'data-status="ready">Up to date</span>' in row.group(1)


def test_the_live_estimate_counts_or_names_the_problem(en: TestClient, shop: World) -> None:
    ok = en.post(SEGMENTS + "/estimate", data={"rule": json.dumps(NEVER_PAID)})
    assert ok.status_code == 200
    assert 'data-estimate="3"' in ok.text
    assert "3 customers match now" in ok.text
    bad = en.post(
        SEGMENTS + "/estimate",
        data={"rule": json.dumps({"event": {"type": "order.paid", "within_days": -1}})},
    )
    assert 'data-estimate="error"' in bad.text
    assert (
        html.unescape(bad.text).count(
            "The rule is not valid: rule.event.within_days:"
            " Input should be greater than or equal to 1"
        )
        == 1
    )
    not_json = en.post(SEGMENTS + "/estimate", data={"rule": "{not json"})
    assert "The rule must be a JSON object." in not_json.text


def test_a_bad_rule_is_refused_with_its_path_and_nothing_is_saved(
    en: TestClient, shop: World
) -> None:
    key = KEY.search(en.get(SEGMENTS).text)
    assert key is not None
    r = en.post(
        SEGMENTS,
        data={
            "out_request_no": key.group(1),
            "name": "Bad",
            "rule": json.dumps({"all": [{"favorited": {"color": 1}}]}),
            "every": "",
        },
    )
    assert r.status_code == 422
    assert (
        "The rule is not valid: rule.all[0].favorited.color: Extra inputs are not permitted"
        in html.unescape(r.text)
    )
    assert "No segment yet." in r.text


def test_detail_shows_size_history_members_and_exports(en: TestClient, shop: World) -> None:
    segment_id = create(en, "Never paid", NEVER_PAID)
    assert en.post(f"{SEGMENTS}/{segment_id}/refresh", follow_redirects=False).status_code == 303
    page = en.get(f"{SEGMENTS}/{segment_id}?refreshed=1")
    assert page.status_code == 200
    assert "Refreshed." in page.text
    assert re.search(r'<dd id="size">3</dd>', page.text)
    chart = re.search(r'data-chart="([^"]+)"', page.text)
    assert chart is not None
    assert json.loads(html.unescape(chart.group(1)))["sizes"] == [3, 3]
    assert "12, 13, 14" in page.text
    csv = en.get(f"{SEGMENTS}/{segment_id}/members.csv")
    assert csv.text == "consumer_id\n12\n13\n14\n"


def test_a_failed_refresh_is_shown_and_keeps_members(
    en: TestClient, shop: World, runtime: Runtime
) -> None:
    segment_id = create(en, "Never paid", NEVER_PAID)
    store, runtime.analytics = runtime.analytics, None
    try:
        r = en.post(f"{SEGMENTS}/{segment_id}/refresh", follow_redirects=False)
    finally:
        runtime.analytics = store
    assert r.status_code == 303
    page = en.get(f"{SEGMENTS}/{segment_id}").text
    assert 'data-status="failed">Last refresh failed</span>' in page
    assert "AnalyticsUnavailable: this process has no analytics store" in page
    assert "The customers below are those of the last successful computation." in page
    assert "12, 13, 14" in page


def test_changing_the_rule_from_the_page(en: TestClient, shop: World) -> None:
    segment_id = create(en, "Target", NEVER_PAID)
    r = en.post(
        f"{SEGMENTS}/{segment_id}",
        data={
            "name": "Shoppers",
            "rule": json.dumps({"event": {"type": "order.paid"}}),
            "every": "",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = en.get(f"{SEGMENTS}/{segment_id}").text
    assert "<title>Shoppers · ccare</title>" in page
    assert re.search(r'<dd id="size">2</dd>', page)
    assert '<dd id="next-refresh">Only when I refresh it</dd>' in page
    assert en.post(f"{SEGMENTS}/{segment_id}/delete", follow_redirects=False).status_code == 303
    assert en.get(f"{SEGMENTS}/{segment_id}").status_code == 404


def test_another_merchant_gets_not_found(en: TestClient, shop: World) -> None:
    segment_id = create(en, "Mine", NEVER_PAID)
    en.cookies.clear()
    en.cookies.set("ccare_locale", "en")
    sign_in(en, shop.other.owner_email, shop.other.password)
    assert en.get(f"{SEGMENTS}/{segment_id}").status_code == 404
    assert en.get(f"{SEGMENTS}/{segment_id}/members.csv").status_code == 404
    assert en.post(f"{SEGMENTS}/{segment_id}/refresh").status_code == 404
    assert en.post(f"{SEGMENTS}/{segment_id}/delete").status_code == 404
    assert "No segment yet." in en.get(SEGMENTS).text


def test_clerks_see_segments_without_the_editor(en: TestClient, shop: World) -> None:
    create(en, "Mine", NEVER_PAID)
    en.cookies.clear()
    en.cookies.set("ccare_locale", "en")
    sign_in(en, shop.clerk.email, shop.clerk.password)
    page = en.get(SEGMENTS).text
    assert "Mine" in page
    assert 'id="new-segment"' not in page
