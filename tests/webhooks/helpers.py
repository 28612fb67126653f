"""A local receiver for notifications, and a shop whose orders make them."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from fastapi.testclient import TestClient

from ccare.core.db import Database
from ccare.core.signing import PrivateKey, SignAlgorithm, load_public_key
from ccare.core.tenancy import Principal, PrincipalKind, Tenant
from ccare.core.worker import InProcessTransport, drain
from tests.factories import (
    MerchantRef,
    login,
    make_consumer,
    make_item,
    make_merchant,
    make_mini_program,
)
from tests.openplatform.helpers import new_app


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


# (status, body, seconds to wait before answering)
Answer = tuple[int, str, float]


@dataclass
class Receiver:
    """An HTTP server in a thread: records every POST, answers as `answer` says."""

    answer: Callable[[Received], Answer] = lambda _r: (200, "success", 0.0)
    requests: list[Received] = field(default_factory=list)
    in_flight: int = 0
    # Seconds between the bytes of an answer's body (0: all at once).
    trickle: float = 0.0
    # Requests cut off before their body was complete: the sender died mid-request.
    torn: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                got = Received(
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length),
                    time.monotonic(),
                )
                if len(got.body) < length:
                    with receiver.lock:
                        receiver.torn += 1
                    return
                with receiver.lock:
                    receiver.requests.append(got)
                    receiver.in_flight += 1
                try:
                    status, text, delay = receiver.answer(got)
                    time.sleep(delay)
                    payload = text.encode()
                    self.send_response(status)
                    self.send_header("content-type", "text/plain; charset=utf-8")
                    self.send_header("content-length", str(len(payload)))
                    self.end_headers()
                    if receiver.trickle:
                        for i in range(len(payload)):
                            self.wfile.write(payload[i : i + 1])
                            self.wfile.flush()
                            time.sleep(receiver.trickle)
                    else:
                        self.wfile.write(payload)
                except OSError:
                    pass  # the sender is gone (timed out or killed)
                finally:
                    with receiver.lock:
                        receiver.in_flight -= 1

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def snapshot(self) -> list[Received]:
        with self.lock:
            return list(self.requests)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass(frozen=True)
class Shop:
    merchant: MerchantRef
    owner: dict[str, str]
    mini_program_id: int
    item_id: int  # 88.88 yuan
    consumer_id: int
    app: dict[str, Any]


def open_shop(
    client: TestClient,
    db: Database,
    key: PrivateKey | None,
    *,
    name: str = "Tea House",
    scopes: tuple[str, ...] = ("catalog", "orders", "webhooks"),
) -> Shop:
    merchant = make_merchant(db, name=name)
    owner = login(client, merchant.owner_email, merchant.password)
    mini_program = make_mini_program(db, merchant.merchant_id)
    item = make_item(db, merchant.merchant_id, mini_program, name="乌龙茶 Oolong", price_fen=8888)
    app = new_app(client, owner, key, scopes=scopes, name=f"{name} till")
    return Shop(merchant, owner, mini_program, item, make_consumer(db), app)


def consumer(consumer_id: int) -> Principal:
    return Principal(kind=PrincipalKind.CONSUMER, id=consumer_id, tenant=Tenant())


def place_order(
    db: Database, shop: Shop, *, pay: bool = True, out_trade_no: str | None = None
) -> int:
    from ccare.ledger import service as ledger
    from ccare.orders import service as orders
    from ccare.orders.schemas import LineIn, OrderCreate

    data = OrderCreate(
        mini_program_id=shop.mini_program_id,
        lines=[LineIn(item_id=shop.item_id, quantity=1)],
        out_trade_no=out_trade_no,
    )
    with db.transaction() as s:
        order_id = orders.create_order(s, consumer(shop.consumer_id), data).id
    if pay:
        with db.transaction() as s:
            ledger.top_up(s, shop.consumer_id, 8888, f"top-up:{uuid.uuid4().hex}")
        with db.transaction() as s:
            orders.pay_order(s, consumer(shop.consumer_id), order_id)
    return order_id


def relay(db: Database) -> int:
    """What the worker's relay does: run the subscribers of every committed event."""
    return drain(db, InProcessTransport(db, None))


def platform_key(client: TestClient, algorithm: SignAlgorithm = SignAlgorithm.RSA2) -> Any:
    r = client.get("/api/v1/platform-key", params={"algorithm": algorithm.value})
    assert r.status_code == 200, r.text
    return load_public_key(r.json()["public_key"])


def subscribe(
    client: TestClient, shop: Shop, url: str, event_types: list[str], **extra: Any
) -> dict[str, Any]:
    r = client.post(
        f"/api/v1/apps/{shop.app['app_id']}/webhooks",
        json={"url": url, "event_types": event_types, **extra},
        headers=shop.owner,
    )
    assert r.status_code == 201, r.text
    result: dict[str, Any] = r.json()
    return result
