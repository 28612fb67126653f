"""POST /api/v1/ad-decisions over HTTP against the same run's GET /api/v1/hello.

    python bench/ad_decide_http.py --seconds 15
    python bench/ad_decide_http.py --db postgres --groups 10000 --clients 8

Starts `ccare serve` (as `ccare demo` runs it) on a fresh database seeded with `--groups`
CPC ad groups on the home feed (spread over 20 advertisers, some limited to cities or
member levels, each with an approved creative and a funded account) and one consumer per
client. K clients (one thread and one keep-alive httpx connection each) measure hello,
then decisions signed in as their consumer: the consumer's context is read (city, level,
segments, today's impressions, converted plans), the index answers, the auction runs and
the tokens are signed. Prints both rates, p50/p99 and decisions/hello (goal ≥ 0.70).
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import httpx

from order_pay_http import (
    DEFAULT_PG,
    free_port,
    fresh_postgres,
    machine,
    run_phase,
    start_server,
)

CITIES = ("Hangzhou", "Shanghai", "Beijing", "Shenzhen")


def seed(env: dict[str, str], groups: int, clients: int) -> list[int]:
    from ccare import migrations
    from ccare.catalog import service as catalog
    from ccare.catalog.schemas import MiniProgramCreate
    from ccare.config import Settings
    from ccare.consumers import service as consumers
    from ccare.consumers.schemas import ConsumerCreate
    from ccare.core.tenancy import PLATFORM, Principal, PrincipalKind
    from ccare.ledger import service as ledger
    from ccare.merchants import service as merchants
    from ccare.merchants.schemas import MerchantCreate
    from ccare.promotion import service as promotion
    from ccare.promotion.schemas import CreativeCreate, GroupCreate, PlanCreate, ReviewRequest
    from ccare.runtime import Runtime

    settings = Settings(
        database_url=env["CCARE_DATABASE_URL"],
        data_dir=Path(env["CCARE_DATA_DIR"]),
        analytics_path=env["CCARE_ANALYTICS_PATH"],
        _env_file=None,  # type: ignore[call-arg]
    )
    migrations.upgrade(settings.effective_database_url)
    migrations.upgrade(settings.effective_sandbox_database_url)
    runtime = Runtime.from_settings(settings)
    actor = Principal(kind=PrincipalKind.OPERATOR, id=0, name="bench", tenant=PLATFORM)
    rng = random.Random(7)
    try:
        with runtime.db.transaction() as s:
            for a in range(20):
                merchant = merchants.create_merchant(
                    s,
                    actor,
                    MerchantCreate.model_validate(
                        {
                            "name": f"Advertiser {a}",
                            "slug": f"advertiser-{a}",
                            "industry": "catering",
                            "city": "Hangzhou",
                            "owner_name": "Owner",
                            "owner_email": f"owner{a}@bench.test",
                            "owner_password": "bench-pass-1",
                        }
                    ),
                )
                mp = catalog.create_mini_program(
                    s,
                    actor,
                    MiniProgramCreate(merchant_id=merchant.id, name="Shop", category="food"),
                )
                ledger.fund_advertiser(
                    s, merchant.id, 10_000_000, f"bench:{a}", from_settlement=False
                )
                plan, _ = promotion.create_plan(
                    s,
                    actor,
                    PlanCreate.model_validate(
                        {
                            "merchant_id": merchant.id,
                            "out_request_no": "bench",
                            "name": "Bench",
                            "objective": "transactions",
                            "daily_budget_fen": 10_000_000,
                        }
                    ),
                )
                for g in range(groups // 20):
                    targeting: dict[str, object] = {"placements": ["home_feed"]}
                    if rng.random() < 0.3:
                        targeting["cities"] = [rng.choice(CITIES)]
                    group = promotion.create_group(
                        s,
                        actor,
                        GroupCreate.model_validate(
                            {
                                "plan_id": plan.id,
                                "name": f"G{g}",
                                "bid_fen": rng.randint(20, 200),
                                "targeting": targeting,
                            }
                        ),
                    )
                    creative = promotion.create_creative(
                        s,
                        actor,
                        CreativeCreate(
                            group_id=group.id, title="早餐", mini_program_id=mp.id, page="p"
                        ),
                    )
                    promotion.review_creative(
                        s, actor, creative.id, ReviewRequest(decision="approved")
                    )
            consumer_ids = [
                consumers.create_consumer(
                    s,
                    actor,
                    ConsumerCreate.model_validate(
                        {"name": f"C{n}", "phone": f"1370000{n:04d}", "city": rng.choice(CITIES)}
                    ),
                ).id
                for n in range(clients)
            ]
    finally:
        runtime.close()
    return consumer_ids


def workers(
    base: str, consumer_ids: list[int], anonymous: bool
) -> tuple[list[Callable[[], None]], list[Callable[[], None]], list[httpx.Client]]:
    clients = [httpx.Client(base_url=base, timeout=60) for _ in consumer_ids]
    hello: list[Callable[[], None]] = []
    decide: list[Callable[[], None]] = []
    for client, consumer_id in zip(clients, consumer_ids, strict=True):
        r = client.post("/api/v1/auth/consumer-login", json={"consumer_id": consumer_id})
        r.raise_for_status()
        headers = {} if anonymous else {"Authorization": f"Bearer {r.json()['token']}"}
        body = {"placement": "home_feed", **({"city": "Hangzhou"} if anonymous else {})}

        def say_hello(c: httpx.Client = client) -> None:
            c.get("/api/v1/hello").raise_for_status()

        def ask(
            c: httpx.Client = client, h: dict[str, str] = headers, b: dict[str, str] = body
        ) -> None:
            r = c.post("/api/v1/ad-decisions", json=b, headers=h)
            if r.status_code != 200 or not r.json()["ads"]:
                raise RuntimeError(f"decide: {r.status_code} {r.text[:200]}")

        hello.append(say_hello)
        decide.append(ask)
    return hello, decide, clients


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--warmup", type=float, default=2)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--groups", type=int, default=2_000)
    parser.add_argument(
        "--anonymous", action="store_true", help="decide without signing in (city in the body)"
    )
    parser.add_argument("--pg-url", default=DEFAULT_PG, help="dropped and re-created")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ccare-bench-") as tmp:
        tmpdir = Path(tmp)
        url = (
            f"sqlite:///{tmpdir / 'bench.sqlite3'}"
            if args.db == "sqlite"
            else fresh_postgres(args.pg_url)
        )
        env = {
            **os.environ,
            "CCARE_DATABASE_URL": url,
            "CCARE_DATA_DIR": str(tmpdir),
            "CCARE_ANALYTICS_PATH": str(tmpdir / "analytics.duckdb"),
            "CCARE_BROKER_URL": "",
        }
        consumer_ids = seed(env, args.groups, args.clients)
        port = free_port()
        server = start_server(env, port, tmpdir / "server.log", worker=True)
        try:
            hello_work, decide_work, clients = workers(
                f"http://127.0.0.1:{port}", consumer_ids, args.anonymous
            )
            decide_work[0]()  # the first decision builds the index
            hello = run_phase("hello", args.seconds, args.warmup, hello_work)
            decide = run_phase("decide", args.seconds, args.warmup, decide_work)
            for c in clients:
                c.close()
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
    print(f"machine   {machine()}")
    print(
        f"database  {args.db}; {args.clients} clients; {args.groups} ad groups; {args.seconds:g} s;"
        f" {'anonymous' if args.anonymous else 'signed in'}"
    )
    for phase in (hello, decide):
        s = phase.summary()
        print(
            f"{phase.name:<10}{s['rate_per_s']:>9.1f}/s   p50 {s['p50_ms']:>7.2f} ms   "
            f"p99 {s['p99_ms']:>7.2f} ms   errors {s['errors']}"
        )
    ratio = decide.rate / hello.rate if hello.rate else 0.0
    print(f"ratio     decide / hello = {ratio:.4f} (goal ≥ 0.70)")
    sys.exit(0)


if __name__ == "__main__":
    main()
