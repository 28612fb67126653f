"""Analytics ingest on DuckDB: `DuckDBAnalytics.record` (one Arrow batch per relay) against
a same-run baseline, the row-by-row `executemany` insert it replaced.

    python bench/analytics_ingest.py
    python bench/analytics_ingest.py --batches 20 --batch 500

Each side gets its own in-memory DuckDB with the events table, and the same batches of
`order.paid` events (the size of an outbox relay). Prints events per second for both and
their ratio, and checks that both tables end with the same rows.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta

import duckdb

from ccare.core.analytics import _DUCKDB_SCHEMA, DuckDBAnalytics, _row
from ccare.core.events import DomainEvent
from ccare.orders.schemas import OrderPaid


def batches(count: int, size: int) -> list[list[DomainEvent]]:
    start = datetime(2026, 11, 2, tzinfo=UTC)
    return [
        [
            OrderPaid(
                merchant_id=1 + i % 7,
                consumer_id=i,
                occurred_at=start + timedelta(seconds=b * size + i),
                order_id=b * size + i,
                trade_no=f"T{b * size + i}",
                mini_program_id=1,
                items=[],
                amount=100 + i,
                platform_fee_fen=1,
            )
            for i in range(size)
        ]
        for b in range(count)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--batch", type=int, default=200, help="events per relay")
    args = parser.parse_args()
    work = batches(args.batches, args.batch)

    baseline = duckdb.connect(":memory:")
    baseline.execute("SET TimeZone = 'UTC'")
    baseline.execute(_DUCKDB_SCHEMA)
    started = time.perf_counter()
    for events in work:
        baseline.executemany(
            "INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?, ?, ?, ?)", [_row(e) for e in events]
        )
    executemany_s = time.perf_counter() - started

    store = DuckDBAnalytics(":memory:")
    started = time.perf_counter()
    recorded = sum(store.record(events) for events in work)
    arrow_s = time.perf_counter() - started

    total = args.batches * args.batch
    query = "SELECT event_id, type, amount, occurred_at, payload FROM events ORDER BY event_id"
    same = baseline.execute(query).fetchall() == store._conn.execute(query).fetchall()
    print(f"{args.batches} batches of {args.batch} events")
    print(f"executemany (baseline) {total / executemany_s:>10,.0f} events/s")
    print(f"record (Arrow batch)   {total / arrow_s:>10,.0f} events/s")
    print(f"ratio {executemany_s / arrow_s:.1f}x; recorded {recorded}; same rows: {same}")
    if not same or recorded != total:
        raise SystemExit("the two inserts disagree")


if __name__ == "__main__":
    main()
