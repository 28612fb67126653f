"""Segment evaluation: the compiled rule on DuckDB against a same-run DuckDB full scan of
the same table, and against the same rule written in pandas.

    python bench/segment_eval.py            # the issue's scale: 10M events / 1M customers
    python bench/segment_eval.py --events 2000000 --users 200000   # a quicker run

Rule: ordered at least twice in 90 days AND NOT used a coupon AND favorited within 30 days.
Goals: >= 50% of the full-scan rate (rows/s), >= 5x pandas. The machine is shared, so the
run uses 2 DuckDB threads and takes about 30 s; each timing is the best of --repeat runs.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import ibis

from ccare.segments.compiler import members_expr
from ccare.segments.rules import parse

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
MERCHANT = 1
RULE = {
    "all": [
        {"event": {"type": "order.paid", "count": {"gte": 2}, "within_days": 90}},
        {"not": {"coupon": {"state": "used"}}},
        {"favorited": {"within_days": 30}},
    ]
}
# Shares of the generated events per type (cumulative upper bounds of a uniform draw).
MIX = [
    ("order.paid", 0.40),
    ("storefront.visited", 0.70),
    ("coupon.claimed", 0.80),
    ("coupon.used", 0.85),
    ("favorite.added", 0.95),
    ("favorite.removed", 1.00),
]


def generate(conn: duckdb.DuckDBPyConnection, events: int, users: int) -> None:
    kind = "CASE " + " ".join(f"WHEN r < {p} THEN '{t}'" for t, p in MIX) + " END"
    conn.execute(
        f"""
        CREATE TABLE events AS
        SELECT
            'e' || i::VARCHAR AS event_id,
            {kind} AS type,
            -- 90% of the events are this merchant's, the rest another's
            CASE WHEN hash(i) % 10 = 0 THEN 2 ELSE {MERCHANT} END::BIGINT AS merchant_id,
            (hash(i * 7) % {users})::BIGINT + 1 AS consumer_id,
            TIMESTAMPTZ '{NOW.isoformat()}' - to_seconds((hash(i * 13) % (180 * 86400))::BIGINT)
                AS occurred_at,
            CASE WHEN r < 0.4 THEN (hash(i * 3) % 20000)::BIGINT ELSE NULL END AS amount,
            json_object('mini_program_id', (hash(i * 5) % 3)::INT + 1) AS payload
        FROM (SELECT i, (hash(i * 11) % 1000000) / 1000000.0 AS r FROM range({events}) t(i))
        """
    )


def best(fn: Any, repeat: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - started)
    return min(times), out


def full_scan(conn: duckdb.DuckDBPyConnection) -> Any:
    # One pass over every row reading the columns a rule reads, aggregated per type.
    return conn.execute(
        "SELECT type, count(*), sum(amount), max(occurred_at), max(consumer_id), "
        "max(merchant_id) FROM events GROUP BY type"
    ).fetchall()


def pandas_rule(df: Any) -> list[int]:
    mine = df[df.merchant_id == MERCHANT]
    recent_orders = (mine.type == "order.paid") & (mine.occurred_at >= NOW - timedelta(days=90))
    used = mine.type == "coupon.used"
    favorited = (mine.type == "favorite.added") & (mine.occurred_at >= NOW - timedelta(days=30))
    flags = mine.assign(o=recent_orders, u=used, f=favorited)
    per = flags.groupby("consumer_id")[["o", "u", "f"]].sum()
    chosen = per[(per.o >= 2) & (per.u == 0) & (per.f >= 1)]
    return sorted(int(c) for c in chosen.index)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--no-pandas", action="store_true")
    args = parser.parse_args()

    conn = duckdb.connect(":memory:")
    conn.execute("SET TimeZone = 'UTC'")
    conn.execute(f"SET threads = {args.threads}")
    started = time.perf_counter()
    generate(conn, args.events, args.users)
    rows = conn.execute("SELECT count(*) FROM events").fetchone()[0]  # type: ignore[index]
    print(
        f"generated {rows:,} events for {args.users:,} customers in "
        f"{time.perf_counter() - started:.1f}s ({args.threads} DuckDB threads)"
    )

    events = ibis.duckdb.from_connection(conn).table("events")
    rule = parse(RULE)

    def segment() -> list[int]:
        table = members_expr(events, rule, MERCHANT, NOW).to_pyarrow()
        return [int(c) for c in table.column("consumer_id").to_pylist()]

    scan_s, _ = best(lambda: full_scan(conn), args.repeat)
    seg_s, members = best(segment, args.repeat)
    scan_rate, seg_rate = rows / scan_s, rows / seg_s
    print(
        f"full scan (aggregate per type over all rows): {scan_s * 1000:8.1f} ms  "
        f"{scan_rate / 1e6:8.1f} M rows/s"
    )
    print(
        f"segment rule through the compiler:            {seg_s * 1000:8.1f} ms  "
        f"{seg_rate / 1e6:8.1f} M rows/s  ({len(members):,} members)"
    )
    print(f"ratio to the full-scan rate: {seg_rate / scan_rate:.2f} (goal >= 0.50)")

    if not args.no_pandas:
        df = conn.execute("SELECT type, merchant_id, consumer_id, occurred_at FROM events").df()
        pandas_s, expected = best(lambda: pandas_rule(df), args.repeat)
        assert expected == members, "pandas and the compiler disagree"
        print(f"same rule in pandas (data already in memory): {pandas_s * 1000:8.1f} ms")
        print(f"speed-up over pandas: {pandas_s / seg_s:.1f}x (goal >= 5x)")


if __name__ == "__main__":
    main()
