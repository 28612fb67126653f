"""The demo world: complete, idempotent, and every account in it can sign in."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select

import ccare.core.idempotency  # noqa: F401  (its table is wiped between tests)
from ccare.core.db import Base, Database
from ccare.demo import data, world
from ccare.runtime import Runtime


def table_counts(db: Database) -> dict[str, int]:
    with db.engine.connect() as conn:
        return {
            name: conn.execute(select(func.count()).select_from(table)).scalar_one()
            for name, table in sorted(Base.metadata.tables.items())
        }


def test_seeding_twice_leaves_the_same_rows(runtime: Runtime) -> None:
    ticks: list[str] = []
    first = world.seed(runtime, progress=ticks.append)
    assert len(ticks) == world.step_count()
    after_first = table_counts(runtime.db)

    second = world.seed(runtime)
    assert table_counts(runtime.db) == after_first
    assert second.created == {}
    assert second.events_relayed == 0
    assert first.merchants.keys() == second.merchants.keys()
    assert first.consumer_ids == second.consumer_ids

    assert after_first["merchants"] == len(data.MERCHANTS)
    assert after_first["consumers"] == data.CONSUMER_COUNT
    assert after_first["isvs"] == 1
    assert after_first["isv_grants"] == len(data.ISV.operates)
    assert first.created["stores"] == sum(len(m.stores) for m in data.MERCHANTS)
    assert first.created["items"] == sum(len(m.items) for m in data.MERCHANTS)


def test_the_world_has_what_the_product_map_describes(runtime: Runtime) -> None:
    from ccare.catalog import service as catalog
    from ccare.consumers import service as consumers
    from ccare.core.tenancy import PLATFORM
    from ccare.ledger import service as ledger
    from ccare.merchants import service as merchants
    from ccare.orders import service as orders

    summary = world.seed(runtime)
    with runtime.db.transaction() as s:
        by_slug = {m.slug: m for m in merchants.list_merchants(s, PLATFORM)}
        assert by_slug["laojie-breakfast"].city == "Hangzhou"
        assert by_slug["laojie-breakfast"].industry == "catering"
        supermarket = by_slug["xiandaojia-market"]
        cities = {st.city for st in merchants.list_stores(s, PLATFORM, supermarket.id)}
        assert len(cities) == 9
        gym = summary.merchants["ranli-fitness"]
        kinds = {i.kind for i in catalog.list_items(s, PLATFORM, gym.mini_program_id)}
        assert kinds == {"service", "goods"}
        breakfast = summary.merchants["laojie-breakfast"]
        names = " ".join(i.name for i in catalog.list_items(s, PLATFORM, breakfast.mini_program_id))
        assert "豆浆" in names and "油条" in names and "包" in names

        people = consumers.list_consumers(s, limit=1000)
        assert {c.member_level for c in people} == {"public", "gold", "platinum", "diamond"}
        assert len({c.city for c in people}) >= 8
        assert all(ledger.wallet_balance(s, c.id) > 0 for c in people)

        statuses = [o.status for o in orders.list_orders(s, PLATFORM, limit=1000)]
        assert statuses.count("paid") >= 100
        assert "refunded" in statuses and "partially_refunded" in statuses
        assert statuses.count("created") == len(data.UNPAID_ORDERS)
        assert ledger.check_invariants(s) == []

    # The worker's drain reached the analytics store the consoles' charts read.
    assert runtime.analytics is not None
    assert runtime.analytics.count("order.paid") == statuses.count("paid") + 2
    assert runtime.analytics.count("order.refunded") == 2


def test_every_demo_account_can_sign_in(runtime: Runtime, client: TestClient) -> None:
    world.seed(runtime)
    expected_kind = {"operator": "operator", "merchant": "merchant_staff", "isv": "isv_staff"}
    for console, _who, email, password in world.credentials():
        r = client.post("/api/v1/auth/login", json={"email": email, "password": password})
        assert r.status_code == 200, (email, r.text)
        me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {r.json()['token']}"})
        assert me.json()["kind"] == expected_kind[console], email


def test_every_demo_merchant_has_an_owner(runtime: Runtime) -> None:
    from ccare.core.tenancy import PLATFORM, StaffRole
    from ccare.merchants import service as merchants

    summary = world.seed(runtime)
    emails = {email for _c, _w, email, _p in world.credentials()}
    with runtime.db.transaction() as s:
        for record in summary.merchants.values():
            owners = [
                st
                for st in merchants.list_staff(s, PLATFORM, record.merchant_id)
                if st.role == StaffRole.OWNER and st.active
            ]
            assert len(owners) == 1
            assert owners[0].email in emails


def test_paid_orders_give_the_dashboards_two_weeks_of_history(runtime: Runtime) -> None:
    world.seed(runtime)
    assert runtime.analytics is not None
    days = runtime.analytics.events_table().filter(lambda t: t.type == "order.paid")
    per_day = days.group_by(day=days.occurred_at.date()).aggregate(n=days.count()).execute()
    assert len(per_day) >= 10
    assert int(per_day["n"].sum()) == runtime.analytics.count("order.paid")


def test_the_isv_plugin_app_signs_calls_for_each_merchant_it_operates(
    runtime: Runtime, client: TestClient
) -> None:
    from pathlib import Path

    from ccare.client import CcareClient

    summary = world.seed(runtime)
    key_dir = Path(summary.app_key_path).parent
    tokens = dict(
        line.split(" app_auth_token=")
        for line in (key_dir / f"{summary.app_id}.tokens").read_text().splitlines()
    )
    api = CcareClient(
        app_id=summary.app_id, private_key=Path(summary.app_key_path).read_text(), http=client
    )

    assert sorted(tokens) == sorted(data.ISV.operates)
    for slug, token in tokens.items():
        assert api.acting_for(token).whoami() == {
            "app_id": summary.app_id,
            "kind": "app",
            "merchant_id": summary.merchants[slug].merchant_id,
            "scopes": ["catalog", "orders"],
        }
    again = world.seed(runtime)
    assert (again.app_id, again.app_key_path, again.created) == (summary.app_id, "", {})
