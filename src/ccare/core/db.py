"""Engine, session factory and the declarative base shared by every product."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Engine,
    Enum,
    Integer,
    MetaData,
    create_engine,
    event,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.types import TypeDecorator

from ccare.core.errors import DomainError
from ccare.core.time import utcnow

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments INTEGER PRIMARY KEY, so ids are BIGINT elsewhere only.
BigId = BigInteger().with_variant(Integer(), "sqlite")
JSONType = JSON().with_variant(postgresql.JSONB(), "postgresql")


def str_enum(cls: type[StrEnum], length: int = 20) -> Enum:
    """A StrEnum column stored as its values (not member names) in plain VARCHAR."""
    return Enum(
        cls, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e]
    )


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on every backend (SQLite stores naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSONType}


class IdMixin:
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class DatabaseConfigError(DomainError):
    code = "config.database_url"


class DatabaseBusy(DomainError):
    status_code = 503
    code = "service.unavailable"


def make_engine(url: str, *, echo: bool = False) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise DatabaseConfigError(f"cannot parse database URL {url!r}") from exc
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            from pathlib import Path

            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            parsed, echo=echo, connect_args={"check_same_thread": False, "timeout": 30}
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        _serialise_sqlite_writers(engine)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    try:
        return create_engine(parsed, echo=echo, pool_size=10, max_overflow=20, pool_pre_ping=True)
    except Exception as exc:  # unknown dialect, missing driver
        raise DatabaseConfigError(f"unsupported database URL {url!r}: {exc}") from exc


WRITER_WAIT_SECONDS = 30


def _serialise_sqlite_writers(engine: Engine) -> None:
    """SQLite has one writer. Every transaction takes the write lock at BEGIN (IMMEDIATE),
    so writers queue instead of failing when a read upgrades to a write; and threads of
    this process queue on a lock first, which wakes the next one at once, where SQLite's
    busy handler would poll with growing sleeps (some requests waited seconds)."""
    writer = threading.Lock()

    def begin(conn: Any) -> None:
        if not writer.acquire(timeout=WRITER_WAIT_SECONDS):
            raise DatabaseBusy("the database stayed busy; retry")
        conn.info["ccare_writer"] = True
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            _release(conn)
            raise

    def _release(conn: Any) -> None:
        if conn.info.pop("ccare_writer", False):
            writer.release()

    event.listen(engine, "begin", begin)
    event.listen(engine, "commit", _release)
    event.listen(engine, "rollback", _release)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # pysqlite's own transaction handling is turned off so BEGIN IMMEDIATE above is ours.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


class Database:
    """One engine and session factory per process (or per test)."""

    def __init__(self, url: str, *, echo: bool = False, world: str = "live") -> None:
        self.url = url
        self.world = world
        self.engine = make_engine(url, echo=echo)
        # Sessions know their world (live or sandbox, docs/adr/0008) through `session.info`.
        self.sessionmaker = sessionmaker(
            self.engine, expire_on_commit=False, autoflush=True, info={"world": world}
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A unit of work for jobs and scripts: commit on success, roll back on error."""
        session = self.sessionmaker()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()
