"""Message pages: templates and broadcasts in the console, the subscribe prompt and the
inbox in the app, the funnel chart fed from the analytics store."""

from __future__ import annotations

import html
import json
import re

import pytest
from fastapi.testclient import TestClient

from ccare.core.db import Database
from ccare.core.worker import InProcessTransport, drain
from ccare.messages import fanout
from ccare.runtime import Runtime
from tests.web.conftest import World, app_sign_in, en, make_world, sign_in

__all__ = ["en"]

MESSAGES = "/console/merchant/messages"
OUT_REQUEST_NO = re.compile(r'name="out_request_no" value="([0-9a-f]{32})"')
CHART = re.compile(r'id="funnel-chart"[^>]*data-chart="([^"]*)"')


@pytest.fixture
def world(db: Database) -> World:
    return make_world(db)


def _chart(page: str) -> dict[str, list[object]]:
    found = CHART.search(page)
    assert found is not None
    return json.loads(html.unescape(found.group(1)))  # type: ignore[no-any-return]


def test_merchant_and_consumer_pages(
    en: TestClient, db: Database, runtime: Runtime, world: World
) -> None:
    client = en
    sign_in(client, world.merchant.owner_email, world.merchant.password)
    bad = client.post(
        f"{MESSAGES}/templates",
        data={"name": "Bad", "category": "marketing", "title": "Hi {Name}", "body": "x"},
    )
    created = client.post(
        f"{MESSAGES}/templates",
        data={
            "name": "Weekend offer",
            "category": "marketing",
            "title": "{shop} this weekend",
            "body": "Noodles at {price}",
            "link": "pages/index/index",
        },
        follow_redirects=False,
    )
    page = client.get(MESSAGES)
    assert bad.status_code == 422
    assert "A placeholder must look like {name}" in bad.text
    assert created.status_code == 303
    assert "Weekend offer" in page.text and "<code>{shop}</code>" in page.text
    template_id = int(re.search(r'data-template="(\d+)"', page.text).group(1))  # type: ignore[union-attr]

    consumer = TestClient(client.app)
    consumer.cookies.set("ccare_locale", "en")
    app_sign_in(consumer, world.consumer_id)
    prompt = consumer.get(f"/app/messages/subscribe?merchant_id={world.merchant.merchant_id}")
    subscribed = consumer.post(
        "/app/messages/subscribe",
        data={
            "merchant_id": world.merchant.merchant_id,
            "template_id": template_id,
            "kind": "long_term",
        },
        follow_redirects=False,
    )
    after = consumer.get(f"/app/messages/subscribe?merchant_id={world.merchant.merchant_id}")
    assert "Weekend offer" in prompt.text and "Always allow" in prompt.text
    assert subscribed.status_code == 303
    assert "Allowed until you turn it off." in after.text

    token = OUT_REQUEST_NO.search(client.get(MESSAGES).text).group(1)  # type: ignore[union-attr]
    sent = client.post(
        f"{MESSAGES}/broadcasts",
        data={
            "out_request_no": token,
            "template_id": str(template_id),
            "variables": "shop=West Lake\nprice=12",
            "consumer_ids": f"{world.consumer_id}, {world.poor_consumer_id}",
        },
        follow_redirects=False,
    )
    assert sent.status_code == 303
    broadcast_id = int(sent.headers["location"].rsplit("/", 1)[1])
    from tests.messages.conftest import NOON

    fanout.run(db, broadcast_id, now=NOON)
    report = client.get(f"{MESSAGES}/broadcasts/{broadcast_id}")
    assert 'data-state="sent"' in report.text and 'data-reason="no_consent"' in report.text

    inbox = consumer.get("/app/messages")
    message_id = int(re.search(r'data-message="(\d+)"', inbox.text).group(1))  # type: ignore[union-attr]
    opened = consumer.get(f"/app/messages/{message_id}")
    clicked = consumer.post(f"/app/messages/{message_id}/click", follow_redirects=False)
    assert "West Lake this weekend" in inbox.text
    assert "Noodles at 12" in opened.text
    assert (clicked.status_code, clicked.headers["location"]) == (
        303,
        f"/app/messages/{message_id}",
    )

    drain(db, InProcessTransport(db, runtime.analytics))
    chart = _chart(client.get(MESSAGES).text)
    assert chart == {
        "labels": ["Sent", "Delivered", "Opened", "Clicked", "Converted"],
        "counts": [1, 1, 1, 1, 0],
    }


def test_another_consumers_message_is_not_found(en: TestClient, db: Database, world: World) -> None:
    app_sign_in(en, world.poor_consumer_id)
    assert en.get("/app/messages/999").status_code == 404
    assert en.post("/app/messages/999/click").status_code == 404
