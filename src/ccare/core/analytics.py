"""Analytics store: every delivered event lands in an append-only `events` table.

DuckDB by default. Queries are written with Ibis expressions over `events_table()` so the
same code runs on ClickHouse or Spark when a platform outgrows one machine (ADR 0004).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import duckdb

from ccare.core.events import DomainEvent

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    event_id VARCHAR PRIMARY KEY,
    type VARCHAR NOT NULL,
    merchant_id BIGINT,
    consumer_id BIGINT,
    occurred_at TIMESTAMPTZ NOT NULL,
    amount BIGINT,
    payload JSON NOT NULL
)
"""


class AnalyticsStore:
    """One DuckDB database per process; cursors per call keep threads apart."""

    def __init__(self, path: str) -> None:
        self.path = path
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._conn = duckdb.connect(path)
        self._conn.execute("SET TimeZone = 'UTC'")
        self._conn.execute(_SCHEMA)
        self._write_lock = threading.Lock()

    def record(self, events: list[DomainEvent]) -> int:
        """Idempotent by event id: a redelivered event is ignored."""
        if not events:
            return 0
        rows = [
            (
                e.event_id,
                e.type,
                e.merchant_id,
                e.consumer_id,
                e.occurred_at,
                getattr(e, "amount", None),
                json.dumps(e.payload(), ensure_ascii=False),
            )
            for e in events
        ]
        with self._write_lock:
            cur = self._conn.cursor()
            try:
                before = cur.execute("SELECT count(*) FROM events").fetchone()[0]  # type: ignore[index]
                cur.executemany("INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
                after = cur.execute("SELECT count(*) FROM events").fetchone()[0]  # type: ignore[index]
            finally:
                cur.close()
        return int(after - before)

    def ibis(self) -> Any:
        import ibis

        return ibis.duckdb.from_connection(self._conn.cursor())

    def events_table(self) -> Any:
        return self.ibis().table("events")

    def count(self, event_type: str | None = None) -> int:
        cur = self._conn.cursor()
        try:
            if event_type:
                row = cur.execute("SELECT count(*) FROM events WHERE type = ?", [event_type])
            else:
                row = cur.execute("SELECT count(*) FROM events")
            return int(row.fetchone()[0])  # type: ignore[index]
        finally:
            cur.close()

    def close(self) -> None:
        self._conn.close()
