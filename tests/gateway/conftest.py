"""A shop with a developer app and a buyer with money, and the gateway over real HTTP.

`server` runs the app of the test's own runtime (same database) under uvicorn in a
thread, so the SDK subprocesses reach it like a production gateway.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import select

from ccare.core.db import Base, Database
from ccare.core.signing import (
    PrivateKey,
    SignAlgorithm,
    generate_private_key,
    load_public_key,
    sign,
    v1_content,
    verify,
)
from ccare.core.time import beijing_text, utcnow
from ccare.runtime import Runtime
from ccare.web.app import create_app
from tests.factories import (
    MerchantRef,
    consumer_login,
    login,
    make_consumer,
    make_merchant,
    make_mini_program,
)
from tests.gateway.sdks import SdkApp
from tests.openplatform.helpers import new_app

# One RSA key per run: generating 2048-bit keys is the slow part of a test.
APP_KEY = generate_private_key(SignAlgorithm.RSA2)
OTHER_KEY = generate_private_key(SignAlgorithm.RSA2)
WALLET_FEN = 50_000


@dataclass(frozen=True)
class Shop:
    merchant: MerchantRef
    owner: dict[str, str]
    mini_program_id: int
    app_id: str
    consumer_id: int
    buyer: dict[str, str]

    @property
    def buyer_id(self) -> str:
        return f"20880{self.consumer_id:011d}"


def open_shop(client: TestClient, db: Database, name: str = "Tea House") -> Shop:
    from ccare.ledger import service as ledger

    merchant = make_merchant(db, name=name)
    owner = login(client, merchant.owner_email, merchant.password)
    mini_program = make_mini_program(db, merchant.merchant_id, name=f"{name} shop")
    app = new_app(client, owner, APP_KEY, name=f"{name} till")
    consumer = make_consumer(db, name=f"Buyer of {name}")
    with db.transaction() as s:
        ledger.top_up(s, consumer, WALLET_FEN, f"test:{consumer}")
    return Shop(
        merchant=merchant,
        owner=owner,
        mini_program_id=mini_program,
        app_id=app["app_id"],
        consumer_id=consumer,
        buyer=consumer_login(client, consumer),
    )


@pytest.fixture
def shop(client: TestClient, db: Database) -> Shop:
    return open_shop(client, db)


@pytest.fixture
def server(runtime: Runtime) -> Iterator[str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(runtime), log_level="warning", lifespan="off")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not uv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    uv.should_exit = True
    thread.join(timeout=10)
    sock.close()


def sdk_app(client: TestClient, url: str, app_id: str, key: PrivateKey = APP_KEY) -> SdkApp:
    """The platform key in the format each SDK documents: bare base64 SPKI for the official
    one (what Alipay's console shows), a PEM for fzlee's."""
    keys = {
        sdk: client.get("/api/v1/platform-key", params={"format": fmt}).json()["public_key"]
        for sdk, fmt in (("alipay-sdk-python", "base64"), ("python-alipay-sdk", "spki"))
    }
    return SdkApp(url=url, app_id=app_id, key=key, platform_keys=keys)


# --- raw v1 calls, for the inputs no SDK would send ---------------------------------------


def v1_params(
    app_id: str,
    method: str | None,
    biz: dict[str, Any] | str | None = None,
    *,
    key: PrivateKey = APP_KEY,
    **common: str,
) -> dict[str, str]:
    params = {
        "app_id": app_id,
        "charset": "utf-8",
        "format": "json",
        "sign_type": "RSA2",
        "timestamp": beijing_text(utcnow()),
        "version": "1.0",
    }
    if method is not None:
        params["method"] = method
    if biz is not None:
        params["biz_content"] = biz if isinstance(biz, str) else json.dumps(biz)
    params.update(common)
    params["sign"] = sign(key, v1_content(params).encode())
    return params


def gateway(client: TestClient, params: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """POST the call; check the answer is a 200 signed by the platform; (key, inner object)."""
    response = client.post("/gateway.do", data=params)
    assert response.status_code == 200, response.text
    return verified(client, response.content)


def verified(client: TestClient, body: bytes) -> tuple[str, dict[str, Any]]:
    decoded = json.loads(body)
    name = next(iter(decoded))
    assert list(decoded) == [name, "sign"], body
    head = b'{"' + name.encode() + b'":'
    inner = body[len(head) : body.rindex(b',"sign":"')]
    platform = client.get("/api/v1/platform-key").json()["public_key"]
    assert verify(load_public_key(platform), inner, decoded["sign"]), body
    return name, json.loads(inner)


def snapshot(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table but sign-in sessions (which refused calls do not touch)."""
    with db.transaction() as s:
        return {
            t.name: sorted(map(tuple, s.execute(select(t)).all()), key=repr)
            for t in Base.metadata.sorted_tables
            if t.name != "auth_sessions"
        }
