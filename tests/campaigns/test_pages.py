"""The merchant's campaign pages, in English: the form (its errors kept on the page), the
detail with rounds and results after the worker ran it, cancel, and another merchant's 404."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from ccare.campaigns import rounds
from ccare.core.db import Database
from ccare.core.time import utcnow
from ccare.runtime import Runtime
from tests import factories as f
from tests.segments.events import Event
from tests.web.conftest import World, make_world, sign_in

CAMPAIGNS = "/console/merchant/campaigns"
KEY = re.compile(r'name="out_request_no" value="([0-9a-f]{32})"')


@pytest.fixture
def shop(db: Database, runtime: Runtime, en: TestClient) -> World:
    w = make_world(db)
    assert runtime.analytics is not None
    runtime.analytics.record(
        [  # type: ignore[list-item]
            Event("storefront.visited", w.merchant.merchant_id, c, utcnow(), None, {})
            for c in (w.consumer_id,)
        ]
    )
    h = f.login(en, w.merchant.owner_email, w.merchant.password)
    r = en.post(
        "/api/v1/segments",
        json={"name": "Visitors", "rule": {"event": {"type": "storefront.visited"}}},
        headers=h,
    )
    assert r.status_code == 201, r.text
    r = en.post(
        "/api/v1/coupon-activities",
        json={
            "out_biz_no": "back",
            "name": "5 off",
            "kind": "fixed",
            "amount_fen": 500,
            "quantity": 100,
            "claim_begin": "2026-01-01T00:00:00+08:00",
            "claim_end": "2099-01-01T00:00:00+08:00",
            "validity": {"days_after_claim": 7},
            "activate": True,
        },
        headers=h,
    )
    assert r.status_code == 201, r.text
    sign_in(en, w.merchant.owner_email, w.merchant.password)
    return w


def form(client: TestClient, **fields: str) -> dict[str, str]:
    key = KEY.search(client.get(CAMPAIGNS).text)
    assert key is not None
    segment = re.search(r'<option value="(\d+)"[^>]*>Visitors', client.get(CAMPAIGNS).text)
    assert segment is not None
    return {
        "out_request_no": key.group(1),
        "name": "Back soon",
        "target": "once",
        "segment_id": segment.group(1),
        "days": "7",
        "template_id": "",
        "variables": "",
        "activity_id": "",
        "holdout_percent": "0",
        "conversion_days": "7",
        "start_at": "",
        "end_at": "",
        "start": "1",
        **fields,
    }


def test_the_form_keeps_what_was_typed_and_says_what_is_wrong(shop: World, en: TestClient) -> None:
    r = en.post(CAMPAIGNS, data=form(en, name="Nothing given"))

    assert r.status_code == 422
    assert "Nothing given" in r.text
    assert 'id="form-error"' in r.text
    assert "No campaign yet." in r.text


def test_create_run_and_see_the_campaign(
    shop: World,
    en: TestClient,
    db: Database,
    runtime: Runtime,
) -> None:
    activity = re.search(r'<option value="(\d+)"[^>]*>5 off', en.get(CAMPAIGNS).text)
    assert activity is not None
    r = en.post(CAMPAIGNS, data=form(en, activity_id=activity.group(1)), follow_redirects=False)
    assert r.status_code == 303, r.text
    detail = r.headers["location"].split("?")[0]
    rounds.run_due(db, runtime.analytics)
    page = en.get(detail).text
    listing = en.get(CAMPAIGNS).text
    cancel = en.post(detail + "/cancel", follow_redirects=False)

    assert 'data-status="done"' in page
    assert re.search(r'<tr data-arm="treatment"><td>Treatment</td><td class="num">1</td>', page)
    assert "The uplift shows once both the treatment and the holdout have members." in page
    assert re.search(r'<td class="num">1</td><td class="num">0</td><td class="num">1</td>', page)
    assert "Back soon" in listing
    assert cancel.status_code == 409  # a finished campaign cannot be cancelled
    assert en.get(CAMPAIGNS + "/999999").status_code == 404
