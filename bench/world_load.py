"""Load mode: the simulated world's mixed traffic at a target rate against a running server.

    python bench/world_load.py --db sqlite --rate 10 --minutes 1
    python bench/world_load.py --db postgres --rate 10 --minutes 1 \
        --pg-url postgresql+psycopg://postgres@127.0.0.1:5432/load_bench

Starts `ccare serve` (uvicorn, in-process worker, as `ccare demo` runs it) on a fresh
database with one operator account, builds a seeded world through the API (merchants
with items, consumers with full wallets, the morning coupon drops), measures this run's
GET /api/v1/hello rate for context, then plays open-loop load (`ccare.sim.load`): visits
arrive as a Poisson process at --rate for --minutes, each a consumer's visit (home feed
ads, a storefront, favorites, coupon claims, orders and payments) on --workers threads.

Prints calls per name with p50/p99, the overall figures, errors (5xx and transport), how
far behind schedule visits started, and the server's resident memory (VmRSS, sampled
every --sample seconds) at the start of the load, its maximum and at the end.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from order_pay_http import free_port, fresh_postgres, machine, run_phase, start_server

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/load_bench"
OPERATOR = ("operator@load.bench", "load-bench-1")


def prepare(env: dict[str, str]) -> None:
    """Both worlds migrated (as `ccare db upgrade`) and an operator account, as
    `ccare create operator` makes one: the simulator does everything else itself."""
    from ccare import migrations
    from ccare.config import Settings
    from ccare.identity.schemas import OperatorCreate
    from ccare.identity.service import create_operator
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
    try:
        with runtime.db.transaction() as s:
            email, password = OPERATOR
            create_operator(s, OperatorCreate(email=email, name="Load bench", password=password))
    finally:
        runtime.close()


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class RssSampler:
    """The server's resident memory every `every` seconds while the load runs."""

    def __init__(self, pid: int, every: float) -> None:
        self.pid, self.every = pid, every
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> RssSampler:
        self.samples.append(rss_kib(self.pid))
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append(rss_kib(self.pid))

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            self.samples.append(rss_kib(self.pid))

    def line(self) -> str:
        start, top, end = self.samples[0], max(self.samples), self.samples[-1]
        per_minute = max(1, round(60 / self.every))
        minutes = [
            max(self.samples[i : i + per_minute]) / 1024
            for i in range(0, len(self.samples), per_minute)
        ]
        return (
            f"server RSS  start {start / 1024:.1f} MiB, max {top / 1024:.1f} MiB, "
            f"end {end / 1024:.1f} MiB ({len(self.samples)} samples)\n"
            f"RSS by minute (max, MiB): {' '.join(f'{m:.0f}' for m in minutes)}"
        )


def hello_rate(base: str, clients: int, seconds: float) -> str:
    pool = [httpx.Client(base_url=base, timeout=60) for _ in range(clients)]

    def worker(client: httpx.Client) -> Callable[[], None]:
        def work() -> None:
            client.get("/api/v1/hello").raise_for_status()

        return work

    try:
        phase = run_phase("hello", seconds, 1.0, [worker(c) for c in pool])
    finally:
        for client in pool:
            client.close()
    s = phase.summary()
    return (
        f"hello       {s['rate_per_s']:.1f}/s with {clients} clients, p50 {s['p50_ms']:.2f} ms, "
        f"p99 {s['p99_ms']:.2f} ms, errors {s['errors']}"
    )


def play(base: str, args: argparse.Namespace, server_pid: int) -> None:
    from ccare.sim import agents, cast, load, world
    from ccare.sim.api import Api

    began = time.perf_counter()
    with httpx.Client(base_url=base, timeout=60) as http:
        setup = Api(http)
        drawn = cast.draw(args.seed, merchants=args.merchants, consumers=args.consumers)
        built = world.build(setup, drawn, *OPERATOR)
        for shop in built.shops:
            if shop.spec.drops_coupons:
                agents.merchant_drop(setup, shop, 0, built.now())
    print(
        f"world       seed {args.seed}: {len(built.shops)} shops, {len(built.people)} people, "
        f"built with {setup.stats.total()} calls in {time.perf_counter() - began:.1f} s"
    )
    print(hello_rate(base, args.workers, args.hello_seconds))
    clients = [httpx.Client(base_url=base, timeout=60) for _ in range(args.workers)]
    try:
        with RssSampler(server_pid, args.sample) as rss:
            report = load.run(
                clients, built, rate=args.rate, seconds=args.minutes * 60, seed=args.seed
            )
    finally:
        for client in clients:
            client.close()
    print(f"load        {args.rate:g} visits/s for {args.minutes:g} min on {args.workers} threads")
    for line in report.lines():
        print(line)
    print(rss.line())
    print(f"bench RSS   {rss_kib(os.getpid()) / 1024:.1f} MiB (the load generator, at the end)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--rate", type=float, default=10, help="visits per second")
    parser.add_argument("--minutes", type=float, default=1)
    parser.add_argument("--workers", type=int, default=16, help="threads, one client each")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--merchants", type=int, default=12)
    parser.add_argument("--consumers", type=int, default=300)
    parser.add_argument("--hello-seconds", type=float, default=5)
    parser.add_argument("--sample", type=float, default=2, help="seconds between RSS samples")
    parser.add_argument("--pg-url", default=DEFAULT_PG, help="dropped and re-created")
    args = parser.parse_args()
    logging.getLogger("httpx").setLevel(logging.WARNING)

    print(f"machine     {machine()}")
    print(f"database    {args.db}")
    with tempfile.TemporaryDirectory(prefix="ccare-load-") as tmp:
        tmpdir = Path(tmp)
        url = (
            f"sqlite:///{tmpdir / 'load.sqlite3'}"
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
        prepare(env)
        port = free_port()
        log = tmpdir / "server.log"
        server = start_server(env, port, log, worker=True)
        try:
            play(f"http://127.0.0.1:{port}", args, server.pid)
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
            if "Traceback" in log.read_text():
                print(f"server log has tracebacks:\n{log.read_text()[-3000:]}", file=sys.stderr)


if __name__ == "__main__":
    main()
