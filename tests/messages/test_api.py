"""The API end to end: templates, consent, a send, the inbox, the funnel from analytics."""

from __future__ import annotations

from fastapi.testclient import TestClient

from ccare.core.db import Database
from ccare.core.subscribers import deliver
from ccare.core.time import utcnow
from ccare.core.worker import InProcessTransport, drain
from ccare.orders.schemas import OrderPaid
from ccare.runtime import Runtime
from tests.factories import consumer_login, login, make_consumer, make_merchant, make_staff

TEMPLATE = {
    "name": "Pickup ready",
    "category": "service",
    "title": "{shop}: order ready",
    "body": "Hi {name}, pick up order {order} at the counter.",
    "link": "pages/order/detail?id=1",
}


def _merchant(client: TestClient, db: Database) -> tuple[int, dict[str, str]]:
    m = make_merchant(db)
    return m.merchant_id, login(client, m.owner_email, m.password)


def test_template_crud_and_errors(client: TestClient, db: Database) -> None:
    _mid, owner = _merchant(client, db)

    created = client.post("/api/v1/message-templates", json=TEMPLATE, headers=owner)
    bad = client.post(
        "/api/v1/message-templates",
        json={**TEMPLATE, "name": "x", "body": "Hi {Name"},
        headers=owner,
    )
    bad_link = client.post(
        "/api/v1/message-templates",
        json={**TEMPLATE, "name": "y", "link": "https://evil.test/x"},
        headers=owner,
    )
    twice = client.post("/api/v1/message-templates", json=TEMPLATE, headers=owner)
    tid = created.json()["id"]
    changed = client.patch(
        f"/api/v1/message-templates/{tid}", json={"body": "Order {order} is ready"}, headers=owner
    )
    archived = client.post(f"/api/v1/message-templates/{tid}/archive", headers=owner)

    assert created.status_code == 201
    assert created.json()["variables"] == ["shop", "name", "order"]
    assert (bad.status_code, bad.json()["code"]) == (422, "message.template_syntax")
    assert bad.json()["details"] == {"field": "body", "position": 3}
    assert (bad_link.status_code, bad_link.json()["code"]) == (422, "message.link_invalid")
    assert (twice.status_code, twice.json()["code"]) == (409, "message.template_name_taken")
    assert changed.json()["variables"] == ["shop", "order"]
    assert archived.json()["status"] == "archived"


def test_consent_send_inbox_open_click_convert(
    client: TestClient, db: Database, runtime: Runtime
) -> None:
    mid, owner = _merchant(client, db)
    consumer_id = make_consumer(db, city="Hangzhou")
    me = consumer_login(client, consumer_id)
    tid = client.post("/api/v1/message-templates", json=TEMPLATE, headers=owner).json()["id"]
    variables = {"shop": "Tea House", "name": "Li", "order": "A12"}
    send = {"consumer_id": consumer_id, "variables": variables, "out_request_no": "s-1"}

    refused = client.post(f"/api/v1/message-templates/{tid}/send", json=send, headers=owner)
    prompt = client.get(f"/api/v1/me/message-prompt?merchant_id={mid}", headers=me)
    consent = client.post(
        "/api/v1/me/message-consents", json={"template_id": tid, "kind": "once"}, headers=me
    )
    prompt_after = client.get(f"/api/v1/me/message-prompt?merchant_id={mid}", headers=me)
    sent = client.post(
        f"/api/v1/message-templates/{tid}/send",
        json={**send, "out_request_no": "s-2"},
        headers=owner,
    )
    missing = client.post(
        f"/api/v1/message-templates/{tid}/send",
        json={**send, "variables": {"shop": "x"}, "out_request_no": "s-3"},
        headers=owner,
    )
    inbox = client.get("/api/v1/me/messages", headers=me)
    mid_ = sent.json()["id"]
    opened = client.post(f"/api/v1/me/messages/{mid_}/open", headers=me)
    clicked = client.post(f"/api/v1/me/messages/{mid_}/click", headers=me)
    refusals = client.get(f"/api/v1/message-templates/{tid}/refusals", headers=owner)

    assert (refused.status_code, refused.json()["code"]) == (403, "message.no_consent")
    assert prompt.json()["templates"] == [
        {
            "template_id": tid,
            "name": "Pickup ready",
            "category": "service",
            "title": "{shop}: order ready",
            "long_term": False,
            "once_remaining": 0,
        }
    ]
    assert consent.status_code == 201
    assert prompt_after.json()["templates"][0]["once_remaining"] == 1
    assert sent.status_code == 200, sent.text
    assert (sent.json()["state"], sent.json()["title"]) == ("sent", "Tea House: order ready")
    assert sent.json()["body"] == "Hi Li, pick up order A12 at the counter."
    assert missing.json()["code"] == "message.variables_missing"
    assert missing.json()["details"] == {"missing": ["name", "order"]}
    assert [(m["id"], m["state"]) for m in inbox.json()] == [(mid_, "delivered")]
    assert opened.json()["state"] == "opened"
    assert clicked.json()["state"] == "clicked"
    assert refusals.json() == {"template_id": tid, "refused": {"no_consent": 1}}

    paid = OrderPaid(
        merchant_id=mid,
        consumer_id=consumer_id,
        order_id=77,
        trade_no="t77",
        mini_program_id=1,
        items=[],
        amount=2590,
        platform_fee_fen=0,
        occurred_at=utcnow(),
    )
    deliver(db, paid)
    deliver(db, paid)  # redelivered: converts once
    drain(db, InProcessTransport(db, runtime.analytics))
    message = client.get(f"/api/v1/messages/{mid_}", headers=owner).json()
    funnel = client.get(f"/api/v1/message-funnel?template_id={tid}", headers=owner)

    assert message["state"] == "converted"
    assert funnel.json() == {
        "merchant_id": mid,
        "template_id": tid,
        "broadcast_id": None,
        "sent": 1,
        "delivered": 1,
        "opened": 1,
        "clicked": 1,
        "converted": 1,
        "converted_fen": 2590,
    }


def test_another_merchants_rows_are_not_found(client: TestClient, db: Database) -> None:
    _mid, owner = _merchant(client, db)
    _other, stranger = _merchant(client, db)
    consumer_id = make_consumer(db)
    tid = client.post("/api/v1/message-templates", json=TEMPLATE, headers=owner).json()["id"]
    send = {"consumer_id": consumer_id, "variables": {}, "out_request_no": "x"}

    reads = [
        client.get(f"/api/v1/message-templates/{tid}", headers=stranger).status_code,
        client.get(f"/api/v1/message-templates/{tid}/refusals", headers=stranger).status_code,
        client.post(
            f"/api/v1/message-templates/{tid}/send", json=send, headers=stranger
        ).status_code,
        client.post(f"/api/v1/message-templates/{tid}/archive", headers=stranger).status_code,
    ]
    still = client.get(f"/api/v1/message-templates/{tid}", headers=owner).json()["status"]

    assert reads == [404, 404, 404, 404]
    assert still == "active"


def test_clerks_read_but_do_not_send(client: TestClient, db: Database) -> None:
    mid, owner = _merchant(client, db)
    clerk = make_staff(db, mid, role="clerk")
    clerk_h = login(client, clerk.email, clerk.password)
    tid = client.post("/api/v1/message-templates", json=TEMPLATE, headers=owner).json()["id"]

    read = client.get(f"/api/v1/message-templates/{tid}", headers=clerk_h)
    create = client.post(
        "/api/v1/message-templates", json={**TEMPLATE, "name": "c"}, headers=clerk_h
    )

    assert read.status_code == 200
    assert (create.status_code, create.json()["code"]) == (403, "message.manager_only")


def test_platform_settings_and_time_zone(client: TestClient, db: Database) -> None:
    from tests.factories import make_operator

    op = make_operator(db)
    operator = login(client, op.email, op.password)
    consumer_id = make_consumer(db, city="Hong Kong")
    me = consumer_login(client, consumer_id)

    default = client.get("/api/v1/message-settings", headers=operator).json()
    changed = client.put(
        "/api/v1/message-settings",
        json={
            "marketing_per_day": 2,
            "marketing_per_week": 5,
            "quiet_start": "22:00",
            "quiet_end": "08:30",
        },
        headers=operator,
    )
    backwards = client.put(
        "/api/v1/message-settings",
        json={
            "marketing_per_day": 9,
            "marketing_per_week": 5,
            "quiet_start": "22:00",
            "quiet_end": "08:30",
        },
        headers=operator,
    )
    zone = client.get("/api/v1/me/message-settings", headers=me).json()
    bad_zone = client.put(
        "/api/v1/me/message-settings", json={"time_zone": "Mars/Base"}, headers=me
    )
    set_zone = client.put(
        "/api/v1/me/message-settings", json={"time_zone": "Asia/Tokyo"}, headers=me
    ).json()

    assert default == {
        "marketing_per_day": 3,
        "marketing_per_week": 10,
        "quiet_start": "21:00",
        "quiet_end": "09:00",
    }
    assert changed.json() == {
        "marketing_per_day": 2,
        "marketing_per_week": 5,
        "quiet_start": "22:00",
        "quiet_end": "08:30",
    }
    assert backwards.json()["code"] == "message.caps_invalid"
    assert zone == {"time_zone": "Asia/Shanghai"}  # no consumer.registered delivered yet
    assert bad_zone.json()["code"] == "message.time_zone_invalid"
    assert set_zone == {"time_zone": "Asia/Tokyo"}


def test_consumers_rows_are_their_own(client: TestClient, db: Database) -> None:
    mid, owner = _merchant(client, db)
    _other, stranger = _merchant(client, db)
    alice, bob = make_consumer(db), make_consumer(db)
    alice_h, bob_h = consumer_login(client, alice), consumer_login(client, bob)
    tid = client.post("/api/v1/message-templates", json=TEMPLATE, headers=owner).json()["id"]
    consent = client.post(
        "/api/v1/me/message-consents", json={"template_id": tid, "kind": "once"}, headers=alice_h
    ).json()["id"]
    variables = {"shop": "a", "name": "b", "order": "c"}
    sent = client.post(
        f"/api/v1/message-templates/{tid}/send",
        json={"consumer_id": alice, "variables": variables, "out_request_no": "n"},
        headers=owner,
    ).json()["id"]

    by_bob = [
        client.post(f"/api/v1/me/messages/{sent}/open", headers=bob_h).json()["code"],
        client.post(f"/api/v1/me/messages/{sent}/click", headers=bob_h).json()["code"],
        client.post(f"/api/v1/me/message-consents/{consent}/revoke", headers=bob_h).json()["code"],
    ]
    by_staff = client.post(f"/api/v1/me/messages/{sent}/open", headers=owner).json()["code"]
    foreign = client.post(
        "/api/v1/message-templates", json={**TEMPLATE, "merchant_id": mid}, headers=stranger
    )

    assert by_bob == ["message.not_found", "message.not_found", "message.consent_not_found"]
    assert by_staff == "auth.consumer_only"
    assert (foreign.status_code, foreign.json()["code"]) == (404, "merchant.not_found")
    assert client.get("/api/v1/me/messages", headers=bob_h).json() == []
