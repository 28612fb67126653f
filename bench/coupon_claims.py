"""Coupon claims on PostgreSQL: ccare's bucketed stock against a same-run naive hot row.

    python bench/coupon_claims.py                       # creates database ccare_bench_coupons
    python bench/coupon_claims.py --clients 32 --stock 10000 --attempts 50000 --blocks 4

A fresh database (dropped, re-created, migrated with `ccare.migrations.upgrade`) gets one
merchant with the anti-cheating filter `off` and, per variant, one active coupon activity
with `--stock` coupons and a per-user lifetime limit (`--limit`). K threads (`--clients`),
each with its own pooled connections of one shared `Database`, make claim attempts, each
attempt one transaction for a user drawn at random from a pool (`--users`), until the
activity's stock is gone or `--attempts` attempts were made. Four variants, measured the
same way in the same process against the same database:

  ccare 16 buckets  `ccare.coupons.claims.claim` as the API runs it: the stock in 16
                    bucket rows, a random start bucket, `FOR UPDATE SKIP LOCKED` choice,
                    conditional `UPDATE ... WHERE remaining > 0` (docs/adr/0010).
  ccare 1 bucket    the same `claim`, with the activity forced to one bucket: every claim
                    updates the same row (SKIP LOCKED can only skip to waiting on it).
  SQL 16 buckets    the plain-SQL claim below, with the stock taken by ccare's own
                    `CouponRepository.take_stock` over the activity's 16 buckets.
  SQL naive         the design the ADR rejects, in plain SQL: count the user's claim
                    (insert-if-missing, then `UPDATE ... WHERE count < limit`), take stock
                    with a blocking `UPDATE bench_naive_stock SET remaining = remaining - 1
                    WHERE activity_id = :id AND remaining > 0` on a single row, insert the
                    coupon; commit.

The goal's baseline is "SQL naive": it is literally the hot-row update the ADR rejects,
with nothing else around it but the same limit counting and the same coupon insert, so
it holds the row for as short a time as a one-row design can here (the coupon insert
and the commit). "ccare 16 / SQL naive" is the goal's
ratio; it compares ccare's whole claim (activity lookup, idempotency lookup, the filter's
features and stored decision even with strictness `off`, counters, stock, coupon, outbox
event) with that minimal transaction. "SQL 16 / SQL naive" compares the stock designs
alone (same statements otherwise) and "ccare 16 / ccare 1" the same inside ccare's claim.

The filter is `off`: what it costs to score a claim is not what this measures (with `off`
its features are still read and its decision still stored, as in production). Users are
ids only (no consumer rows): the filter then treats them as new accounts, which with
`off` changes nothing. The default pool is 4,000 users with a lifetime limit of 5: the
limit refuses about 3% of attempts, and the 10,000 coupons run out long before the
users' 20,000 (with 2,000 users the last thousand coupons would need tens of thousands
of attempts that are mostly refusals, which would measure refusals, not claims).

The variants alternate in `--blocks` blocks (the order rotates each block); a block ends
for a variant once it has issued stock/blocks coupons (the last block runs to the end of
the stock). A short unmeasured warm-up runs each variant first. After each variant's
last block: coupons issued == successes == stock when the stock is gone, no bucket (or
naive row) below zero, issued + remaining == stock, no user above the limit, counters
sum == coupons: 0 oversold. Prints claims per second (successful claims over the
measured wall time), p50/p99 per successful claim, the ratios; `--json PATH` writes the
figures.

Where the time goes, per variant: CPU of this process (the clients: one Python process,
so the GIL lets about one core run Python), CPU of the PostgreSQL backends of this
database (/proc, utime + stime), the whole machine's busy cores (other work on the
machine shows here), and pg_stat_activity sampled every 50 ms: backends waiting on a
lock, idle in a transaction (waiting for this process), active otherwise.

The engine has `make_engine`'s settings (psycopg, pre-ping) but a pool of `--clients` + 2
connections (ccare's is 10 + 20 overflow), so no thread waits for a connection, up to 80
(+ 4 overflow): with `--clients 200` the rest wait for one, as a server's threads would.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import secrets
import statistics
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/ccare_bench_coupons"
MAX_POOL = 80
VARIANTS = ("ccare16", "ccare1", "sql16", "naive")
LABELS = {
    "ccare16": "ccare 16 buckets",
    "ccare1": "ccare 1 bucket",
    "sql16": "SQL 16 buckets",
    "naive": "SQL naive hot row",
}
REFUSALS = ("coupon.stock_exhausted", "coupon.user_limit_reached")


class Refused(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass
class Phase:
    """One variant: its activity, and what its attempts gave over all blocks."""

    variant: str
    activity_id: int
    stock: int
    latencies: list[float] = field(default_factory=list)  # seconds, successful claims
    outcomes: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    attempts: int = 0
    exhausted: bool = False
    blocks: list[dict[str, float | int]] = field(default_factory=list)
    check: dict[str, int | bool] = field(default_factory=dict)
    machine_cpu: float = 0.0  # seconds of CPU busy on the whole machine (all cores)
    server_cpu: float = 0.0  # seconds of CPU of the PostgreSQL backends of this database
    client_cpu: float = 0.0  # seconds of CPU of this process (the clients, all threads)
    samples: list[tuple[int, int, int]] = field(default_factory=list)  # lock, idle-in-tx, active

    @property
    def issued(self) -> int:
        return self.outcomes["issued"]

    @property
    def rate(self) -> float:
        return self.issued / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000

    def load(self) -> dict[str, float]:
        """Where the time went: cores busy (this process, the database's backends, the whole
        machine), CPU per claim, and the average of the backends sampled waiting on a
        lock, idle in a transaction (waiting for this process) and active (running or
        waiting on anything else)."""
        n = len(self.samples) or 1
        per = self.issued or 1
        t = self.seconds or 1
        return {
            "client_cores_busy": round(self.client_cpu / t, 2),
            "server_cores_busy": round(self.server_cpu / t, 2),
            "machine_cores_busy": round(self.machine_cpu / t, 2),
            "client_cpu_ms_per_claim": round(self.client_cpu / per * 1000, 3),
            "server_cpu_ms_per_claim": round(self.server_cpu / per * 1000, 3),
            "backends_waiting_on_lock": round(sum(s[0] for s in self.samples) / n, 1),
            "backends_idle_in_transaction": round(sum(s[1] for s in self.samples) / n, 1),
            "backends_active": round(sum(s[2] for s in self.samples) / n, 1),
        }

    def summary(self) -> dict[str, object]:
        return {
            "variant": LABELS[self.variant],
            "stock": self.stock,
            "attempts": self.attempts,
            "issued": self.issued,
            "outcomes": dict(self.outcomes),
            "seconds": round(self.seconds, 3),
            "claims_per_s": round(self.rate, 1),
            "p50_ms": round(self.percentile(50), 2),
            "p99_ms": round(self.percentile(99), 2),
            "mean_ms": round(statistics.fmean(self.latencies) * 1000, 2) if self.latencies else 0,
            "load": self.load(),
            "blocks": self.blocks,
            "check": self.check,
        }


def fresh_postgres(url: str) -> str:
    parsed = make_url(url).set(drivername="postgresql+psycopg")
    name = parsed.database
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return parsed.render_as_string(hide_password=False)


def open_database(url: str, clients: int):  # type: ignore[no-untyped-def]
    """ccare's `Database`, its engine rebuilt with one pooled connection per client, up to
    MAX_POOL: PostgreSQL's default `max_connections` is 100, so with more clients than
    that the rest wait for a connection, as a server's request threads would."""
    from ccare.core.db import Database

    db = Database(url)
    db.engine.dispose()
    db.engine = create_engine(
        make_url(url),
        pool_size=min(clients + 2, MAX_POOL),
        max_overflow=4,
        pool_timeout=120,
        pool_pre_ping=True,
    )
    db.sessionmaker.configure(bind=db.engine)
    return db


def seed(db, stock: int, limit: int) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """A merchant with the filter off and one activity per variant (and per warm-up)."""
    from ccare.core.tenancy import PLATFORM, Principal, PrincipalKind
    from ccare.coupons import risk, service
    from ccare.coupons.antifraud import Strictness
    from ccare.coupons.models import StockBucket
    from ccare.coupons.pricing import CouponKind
    from ccare.coupons.repository import CouponRepository
    from ccare.coupons.schemas import ActivityCreate, UserLimits, ValiditySpec
    from ccare.merchants import service as merchants
    from ccare.merchants.schemas import MerchantCreate

    actor = Principal(kind=PrincipalKind.OPERATOR, id=0, name="bench", tenant=PLATFORM)
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TABLE bench_naive_stock ("
                " activity_id BIGINT PRIMARY KEY REFERENCES coupon_activities (id),"
                " remaining BIGINT NOT NULL)"
            )
        )
    ids: dict[str, int] = {}
    with db.transaction() as s:
        merchant = merchants.create_merchant(
            s,
            actor,
            MerchantCreate.model_validate(
                {
                    "name": "Bench Coupons",
                    "slug": "bench-coupons",
                    "industry": "catering",
                    "city": "Hangzhou",
                    "owner_name": "Bench owner",
                    "owner_email": "owner@bench.test",
                    "owner_password": "bench-pass-1",
                }
            ),
        )
        # Not measured here: the filter's scoring (bench/scalper_filter.py measures what it
        # decides); with `off` every claim passes.
        risk.set_strictness(s, actor, merchant.id, Strictness.OFF)
        for name in [*(f"warm-{v}" for v in VARIANTS), *VARIANTS]:
            quantity = stock if name in VARIANTS else 400
            activity = service.create_activity(
                s,
                actor,
                ActivityCreate(
                    out_biz_no=f"bench-{name}",
                    merchant_id=merchant.id,
                    name=f"Bench {name}",
                    kind=CouponKind.FIXED,
                    amount_fen=100,
                    quantity=quantity,
                    user_limits=UserLimits(lifetime=limit),
                    claim_begin=datetime.now(UTC) - timedelta(days=1),
                    claim_end=datetime.now(UTC) + timedelta(days=30),
                    validity=ValiditySpec(days_after_claim=30),
                    activate=True,
                ),
            )
            variant = name.removeprefix("warm-")
            if variant == "ccare1":
                s.execute(
                    StockBucket.__table__.delete().where(StockBucket.activity_id == activity.id)
                )
                activity.buckets = 1
                CouponRepository(s).create_buckets(activity.id, quantity, 1)
            if variant == "naive":
                s.execute(
                    text("INSERT INTO bench_naive_stock VALUES (:a, :n)"),
                    {"a": activity.id, "n": quantity},
                )
            ids[name] = activity.id
        ids["merchant"] = merchant.id
    return ids


# --- the claims ---------------------------------------------------------------------------

COUNT_INSERT = text(
    "INSERT INTO coupon_claim_counters (activity_id, subject, period, count)"
    " VALUES (:a, :subject, 'life', 0)"
    " ON CONFLICT (activity_id, subject, period) DO NOTHING"
)
COUNT_BUMP = text(
    "UPDATE coupon_claim_counters SET count = count + 1"
    " WHERE activity_id = :a AND subject = :subject AND period = 'life' AND count < :limit"
)
NAIVE_TAKE = text(
    "UPDATE bench_naive_stock SET remaining = remaining - 1"
    " WHERE activity_id = :a AND remaining > 0 RETURNING remaining"
)
COUPON_INSERT = text(
    "INSERT INTO coupons (activity_id, merchant_id, consumer_id, code, claim_key, channel,"
    " status, claimed_at, valid_from, valid_until, discount_fen)"
    " VALUES (:a, :m, :c, :code, :key, 'coupon_venue', 'available', :now, :now, :until, 0)"
)


def ccare_claim(db, activity_id: int, user: int, key: str) -> None:  # type: ignore[no-untyped-def]
    from ccare.core.errors import DomainError
    from ccare.core.tenancy import Principal, PrincipalKind
    from ccare.coupons import claims
    from ccare.coupons.models import Channel
    from ccare.coupons.schemas import ClaimRequest

    consumer = Principal(kind=PrincipalKind.CONSUMER, id=user)
    request = ClaimRequest(channel=Channel.COUPON_VENUE, claim_key=key)
    try:
        with db.transaction() as s:
            claims.claim(s, consumer, activity_id, request)
    except DomainError as err:
        raise Refused(err.code) from None


def sql_claim(
    db,  # type: ignore[no-untyped-def]
    activity_id: int,
    merchant_id: int,
    user: int,
    key: str,
    limit: int,
    take: Callable[[Session], int | None],
) -> None:
    """The same limit counting and coupon insert as ccare's claim, in plain SQL; `take`
    takes one unit of stock."""
    with db.transaction() as s:
        subject = {"a": activity_id, "subject": f"user:{user}", "limit": limit}
        s.execute(COUNT_INSERT, subject)
        if s.execute(COUNT_BUMP, subject).rowcount != 1:  # type: ignore[attr-defined]
            s.rollback()
            raise Refused("coupon.user_limit_reached")
        if take(s) is None:
            s.rollback()
            raise Refused("coupon.stock_exhausted")
        now = datetime.now(UTC)
        s.execute(
            COUPON_INSERT,
            {
                "a": activity_id,
                "m": merchant_id,
                "c": user,
                "code": "".join(secrets.choice("0123456789") for _ in range(16)),
                "key": f"{user}:{key}",
                "now": now,
                "until": now + timedelta(days=30),
            },
        )


def claimer(db, variant: str, activity_id: int, merchant_id: int, limit: int):  # type: ignore[no-untyped-def]
    from ccare.coupons.repository import CouponRepository

    if variant in ("ccare16", "ccare1"):
        return lambda user, key: ccare_claim(db, activity_id, user, key)

    if variant == "sql16":
        # ccare's own stock step, over the activity's buckets.
        buckets = db_buckets(db, activity_id)

        def take(s: Session) -> int | None:
            start = secrets.randbelow(buckets)
            return CouponRepository(s).take_stock(activity_id, start, buckets)

    else:

        def take(s: Session) -> int | None:
            return s.execute(NAIVE_TAKE, {"a": activity_id}).scalar()

    return lambda user, key: sql_claim(db, activity_id, merchant_id, user, key, limit, take)


def db_buckets(db, activity_id: int) -> int:  # type: ignore[no-untyped-def]
    from ccare.coupons.models import CouponActivity

    with db.transaction() as s:
        return int(s.scalar(select(CouponActivity.buckets).where(CouponActivity.id == activity_id)))


# --- driving -------------------------------------------------------------------------------

SAMPLE = text(
    "SELECT count(*) FILTER (WHERE wait_event_type = 'Lock'),"
    " count(*) FILTER (WHERE state = 'idle in transaction'),"
    " count(*) FILTER (WHERE state = 'active' AND wait_event_type IS DISTINCT FROM 'Lock')"
    " FROM pg_stat_activity"
    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
)


def machine_busy() -> float:
    """CPU seconds spent busy on all cores since boot (/proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def backends_cpu(engine) -> float:  # type: ignore[no-untyped-def]
    """CPU seconds used so far by the backends connected to this database (/proc)."""
    with engine.connect() as conn:
        pids = conn.scalars(
            text(
                "SELECT pid FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).all()
    total = 0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        after = stat.rsplit(")", 1)[1].split()
        total += int(after[11]) + int(after[12])  # utime + stime
    return total / os.sysconf("SC_CLK_TCK")


class Sampler:
    """Samples pg_stat_activity every `every` seconds on its own connection."""

    def __init__(self, engine, every: float = 0.05) -> None:  # type: ignore[no-untyped-def]
        self.engine = engine
        self.every = every
        self.samples: list[tuple[int, int, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with self.engine.connect() as conn:
            while not self._stop.wait(self.every):
                row = conn.execute(SAMPLE).one()
                conn.rollback()
                self.samples.append((int(row[0]), int(row[1]), int(row[2])))

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run_block(
    phase: Phase,
    claim: Callable[[int, str], None],
    sampler_engine,  # type: ignore[no-untyped-def]
    clients: int,
    users: int,
    quota: int | None,
    max_attempts: int,
    seed: int,
    tag: str,
) -> None:
    """K threads claim until the stock is gone, `quota` coupons were issued in this block,
    or the phase has made `max_attempts` attempts."""
    lock = threading.Lock()
    stop = threading.Event()
    barrier = threading.Barrier(clients + 1)
    issued_before = phase.issued
    state = {"issued": 0}
    errors: list[str] = []

    def loop(worker: int) -> None:
        rng = random.Random(seed * 1_000 + worker)
        mine: list[float] = []
        seen: Counter[str] = Counter()
        n = 0
        barrier.wait()
        while not stop.is_set():
            with lock:
                if phase.attempts >= max_attempts:
                    stop.set()
                    break
                phase.attempts += 1
            user = 1 + rng.randrange(users)
            n += 1
            began = time.perf_counter()
            try:
                claim(user, f"{tag}-{worker}-{n}")
            except Refused as refused:
                seen[refused.code] += 1
                if refused.code == "coupon.stock_exhausted":
                    with lock:
                        phase.exhausted = True
                    stop.set()
                continue
            except Exception as exc:  # a failure must show, not pass as a refusal
                seen["error"] += 1
                if len(errors) < 3:
                    errors.append(f"{type(exc).__name__}: {exc}")
                continue
            mine.append(time.perf_counter() - began)
            seen["issued"] += 1
            with lock:
                state["issued"] += 1
                if quota is not None and state["issued"] >= quota:
                    stop.set()
        with lock:
            phase.latencies.extend(mine)
            phase.outcomes.update(seen)

    threads = [threading.Thread(target=loop, args=(w,)) for w in range(clients)]
    for t in threads:
        t.start()
    with Sampler(sampler_engine) as sampler:
        barrier.wait()
        began = time.perf_counter()
        busy, mine, server = machine_busy(), time.process_time(), backends_cpu(sampler_engine)
        for t in threads:
            t.join()
        seconds = time.perf_counter() - began
        phase.machine_cpu += machine_busy() - busy
        phase.client_cpu += time.process_time() - mine
        phase.server_cpu += backends_cpu(sampler_engine) - server
    phase.samples.extend(sampler.samples)
    phase.seconds += seconds
    for e in errors:
        print(f"{LABELS[phase.variant]}: {e}", file=sys.stderr)
    done = phase.issued - issued_before
    phase.blocks.append(
        {"issued": done, "seconds": round(seconds, 3), "claims_per_s": round(done / seconds, 1)}
    )


def verify(db, phase: Phase, limit: int) -> dict[str, int | bool]:  # type: ignore[no-untyped-def]
    from ccare.coupons.models import ClaimCounter, Coupon, StockBucket

    a = phase.activity_id
    with db.transaction() as s:
        per_user = Counter(s.scalars(select(Coupon.consumer_id).where(Coupon.activity_id == a)))
        counters = dict(
            s.execute(
                select(ClaimCounter.subject, ClaimCounter.count).where(
                    ClaimCounter.activity_id == a
                )
            ).all()
        )
        if phase.variant == "naive":
            rows = list(
                s.scalars(
                    text("SELECT remaining FROM bench_naive_stock WHERE activity_id = :a"), {"a": a}
                )
            )
        else:
            rows = list(
                s.scalars(select(StockBucket.remaining).where(StockBucket.activity_id == a))
            )
        decisions = (
            s.scalar(
                text("SELECT count(*) FROM coupon_claim_decisions WHERE activity_id = :a"), {"a": a}
            )
            if phase.variant.startswith("ccare")
            else None
        )
    issued = sum(per_user.values())
    remaining = sum(rows)
    check: dict[str, int | bool] = {
        "issued": issued,
        "remaining": remaining,
        "oversold": max(0, issued - phase.stock),
        "negative_buckets": sum(1 for r in rows if r < 0),
        "users_above_limit": sum(1 for n in per_user.values() if n > limit),
        "max_per_user": max(per_user.values(), default=0),
        "counters_sum": sum(counters.values()),
        "users": len(per_user),
    }
    if decisions is not None:
        check["decisions_stored"] = int(decisions)
    check["ok"] = bool(
        issued == phase.issued
        and (issued == phase.stock if phase.exhausted else issued <= phase.stock)
        and issued + remaining == phase.stock
        and check["negative_buckets"] == 0
        and check["users_above_limit"] == 0
        and check["counters_sum"] == issued
        and counters == {f"user:{c}": n for c, n in per_user.items()}
    )
    return check


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


def postgres_info(db) -> str:  # type: ignore[no-untyped-def]
    with db.engine.connect() as conn:
        version = conn.scalar(text("SHOW server_version"))
        sync = conn.scalar(text("SHOW synchronous_commit"))
        buffers = conn.scalar(text("SHOW shared_buffers"))
    return f"PostgreSQL {version} (synchronous_commit={sync}, shared_buffers={buffers})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg-url", default=DEFAULT_PG, help="dropped and re-created")
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients (K)")
    parser.add_argument("--stock", type=int, default=10_000, help="coupons per activity")
    parser.add_argument("--attempts", type=int, default=50_000, help="most attempts a variant")
    parser.add_argument("--users", type=int, default=4_000, help="user pool per activity")
    parser.add_argument("--limit", type=int, default=5, help="per-user lifetime limit")
    parser.add_argument("--blocks", type=int, default=4, help="alternating blocks")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    from ccare import migrations

    url = fresh_postgres(args.pg_url)
    migrations.upgrade(url)
    db = open_database(url, args.clients)
    try:
        ids = seed(db, args.stock, args.limit)
        merchant_id = ids["merchant"]
        pg = postgres_info(db)
        sampler = create_engine(make_url(url), poolclass=NullPool)
        # Warm-up: every variant's statements compiled and cached, connections opened.
        for v in VARIANTS:
            warm = Phase(v, ids[f"warm-{v}"], 400)
            claim = claimer(db, v, warm.activity_id, merchant_id, args.limit)
            run_block(warm, claim, sampler, args.clients, 400, None, 2_000, args.seed, "warm")
        phases = {v: Phase(v, ids[v], args.stock) for v in VARIANTS}
        claims = {
            v: claimer(db, v, phases[v].activity_id, merchant_id, args.limit) for v in VARIANTS
        }
        quota = max(1, args.stock // args.blocks)
        for block in range(args.blocks):
            last = block == args.blocks - 1
            order = VARIANTS[block % len(VARIANTS) :] + VARIANTS[: block % len(VARIANTS)]
            for v in order:
                phase = phases[v]
                if phase.exhausted or phase.attempts >= args.attempts:
                    continue
                run_block(
                    phase,
                    claims[v],
                    sampler,
                    args.clients,
                    args.users,
                    None if last else quota,
                    args.attempts,
                    args.seed + block,
                    f"b{block}",
                )
                b = phase.blocks[-1]
                print(
                    f"block {block + 1}/{args.blocks}  {LABELS[v]:<18} {b['issued']:>6} issued"
                    f" in {b['seconds']:>7.2f} s  {b['claims_per_s']:>8.1f}/s",
                    flush=True,
                )
        for phase in phases.values():
            phase.check = verify(db, phase, args.limit)
    finally:
        db.dispose()
        if "sampler" in locals():
            sampler.dispose()

    def ratio(a: str, b: str) -> float:
        return phases[a].rate / phases[b].rate if phases[b].rate else 0.0

    ratios = {
        "ccare16_over_naive": round(ratio("ccare16", "naive"), 3),
        "sql16_over_naive": round(ratio("sql16", "naive"), 3),
        "ccare16_over_ccare1": round(ratio("ccare16", "ccare1"), 3),
        "ccare1_over_naive": round(ratio("ccare1", "naive"), 3),
    }
    result = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": machine(),
        "database": pg,
        "clients": args.clients,
        "stock": args.stock,
        "attempts": args.attempts,
        "users": args.users,
        "limit": args.limit,
        "blocks": args.blocks,
        "phases": {v: p.summary() for v, p in phases.items()},
        "ratios": ratios,
        "all_checks_ok": all(p.check.get("ok") for p in phases.values()),
        "oversold": sum(int(p.check.get("oversold", 0)) for p in phases.values()),
    }
    print()
    print(f"machine   {result['machine']}")
    print(f"database  {pg}")
    print(
        f"workload  {args.clients} clients; stock {args.stock} per variant; {args.users} users,"
        f" limit {args.limit}; at most {args.attempts} attempts; {args.blocks} blocks"
    )
    print()
    head = (
        f"{'variant':<19}{'claims/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'issued':>8}{'attempts':>9}"
        f"{'limit':>7}{'sold out':>9}{'oversold':>9}  checks"
    )
    print(head)
    print("-" * len(head))
    for v, p in phases.items():
        c = p.check
        print(
            f"{LABELS[v]:<19}{p.rate:>9.1f}{p.percentile(50):>9.2f}{p.percentile(99):>9.2f}"
            f"{p.issued:>8}{p.attempts:>9}{p.outcomes['coupon.user_limit_reached']:>7}"
            f"{'yes' if p.exhausted else 'no':>9}{c['oversold']:>9}  "
            f"{'ok' if c['ok'] else 'FAILED'} (remaining {c['remaining']}, max/user"
            f" {c['max_per_user']}, counters {c['counters_sum']}, errors {p.outcomes['error']})"
        )
    print()
    head = (
        f"{'variant':<19}{'client cores':>13}{'server cores':>13}{'machine':>8}"
        f"{'client ms':>10}{'server ms':>10}{'lock wait':>10}{'idle in tx':>11}{'active':>8}"
    )
    print(head)
    print("-" * len(head))
    for v, p in phases.items():
        ld = p.load()
        print(
            f"{LABELS[v]:<19}{ld['client_cores_busy']:>13.2f}{ld['server_cores_busy']:>13.2f}"
            f"{ld['machine_cores_busy']:>8.2f}{ld['client_cpu_ms_per_claim']:>10.3f}"
            f"{ld['server_cpu_ms_per_claim']:>10.3f}{ld['backends_waiting_on_lock']:>10.1f}"
            f"{ld['backends_idle_in_transaction']:>11.1f}{ld['backends_active']:>8.1f}"
        )
    print(
        "(cores busy: this process, the database's backends, the whole machine; ms: CPU per"
        " issued claim)"
    )
    print(
        "(backends: average of samples every 50 ms; lock wait: waiting on a row lock,"
        " idle in tx: waiting for this process)"
    )
    print()
    goal = ratios["ccare16_over_naive"]
    print(f"ratio  ccare 16 buckets / SQL naive hot row = {goal:.3f}  (goal ≥ 5)")
    print(f"ratio  SQL 16 buckets / SQL naive hot row   = {ratios['sql16_over_naive']:.3f}")
    print(f"ratio  ccare 16 buckets / ccare 1 bucket    = {ratios['ccare16_over_ccare1']:.3f}")
    print(
        f"oversold {result['oversold']}; all checks {'ok' if result['all_checks_ok'] else 'FAILED'}"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    if not result["all_checks_ok"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
