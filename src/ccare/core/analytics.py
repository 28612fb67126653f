"""Analytics store: every delivered event lands once in an append-only `events` table.

Two backends behind one interface (ADR 0004):
- DuckDB file (default, embedded mode): one process may open it, the one running the
  in-process worker.
- PostgreSQL (`CCARE_ANALYTICS_URL=postgresql://...`, production): any number of
  `ccare worker` and `ccare serve` processes share it.
Queries are Ibis expressions over `events_table()`, so the same dashboard code runs on
either, and on ClickHouse or Spark through Ibis when one database is not enough.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any, Protocol

import duckdb
import pyarrow as pa
from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    MetaData,
    String,
    Table,
    create_engine,
    func,
    select,
    text,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import make_url

from ccare.core.events import DomainEvent

EVENT_ID_LENGTH = 100
COLUMNS = ("event_id", "type", "merchant_id", "consumer_id", "occurred_at", "amount", "payload")


class AnalyticsStore(Protocol):
    def record(self, events: list[DomainEvent]) -> int:
        """Insert events not seen before; returns how many were new."""

    def events_table(self) -> Any:
        """The `events` table as an Ibis expression."""

    def count(self, event_type: str | None = None) -> int: ...

    def close(self) -> None: ...


def payload_str(t: Any, key: str) -> Any:
    """A payload field of the `events` table (an Ibis expression) as a string."""
    return t.payload[key].str


def payload_int(t: Any, key: str) -> Any:
    """A payload field as an integer, by way of its JSON text: Ibis's own integer unwrap
    does not compile for PostgreSQL."""
    return t.payload[key].cast("string").cast("int64")


def _row(e: DomainEvent) -> tuple[Any, ...]:
    return (
        e.event_id,
        e.type,
        e.merchant_id,
        e.consumer_id,
        e.occurred_at,
        getattr(e, "amount", None),
        json.dumps(e.payload(), ensure_ascii=False),
    )


_ARROW_COLUMNS = (
    ("event_id", pa.string()),
    ("type", pa.string()),
    ("merchant_id", pa.int64()),
    ("consumer_id", pa.int64()),
    ("occurred_at", pa.timestamp("us", tz="UTC")),
    ("amount", pa.int64()),
    ("payload", pa.string()),
)


def _arrow_batch(events: list[DomainEvent]) -> pa.Table:
    unique = {e.event_id: _row(e) for e in reversed(events)}  # the first of a repeated id
    columns = list(zip(*reversed(list(unique.values())), strict=True))
    return pa.table(
        {
            name: pa.array(values, type=kind)
            for (name, kind), values in zip(_ARROW_COLUMNS, columns, strict=True)
        }
    )


def open_analytics(url: str, path: str) -> AnalyticsStore:
    if url:
        return PostgresAnalytics(url)
    return DuckDBAnalytics(path)


_DUCKDB_SCHEMA = """
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


class DuckDBAnalytics:
    """One DuckDB database per process; cursors per call keep threads apart."""

    def __init__(self, path: str) -> None:
        self.path = path
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._conn = duckdb.connect(path)
        self._conn.execute("SET TimeZone = 'UTC'")
        self._conn.execute(_DUCKDB_SCHEMA)
        self._write_lock = threading.Lock()

    def record(self, events: list[DomainEvent]) -> int:
        if not events:
            return 0
        with self._write_lock:
            cur = self._conn.cursor()
            try:
                before = _first_int(cur.execute("SELECT count(*) FROM events").fetchall()[0])
                # One Arrow batch, not `executemany`: DuckDB runs the latter row by row,
                # a hundred times slower for a relay's few hundred events.
                cur.register("incoming", _arrow_batch(events))
                cur.execute(
                    "INSERT OR IGNORE INTO events SELECT event_id, type, merchant_id,"
                    " consumer_id, occurred_at, amount, payload::JSON FROM incoming"
                ).fetchall()
                cur.unregister("incoming")
                after = _first_int(cur.execute("SELECT count(*) FROM events").fetchall()[0])
            finally:
                cur.close()
        return after - before

    def events_table(self) -> Any:
        import ibis

        return ibis.duckdb.from_connection(self._conn.cursor()).table("events")

    def count(self, event_type: str | None = None) -> int:
        cur = self._conn.cursor()
        try:
            if event_type:
                row = cur.execute("SELECT count(*) FROM events WHERE type = ?", [event_type])
            else:
                row = cur.execute("SELECT count(*) FROM events")
            return _first_int(row.fetchone())
        finally:
            cur.close()

    def close(self) -> None:
        self._conn.close()


def _first_int(row: tuple[Any, ...] | None) -> int:
    # count(*) always yields one row; None would mean a broken connection.
    if row is None:
        raise RuntimeError("analytics query returned no row")
    return int(row[0])


_pg_metadata = MetaData()
pg_events = Table(
    "analytics_events",
    _pg_metadata,
    Column("event_id", String(EVENT_ID_LENGTH), primary_key=True),
    Column("type", String(64), nullable=False, index=True),
    Column("merchant_id", BigInteger, index=True),
    Column("consumer_id", BigInteger),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("amount", BigInteger),
    Column("payload", JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
)


class PostgresAnalytics:
    """Shared by every process; idempotent through ON CONFLICT DO NOTHING."""

    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        if parsed.get_backend_name() != "postgresql":
            raise ValueError(f"analytics URL must be postgresql://…, got {parsed.drivername}")
        self.url = parsed.set(drivername="postgresql+psycopg")
        self.engine = create_engine(self.url, pool_size=2, max_overflow=2, pool_pre_ping=True)
        _pg_metadata.create_all(self.engine)
        with self.engine.begin() as conn:
            # Stores created before merchants' own event ids (ext:<merchant>:<id>) had 32
            # characters; widening a varchar rewrites nothing, but takes a lock: only once.
            width = conn.execute(
                text(
                    "SELECT character_maximum_length FROM information_schema.columns"
                    " WHERE table_name = 'analytics_events' AND column_name = 'event_id'"
                )
            ).scalar()
            if width is not None and width < EVENT_ID_LENGTH:
                conn.execute(
                    text(
                        "ALTER TABLE analytics_events ALTER COLUMN event_id"
                        f" TYPE VARCHAR({EVENT_ID_LENGTH})"
                    )
                )
        self._ibis: Any = None

    def record(self, events: list[DomainEvent]) -> int:
        if not events:
            return 0
        rows = [dict(zip(COLUMNS, _row(e), strict=True)) for e in events]
        for row in rows:
            row["payload"] = json.loads(row["payload"])
        stmt = (
            postgresql.insert(pg_events)
            .values(rows)
            .on_conflict_do_nothing()
            .returning(pg_events.c.event_id)
        )
        with self.engine.begin() as conn:
            return len(conn.execute(stmt).all())

    def events_table(self) -> Any:
        import ibis

        if self._ibis is None:
            u = self.url
            self._ibis = ibis.postgres.connect(
                host=u.host or "localhost",
                port=u.port or 5432,
                user=u.username,
                password=u.password,
                database=u.database,
            )
        return self._ibis.table(pg_events.name)

    def count(self, event_type: str | None = None) -> int:
        stmt = select(func.count()).select_from(pg_events)
        if event_type:
            stmt = stmt.where(pg_events.c.type == event_type)
        with self.engine.connect() as conn:
            return int(conn.execute(stmt).scalar_one())

    def close(self) -> None:
        if self._ibis is not None:
            self._ibis.disconnect()
        self.engine.dispose()
