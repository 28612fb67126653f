"""The demo in motion: the live world finds the demo's shops and consumers through the
API, and its visits become paid orders the merchants' dashboards count."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from ccare.core.worker import InProcessTransport, drain
from ccare.demo import data
from ccare.demo import world as demo
from ccare.runtime import Runtime
from ccare.sim import runner, world
from ccare.sim.api import Actor, Api


def paid_orders(api: Api, operator: Actor) -> int:
    count, offset = 0, 0
    while True:
        page = api.call(
            operator,
            "GET",
            "/api/v1/orders",
            "orders.list",
            params={"status": "paid", "limit": 200, "offset": offset},
        )
        count += len(page["items"])
        if len(page["items"]) < 200:
            return count
        offset += 200


def test_the_live_world_buys_from_the_demo_shops(client: TestClient, runtime: Runtime) -> None:
    demo.seed(runtime)
    api = Api(client)
    found = world.discover(api, 1, data.OPERATOR_EMAIL, data.PASSWORD)
    assert len(found.people) == data.CONSUMER_COUNT
    directory = api.call(
        found.operator, "GET", "/api/v1/public/mini-programs", "d", params={"limit": 200}
    )
    assert {s.mini_program_id for s in found.shops} <= {m["id"] for m in directory}
    assert len(found.shops) >= len(data.MERCHANTS)
    before = paid_orders(api, found.operator)
    found.wait = lambda seconds: None  # no real pause before a tap: this test counts orders
    report = runner.run(api, found, days=1)
    bought = sum(len(re.findall(r"paid \d+", what)) for _, _, what in report.log)
    assert report.errors == 0
    assert bought > 0
    assert paid_orders(api, found.operator) == before + bought
    drain(runtime.db, InProcessTransport(runtime.db, runtime.analytics))
    assert runtime.analytics is not None
    assert runtime.analytics.count("order.paid") >= before + bought
