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


def _first_int(cursor: duckdb.DuckDBPyConnection) -> int:
    """The first column of the first row, e.g. of `SELECT count(*)`, which always has one."""
    row = cursor.fetchone()
    if row is None:
        raise RuntimeError("query returned no row")
    return int(row[0])


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
                before = _first_int(cur.execute("SELECT count(*) FROM events"))
                cur.executemany("INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
                after = _first_int(cur.execute("SELECT count(*) FROM events"))
            finally:
                cur.close()
        return after - before

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
            return _first_int(row)
        finally:
            cur.close()

    def close(self) -> None:
        self._conn.close()
