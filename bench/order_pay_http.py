"""Throughput of order+pay over HTTP against the same run's GET /api/v1/hello.

    python bench/order_pay_http.py --db sqlite --seconds 20
    python bench/order_pay_http.py --db postgres --seconds 20 --clients 16

Starts `ccare serve` (uvicorn, in-process worker, as `ccare demo` runs it) in a subprocess
on a free port against a fresh database seeded with one merchant, items with unlimited
stock and one consumer per client with a large wallet. Then K concurrent clients (httpx,
one thread and one keep-alive connection each) measure (a) GET /api/v1/hello, the
baseline of this machine and run, and (b) pairs of POST /api/v1/orders + POST
/api/v1/orders/{id}/pay, each with its own Idempotency-Key. Prints both rates, p50/p99
latencies and the ratio pairs/hello.

The clients run on the same machine as the server; the ratio, not the absolute rate, is
what to compare between machines.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/ccare_bench"
ITEM_PRICE_FEN = 1_000
WALLET_TOP_UPS = 5  # x 100,000 yuan per consumer


@dataclass
class Phase:
    name: str
    latencies: list[float] = field(default_factory=list)  # seconds, one per unit of work
    errors: int = 0
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000

    def summary(self) -> dict[str, float | int]:
        return {
            "count": len(self.latencies),
            "errors": self.errors,
            "rate_per_s": round(self.rate, 1),
            "p50_ms": round(self.percentile(50), 2),
            "p99_ms": round(self.percentile(99), 2),
            "mean_ms": round(statistics.fmean(self.latencies) * 1000, 2) if self.latencies else 0,
        }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fresh_postgres(url: str) -> str:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    parsed = make_url(url).set(drivername="postgresql+psycopg")
    name = parsed.database
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return parsed.render_as_string(hide_password=False)


def seed(env: dict[str, str], clients: int) -> tuple[int, list[int], list[int]]:
    """One merchant, three unlimited items, `clients` consumers with full wallets."""
    from ccare import migrations
    from ccare.catalog import service as catalog
    from ccare.catalog.schemas import ItemCreate, MiniProgramCreate
    from ccare.config import Settings
    from ccare.consumers import service as consumers
    from ccare.consumers.schemas import ConsumerCreate
    from ccare.core.tenancy import PLATFORM, Principal, PrincipalKind
    from ccare.core.worker import InProcessTransport, drain
    from ccare.ledger import service as ledger
    from ccare.ledger.schemas import MAX_TOP_UP_FEN
    from ccare.merchants import service as merchants
    from ccare.merchants.schemas import MerchantCreate
    from ccare.runtime import Runtime

    settings = Settings(
        database_url=env["CCARE_DATABASE_URL"],
        data_dir=Path(env["CCARE_DATA_DIR"]),
        analytics_path=env["CCARE_ANALYTICS_PATH"],
        _env_file=None,  # type: ignore[call-arg]
    )
    # Both worlds, as `ccare db upgrade` does: `ccare serve` checks the sandbox one too.
    migrations.upgrade(settings.effective_database_url)
    migrations.upgrade(settings.effective_sandbox_database_url)
    runtime = Runtime.from_settings(settings)
    actor = Principal(kind=PrincipalKind.OPERATOR, id=0, name="bench", tenant=PLATFORM)
    try:
        with runtime.db.transaction() as s:
            merchant = merchants.create_merchant(
                s,
                actor,
                MerchantCreate.model_validate(
                    {
                        "name": "Bench Breakfast",
                        "slug": "bench-breakfast",
                        "industry": "catering",
                        "city": "Hangzhou",
                        "owner_name": "Bench owner",
                        "owner_email": "owner@bench.test",
                        "owner_password": "bench-pass-1",
                    }
                ),
            )
            mini_program = catalog.create_mini_program(
                s, actor, MiniProgramCreate(merchant_id=merchant.id, name="Bench", category="food")
            )
            item_ids = [
                catalog.create_item(
                    s,
                    actor,
                    mini_program.id,
                    ItemCreate(name=f"Item {n}", price_fen=ITEM_PRICE_FEN),
                ).id
                for n in range(3)
            ]
            consumer_ids = []
            for n in range(clients):
                consumer = consumers.create_consumer(
                    s,
                    actor,
                    ConsumerCreate.model_validate(
                        {"name": f"Bench {n}", "phone": f"1370000{n:04d}", "city": "Hangzhou"}
                    ),
                )
                for t in range(WALLET_TOP_UPS):
                    ledger.top_up(s, consumer.id, MAX_TOP_UP_FEN, f"bench:{n}:{t}")
                consumer_ids.append(consumer.id)
            mini_program_id = mini_program.id
        drain(runtime.db, InProcessTransport(runtime.db, runtime.analytics))
    finally:
        runtime.close()
    return mini_program_id, item_ids, consumer_ids


def start_server(
    env: dict[str, str], port: int, log: Path, worker: bool
) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "ccare.cli",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-check-assets",
        "--worker" if worker else "--no-worker",
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"server did not start:\n{log.read_text()}")


def run_phase(name: str, seconds: float, warmup: float, workers: list[Callable[[], None]]) -> Phase:
    """Each worker runs in its own thread until time is up; only post-warm-up work counts."""
    phase = Phase(name)
    lock = threading.Lock()
    measure_from = time.perf_counter() + warmup
    stop_at = measure_from + seconds

    def loop(work: Callable[[], None]) -> None:
        mine: list[float] = []
        errors = 0
        while (began := time.perf_counter()) < stop_at:
            try:
                work()
            except Exception as exc:
                errors += 1
                if errors <= 3:
                    print(f"{name}: {exc}", file=sys.stderr)
                continue
            if began >= measure_from:
                mine.append(time.perf_counter() - began)
        with lock:
            phase.latencies.extend(mine)
            phase.errors += errors

    threads = [threading.Thread(target=loop, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    phase.seconds = seconds
    return phase


def measure(
    base: str,
    args: argparse.Namespace,
    mini_program_id: int,
    item_ids: list[int],
    consumer_ids: list[int],
) -> tuple[Phase, Phase]:
    """K clients, one thread and one keep-alive httpx.Client each."""
    clients = [httpx.Client(base_url=base, timeout=60) for _ in range(args.clients)]
    try:
        tokens = []
        for client, consumer_id in zip(clients, consumer_ids, strict=True):
            r = client.post("/api/v1/auth/consumer-login", json={"consumer_id": consumer_id})
            r.raise_for_status()
            tokens.append({"Authorization": f"Bearer {r.json()['token']}"})

        def hello_worker(client: httpx.Client) -> Callable[[], None]:
            def work() -> None:
                client.get("/api/v1/hello").raise_for_status()

            return work

        def pair_worker(
            client: httpx.Client, headers: dict[str, str], n: int
        ) -> Callable[[], None]:
            body = {
                "mini_program_id": mini_program_id,
                "lines": [{"item_id": item_ids[n % len(item_ids)], "quantity": 1}],
            }

            def work() -> None:
                key = {"Idempotency-Key": uuid.uuid4().hex}
                r = client.post("/api/v1/orders", json=body, headers={**headers, **key})
                if r.status_code != 201:
                    raise RuntimeError(f"order: {r.status_code} {r.text}")
                order_id = r.json()["id"]
                key = {"Idempotency-Key": uuid.uuid4().hex}
                r = client.post(f"/api/v1/orders/{order_id}/pay", headers={**headers, **key})
                if r.status_code != 200:
                    raise RuntimeError(f"pay: {r.status_code} {r.text}")

            return work

        hello = run_phase("hello", args.seconds, args.warmup, [hello_worker(c) for c in clients])
        pairs = run_phase(
            "order+pay",
            args.seconds,
            args.warmup,
            [pair_worker(c, tokens[n], n) for n, c in enumerate(clients)],
        )
    finally:
        for client in clients:
            client.close()
    return hello, pairs


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    system = f"{platform.system()} {platform.release()}"
    return f"{os.cpu_count()} cores, {cpu}, {system}, Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--seconds", type=float, default=20, help="measured seconds per phase")
    parser.add_argument("--warmup", type=float, default=2, help="unmeasured seconds per phase")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients (K)")
    parser.add_argument("--pg-url", default=DEFAULT_PG, help="dropped and re-created")
    parser.add_argument("--no-worker", action="store_true", help="serve without the worker")
    parser.add_argument("--json", type=Path, help="also write the figures here")
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
        mini_program_id, item_ids, consumer_ids = seed(env, args.clients)
        port = free_port()
        log = tmpdir / "server.log"
        server = start_server(env, port, log, worker=not args.no_worker)
        try:
            hello, pairs = measure(
                f"http://127.0.0.1:{port}", args, mini_program_id, item_ids, consumer_ids
            )
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()

    ratio = pairs.rate / hello.rate if hello.rate else 0.0
    result = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": machine(),
        "db": args.db,
        "clients": args.clients,
        "seconds": args.seconds,
        "worker": not args.no_worker,
        "hello": hello.summary(),
        "order_pay": pairs.summary(),
        "ratio_order_pay_per_hello": round(ratio, 4),
    }
    print(f"machine   {result['machine']}")
    print(f"database  {args.db}; {args.clients} clients; {args.seconds:g} s per phase")
    for phase in (hello, pairs):
        s = phase.summary()
        print(
            f"{phase.name:<10}{s['rate_per_s']:>9.1f}/s   p50 {s['p50_ms']:>7.2f} ms   "
            f"p99 {s['p99_ms']:>7.2f} ms   errors {s['errors']}"
        )
    print(f"ratio     order+pay / hello = {ratio:.4f}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
