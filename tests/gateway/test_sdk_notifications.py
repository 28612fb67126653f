"""A gateway trade's notify_url gets `trade_status_sync`, and each SDK's own notification
check accepts it (and refuses a tampered copy)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

import pytest
from fastapi.testclient import TestClient

from ccare.core.db import Database
from ccare.core.signing import export_private_key
from ccare.webhooks import tasks
from tests.gateway.conftest import Shop, sdk_app
from tests.gateway.sdks import SDK, SDKS, sdk_calls
from tests.sdk_driver import run_sdk
from tests.webhooks.helpers import Receiver, relay

_CHECK = {
    # The official SDK has no notification helper: its documented pieces, V1 rule.
    "alipay-sdk-python": """
from alipay.aop.api.util.SignatureUtils import get_sign_content, verify_with_rsa

def check(form):
    data = dict(form)
    sign = data.pop("sign")
    data.pop("sign_type")
    try:
        verify_with_rsa(PLATFORM_KEY, get_sign_content(data).encode("utf-8"), sign)
        return True
    except Exception:
        return False
""",
    "python-alipay-sdk": """
from alipay import AliPay

client = AliPay(APP_ID, app_private_key_string=PRIVATE_KEY, alipay_public_key_string=PLATFORM_KEY)

def check(form):
    data = dict(form)
    sign = data.pop("sign")
    return client.verify(data, sign)
""",
}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def _sdk_verifies(sdk: SDK, app: Any, forms: list[dict[str, str]]) -> list[bool]:
    code = (
        f"APP_ID = {app.app_id!r}\n"
        f"PRIVATE_KEY = {export_private_key(app.key, 'pkcs1')!r}\n"
        f"PLATFORM_KEY = {app.platform_keys[sdk]!r}\n"
        f"FORMS = {json.dumps(forms)!r}\n"
        + _CHECK[sdk]
        + "import json\nresult = [check(f) for f in json.loads(FORMS)]\n"
    )
    result: list[bool] = run_sdk(sdk, code)
    return result


@pytest.mark.parametrize("sdk", SDKS)
def test_the_sdk_verifies_the_platforms_trade_notification(
    sdk: SDK, client: TestClient, db: Database, shop: Shop, server: str, receiver: Receiver
) -> None:
    app = sdk_app(client, server, shop.app_id)
    create = {
        "out_trade_no": "N-1",
        "total_amount": "23.45",
        "subject": "碧螺春 Biluochun",
        "buyer_id": shop.buyer_id,
    }
    [created] = sdk_calls(
        sdk, app, [("alipay.trade.create", create, {"notify_url": receiver.url("/notify")})]
    )
    order = client.get("/api/v1/orders", headers=shop.owner).json()["items"][0]
    paid = client.post(
        f"/api/v1/orders/{order['id']}/pay", headers={**shop.buyer, "Idempotency-Key": "n-1"}
    )
    relay(db)
    sent = tasks.send_due(db, lease_seconds=5.0, concurrency=1)

    [got] = receiver.snapshot()
    form = dict(parse_qsl(got.body.decode("ascii"), keep_blank_values=True))
    tampered = {**form, "total_amount": "0.01"}

    assert (created["code"], paid.status_code, sent, got.path) == ("10000", 200, 1, "/notify")
    assert (form["trade_status"], form["out_trade_no"], form["total_amount"]) == (
        "TRADE_SUCCESS",
        "N-1",
        "23.45",
    )
    assert form["subject"] == "碧螺春 Biluochun"
    assert _sdk_verifies(sdk, app, [form, tampered]) == [True, False]
