"""The notification log of the developer console: webhooks, deliveries, attempts, replays.

Notifications go to a real HTTP receiver on a local port; the clock of each sending round
is fixed, so the times the pages show are exact.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from ccare.core.db import Database
from ccare.core.signing import SignAlgorithm, generate_private_key
from ccare.core.time import as_utc, beijing_text, utcnow
from ccare.webhooks import tasks
from ccare.webhooks.models import DeliveryAttempt, WebhookDelivery, WebhookSubscription
from tests.factories import make_merchant, make_staff
from tests.openplatform.helpers import new_app
from tests.web.conftest import sign_in
from tests.webhooks.helpers import (
    Answer,
    Received,
    Receiver,
    Shop,
    open_shop,
    place_order,
    relay,
    subscribe,
)

RSA = generate_private_key(SignAlgorithm.RSA2)
FORM_KEY = re.compile(r'name="idempotency_key" value="([0-9a-f]{32})"')
ROW = re.compile(r'<tr data-delivery-id="(\d+)" data-state="(\w+)">(.*?)</tr>', re.S)
HOOK_ROW = re.compile(r'<tr data-webhook-id="(\d+)" data-state="(\w+)">(.*?)</tr>', re.S)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@dataclass(frozen=True)
class Log:
    shop: Shop
    url: str  # the log page
    hook_id: int
    delivered: int  # order.created of the first order, answered "success"
    pending: int  # order.paid of the first order, answered 500
    dead: int  # order.created of the second order, 8 × 503
    sent_at: datetime  # the first round


def _text(fragment: str) -> str:
    """What a cell reads: tags dropped, entities decoded, blanks (also no-break) folded."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def _cells(row: str) -> list[str]:
    return [_text(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]


def _rows(page: str) -> list[tuple[int, str, list[str]]]:
    return [(int(i), state, _cells(body)) for i, state, body in ROW.findall(page)]


def _shown(at: datetime | None, seconds: bool = True) -> str:
    if at is None:
        return "—"
    text = beijing_text(at)
    return text if seconds else text[:16]


def _html_time(at: datetime) -> str:
    """A time as the page writes it: a no-break space between date and time."""
    return _shown(at).replace(" ", "\u00a0")


def _row(db: Database, delivery_id: int) -> WebhookDelivery:
    with db.transaction() as s:
        row = s.get(WebhookDelivery, delivery_id)
        assert row is not None
        return row


def _attempts(db: Database, delivery_id: int) -> list[DeliveryAttempt]:
    with db.transaction() as s:
        stmt = select(DeliveryAttempt).where(DeliveryAttempt.delivery_id == delivery_id)
        return list(s.scalars(stmt.order_by(DeliveryAttempt.id)))


def _form_key(page: str) -> str:
    match = FORM_KEY.search(page)
    assert match is not None
    return match.group(1)


def _console(client: TestClient, email: str, password: str) -> None:
    client.cookies.clear()
    client.cookies.set("ccare_locale", "en")
    sign_in(client, email, password)


def _by_type(created: Answer, paid: Answer) -> Callable[[Received], Answer]:
    def answer(r: Received) -> Answer:
        return created if json.loads(r.body)["type"] == "order.created" else paid

    return answer


def _make_log(client: TestClient, db: Database, receiver: Receiver) -> Log:
    shop = open_shop(client, db, RSA)
    hook = subscribe(client, shop, receiver.url(), ["order.created", "order.paid"])
    place_order(db, shop)
    relay(db)
    receiver.answer = _by_type((200, "success", 0.0), (500, "oops", 0.0))
    sent_at = utcnow().replace(microsecond=0) + timedelta(hours=1)
    assert tasks.send_due(db, lease_seconds=5, concurrency=4, now=sent_at) == 2

    place_order(db, shop, pay=False)
    relay(db)
    receiver.answer = lambda _r: (503, "busy", 0.0)
    for n in range(1, 9):
        at = sent_at + timedelta(seconds=n)
        assert tasks.send_due(db, lease_seconds=5, concurrency=1, retry_scale=0.0, now=at) == 1

    with db.transaction() as s:
        ids = list(s.scalars(select(WebhookDelivery.id).order_by(WebhookDelivery.id)))
    assert len(ids) == 3
    _console(client, shop.merchant.owner_email, shop.merchant.password)
    url = f"/console/developer/apps/{shop.app['app_id']}/notifications"
    return Log(shop, url, hook["id"], ids[0], ids[1], ids[2], sent_at)


@pytest.fixture
def log(client: TestClient, db: Database, receiver: Receiver) -> Log:
    return _make_log(client, db, receiver)


# ---------------------------------------------------------------- the log


def test_the_log_lists_the_webhooks_and_every_delivery_newest_first(
    client: TestClient, db: Database, receiver: Receiver, log: Log
) -> None:
    app_id = log.shop.app["app_id"]
    app_page = client.get(f"/console/developer/apps/{app_id}").text
    assert (
        f'<a href="{log.url}" role="button" class="small outline" id="notification-log">'
        "Notification log</a>" in app_page
    )

    r = client.get(log.url)
    assert r.status_code == 200
    page = r.text
    assert '<h1 class="page-title">Notification log</h1>' in page
    # Still the apps tab of the developer console.
    assert '<a href="/console/developer" class="active" aria-current="page">Apps</a>' in page
    assert f'<a href="/console/developer/apps/{app_id}">← Back to the app</a>' in page

    hooks = HOOK_ROW.findall(page)
    assert [(int(i), state) for i, state, _ in hooks] == [(log.hook_id, "active")]
    assert _cells(hooks[0][2])[:4] == [
        f"#{log.hook_id}",
        receiver.url(),
        "order.created order.paid",
        "Active",
    ]

    delivered, pending, dead = (_row(db, i) for i in (log.delivered, log.pending, log.dead))
    target = f"Webhook #{log.hook_id} {receiver.url()}"
    assert _rows(page) == [
        (
            log.dead,
            "dead",
            [
                dead.notify_id,
                "order.created",
                target,
                "Dead",
                "8",
                "—",
                "HTTP 503: expected exactly 'success', got 'busy'",
                _shown(dead.created_at, seconds=False),
            ],
        ),
        (
            log.pending,
            "pending",
            [
                pending.notify_id,
                "order.paid",
                target,
                "Pending",
                "1",
                _shown(log.sent_at + timedelta(minutes=4)),
                "HTTP 500: expected exactly 'success', got 'oops'",
                _shown(pending.created_at, seconds=False),
            ],
        ),
        (
            log.delivered,
            "delivered",
            [
                delivered.notify_id,
                "order.created",
                target,
                "Delivered",
                "1",
                "—",
                "HTTP 200",
                _shown(delivered.created_at, seconds=False),
            ],
        ),
    ]
    assert f'<a class="mono" href="{log.url}/{log.pending}">{pending.notify_id}</a>' in page
    assert (
        f'<a href="{log.url}" data-filter="all" class="active" aria-current="page">All</a>' in page
    )


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("pending", ["pending"]),
        ("delivered", ["delivered"]),
        ("dead", ["dead"]),
        ("", ["dead", "pending", "delivered"]),
        ("bogus", ["dead", "pending", "delivered"]),
    ],
)
def test_the_log_filters_by_status(
    client: TestClient, log: Log, status: str, expected: list[str]
) -> None:
    page = client.get(log.url, params={"status": status} if status else None).text
    ids = {"delivered": log.delivered, "pending": log.pending, "dead": log.dead}
    assert [(i, state) for i, state, _ in _rows(page)] == [(ids[s], s) for s in expected]
    active = re.findall(r'data-filter="(\w+)" class="active"', page)
    assert active == [status if status in ids else "all"]


def test_a_delivery_shows_its_payload_and_every_attempt(
    client: TestClient, db: Database, receiver: Receiver, log: Log
) -> None:
    dead = _row(db, log.dead)
    page = client.get(f"{log.url}/{log.dead}").text
    assert '<h1 class="page-title">Notification</h1>' in page
    assert f'<h2 class="mono" id="notify-id">{dead.notify_id}</h2>' in page
    assert '<section class="panel" id="delivery" data-state="dead">' in page
    assert '<dd id="delivery-attempts">8</dd>' in page
    assert '<dd id="next-attempt">—</dd>' in page
    payload = re.search(r'<pre class="payload mono" id="payload">(.*?)</pre>', page, re.S)
    assert payload is not None
    assert json.loads(html.unescape(payload.group(1))) == dead.payload
    assert dead.payload["type"] == "order.created"

    history = re.findall(r'<tr data-attempt="(\d+)" data-succeeded="(\w+)">(.*?)</tr>', page, re.S)
    attempts = _attempts(db, log.dead)
    assert [(int(n), ok, _cells(body)) for n, ok, body in history] == [
        (
            n,
            "false",
            [
                str(n),
                _shown(log.sent_at + timedelta(seconds=n)),
                "503",
                "busy",
                "—",
                f"{attempts[n - 1].duration_ms} ms",
                "Failed",
            ],
        )
        for n in range(1, 9)
    ]
    assert f'<form method="post" action="{log.url}/{log.dead}/retry"' in page

    pending = client.get(f"{log.url}/{log.pending}").text
    assert f'<dd id="next-attempt">{_html_time(log.sent_at + timedelta(minutes=4))}</dd>' in pending


def test_retry_now_sends_the_delivery_again_as_the_service_says(
    client: TestClient, db: Database, receiver: Receiver, log: Log
) -> None:
    before = utcnow()
    r = client.post(f"{log.url}/{log.dead}/retry", follow_redirects=False)
    after = utcnow()
    assert (r.status_code, r.headers["location"]) == (303, f"{log.url}/{log.dead}?retried=1")
    row = _row(db, log.dead)
    # Pending and due now; the attempts so far and the last answer stay as they were.
    assert (row.status, row.attempts, row.last_status_code) == ("pending", 8, 503)
    assert before <= as_utc(row.next_attempt_at) <= after
    page = client.get(r.headers["location"]).text
    assert (
        '<p class="flash flash-ok" role="status">Sent again: the next attempt is due now.</p>'
        in page
    )
    assert '<section class="panel" id="delivery" data-state="pending">' in page
    assert f'<dd id="next-attempt">{_html_time(row.next_attempt_at)}</dd>' in page

    receiver.answer = lambda _r: (200, "success", 0.0)
    resent_at = log.sent_at + timedelta(minutes=1)
    assert tasks.send_due(db, lease_seconds=5, concurrency=1, now=resent_at) == 1
    row = _row(db, log.dead)
    assert (row.status, row.attempts, row.last_status_code, row.last_error) == (
        "delivered",
        9,
        200,
        None,
    )
    page = client.get(f"{log.url}/{log.dead}").text
    history = re.findall(r'<tr data-attempt="(\d+)" data-succeeded="(\w+)">(.*?)</tr>', page, re.S)
    assert [(int(n), ok) for n, ok, _ in history] == [(n, "false") for n in range(1, 9)] + [
        (9, "true")
    ]
    assert _cells(history[-1][2])[:5] == ["9", _shown(resent_at), "200", "success", "—"]
    assert _cells(history[-1][2])[-1] == "Delivered"
    assert [(i, s) for i, s, _ in _rows(client.get(log.url, params={"status": "dead"}).text)] == []
    # Each attempt carried the same notify_id.
    ids = {g.headers["ccare-notify-id"] for g in receiver.requests if b"order.created" in g.body}
    assert row.notify_id in ids


# ---------------------------------------------------------------- webhooks through forms


def _hooks(db: Database) -> list[tuple[str, list[str], str, str]]:
    with db.transaction() as s:
        rows = s.scalars(select(WebhookSubscription).order_by(WebhookSubscription.id))
        return [(h.url, list(h.event_types), h.status.value, h.description) for h in rows]


def test_webhooks_are_added_disabled_enabled_and_deleted_through_forms(
    client: TestClient, db: Database
) -> None:
    shop = open_shop(client, db, RSA)
    _console(client, shop.merchant.owner_email, shop.merchant.password)
    url = f"/console/developer/apps/{shop.app['app_id']}/notifications"
    page = client.get(url).text
    assert '<td colspan="6" class="empty-state">No webhook yet: add an endpoint below.</td>' in page
    assert '<td colspan="8" class="empty-state">No notifications here yet.</td>' in page
    boxes = re.findall(r'<input type="checkbox" name="event_types" value="([\w.]+)">', page)
    assert boxes == [
        "order.created",
        "order.paid",
        "order.closed",
        "order.refunded",
        "coupon.claimed",
        "coupon.used",
        "coupon.expired",
        "coupon.stock_exhausted",
        "favorite.added",
        "favorite.removed",
        "segment.refreshed",
        "campaign.started",
        "campaign.round_done",
        "campaign.finished",
        "message.sent",
        "message.opened",
        "message.clicked",
        "message.converted",
        "openplatform.app_authorized",
        "openplatform.key_rotated",
    ]

    form = {
        "url": "https://till.example.com/events",
        "event_types": ["order.refunded", "order.paid"],
        "description": "till",
        "idempotency_key": _form_key(page),
    }
    r = client.post(f"{url}/webhooks", data=form, follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, f"{url}?done=created")
    # The same form sent twice adds one webhook.
    again = client.post(f"{url}/webhooks", data=form, follow_redirects=False)
    assert again.headers["location"] == f"{url}?done=created"
    assert _hooks(db) == [
        ("https://till.example.com/events", ["order.paid", "order.refunded"], "active", "till")
    ]
    page = client.get(r.headers["location"]).text
    assert (
        '<p class="flash flash-ok" role="status">'
        "Webhook added: matching events are sent to it from now on.</p>" in page
    )
    [(hook_id, state, body)] = HOOK_ROW.findall(page)
    assert state == "active"
    assert _cells(body)[:4] == [
        f"#{hook_id}",
        "https://till.example.com/events till",
        "order.paid order.refunded",
        "Active",
    ]

    r = client.post(f"{url}/webhooks/{hook_id}/disable", follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, f"{url}?done=disabled")
    page = client.get(r.headers["location"]).text
    assert "Webhook disabled: new events are not sent to it." in page
    assert [(i, s) for i, s, _ in HOOK_ROW.findall(page)] == [(hook_id, "disabled")]
    assert f'action="{url}/webhooks/{hook_id}/enable"' in page
    assert _hooks(db)[0][2] == "disabled"

    r = client.post(f"{url}/webhooks/{hook_id}/enable", follow_redirects=False)
    assert r.headers["location"] == f"{url}?done=enabled"
    assert _hooks(db)[0][2] == "active"

    r = client.post(f"{url}/webhooks/{hook_id}/delete", follow_redirects=False)
    assert r.headers["location"] == f"{url}?done=deleted"
    page = client.get(r.headers["location"]).text
    assert (
        "Webhook deleted. Notifications already made are kept and still sent." in page
        and HOOK_ROW.findall(page) == []
    )
    assert _hooks(db) == []


def test_webhook_form_errors_keep_the_values(client: TestClient, db: Database) -> None:
    shop = open_shop(client, db, RSA)
    catalog_only = new_app(client, shop.owner, None, scopes=("catalog",), name="Menu sync")
    _console(client, shop.merchant.owner_email, shop.merchant.password)
    url = f"/console/developer/apps/{catalog_only['app_id']}/notifications"
    page = client.get(url).text
    # Order events need a scope this app does not have.
    assert page.count("(needs the orders scope)") == 4

    r = client.post(
        f"{url}/webhooks",
        data={
            "url": "https://menu.example.com/hook",
            "event_types": ["order.paid"],
            "idempotency_key": _form_key(page),
        },
    )
    assert r.status_code == 422
    assert (
        '<p class="flash flash-error" role="alert">'
        "The app lacks a scope these events need; add it to the app first: orders</p>" in r.text
    )
    assert 'name="url" value="https://menu.example.com/hook"' in r.text
    assert '<input type="checkbox" name="event_types" value="order.paid" checked>' in r.text

    r = client.post(
        f"{url}/webhooks",
        data={"url": "ftp://menu.example.com", "idempotency_key": _form_key(r.text)},
    )
    assert r.status_code == 422
    assert "Please check the values you entered. (Endpoint URL, Events)" in r.text
    assert _hooks(db) == []

    client.cookies.set("ccare_locale", "zh_CN")
    r = client.post(
        f"{url}/webhooks",
        data={
            "url": "https://menu.example.com/hook",
            "event_types": ["order.paid"],
            "idempotency_key": _form_key(r.text),
        },
    )
    assert "应用缺少这些事件所需的权限，请先为应用添加：orders" in r.text


# ---------------------------------------------------------------- who may not


def test_another_merchant_gets_404_and_changes_nothing(
    client: TestClient, db: Database, log: Log
) -> None:
    other = make_merchant(db, name="Other Shop")
    _console(client, other.owner_email, other.password)
    for path in (log.url, f"{log.url}/{log.dead}", f"{log.url}?status=dead"):
        r = client.get(path)
        assert r.status_code == 404, path
        assert "<p>Not found.</p>" in r.text
    for path in (
        f"{log.url}/{log.dead}/retry",
        f"{log.url}/webhooks/{log.hook_id}/disable",
        f"{log.url}/webhooks/{log.hook_id}/delete",
    ):
        assert client.post(path).status_code == 404, path
    r = client.post(
        f"{log.url}/webhooks", data={"url": "https://evil.example/x", "event_types": ["order.paid"]}
    )
    assert r.status_code == 404
    assert (_row(db, log.dead).status, _row(db, log.dead).attempts) == ("dead", 8)
    assert [h[2] for h in _hooks(db)] == ["active"]

    # The owner: a delivery id of no delivery of this app, and a malformed app id.
    _console(client, log.shop.merchant.owner_email, log.shop.merchant.password)
    assert client.get(f"{log.url}/999999").status_code == 404
    assert client.get("/console/developer/apps/12/notifications").status_code == 404


def test_clerks_and_visitors_are_refused(client: TestClient, db: Database, log: Log) -> None:
    clerk = make_staff(db, log.shop.merchant.merchant_id, role="clerk")
    _console(client, clerk.email, clerk.password)
    r = client.get(log.url)
    assert r.status_code == 403
    assert "<p>Your role does not allow this; ask an owner or a manager.</p>" in r.text
    assert client.post(f"{log.url}/{log.dead}/retry").status_code == 403
    assert _row(db, log.dead).status == "dead"

    client.cookies.clear()
    r = client.get(log.url, follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, f"/console/login?next={log.url}")
