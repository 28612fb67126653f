"""profile_table on DuckDB against a same-run baseline: one GROUP BY consumer_id scan of the
same merchant's events (the least any per-customer profile must do).

    python bench/profiles_table.py [events] [customers]

Prints both times and the ratio baseline / profile_table (1.0 = as fast as the bare scan).
"""

from __future__ import annotations

import json
import random
import sys
import time
from datetime import UTC, datetime, timedelta

from ccare.core.analytics import DuckDBAnalytics
from ccare.profiles.queries import profile_table

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)
TYPES = [
    ("order.paid", 0.25),
    ("order.refunded", 0.02),
    ("storefront.visited", 0.35),
    ("customer.event", 0.2),
    ("coupon.claimed", 0.08),
    ("coupon.used", 0.05),
    ("favorite.added", 0.05),
]
CHANNELS = ["search", "offline", "fan_group", "payment_success", None]


def fill(store: DuckDBAnalytics, events: int, customers: int) -> None:
    rng = random.Random(7)
    names, weights = zip(*TYPES, strict=True)
    rows = []
    for i in range(events):
        kind = rng.choices(names, weights)[0]
        payload = {"channel": rng.choice(CHANNELS), "mini_program_id": rng.randint(1, 3)}
        if kind == "customer.event":
            payload["name"] = rng.choice(["visit", "page_view", "share"])
        amount = rng.randint(100, 20_000) if kind in ("order.paid", "order.refunded") else None
        at = NOW - timedelta(seconds=rng.randint(0, 365 * 86_400))
        merchant = 1 if rng.random() < 0.8 else 2
        rows.append(
            (f"b{i}", kind, merchant, rng.randint(1, customers), at, amount, json.dumps(payload))
        )
    store._conn.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?)", rows)


def best_of(runs: int, work: object) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    events = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    customers = int(sys.argv[2]) if len(sys.argv) > 2 else 20_000
    store = DuckDBAnalytics(":memory:")
    fill(store, events, customers)
    t = store.events_table()
    mine = t.filter(t.merchant_id == 1)
    baseline = mine.group_by("consumer_id").aggregate(n=mine.count(), last=mine.occurred_at.max())
    profiles = profile_table(t, 1, NOW)
    rows = profiles.count().to_pyarrow().as_py()
    base_s = best_of(3, lambda: baseline.to_pyarrow())
    prof_s = best_of(3, lambda: profiles.to_pyarrow())
    print(f"events={events} customers={customers} profile rows={rows}")
    print(f"baseline group-by scan: {base_s * 1000:.1f} ms")
    print(f"profile_table:          {prof_s * 1000:.1f} ms")
    print(f"ratio baseline/profile_table: {base_s / prof_s:.2f}")


if __name__ == "__main__":
    main()
