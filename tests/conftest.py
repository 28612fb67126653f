"""Shared fixtures.

The suite runs on SQLite by default. With CCARE_TEST_DATABASE_URL it runs on that
database (CI: PostgreSQL). CCARE_REQUIRE_POSTGRES=1 / CCARE_REQUIRE_REDIS=1 turn the
skips of PostgreSQL-only and Redis tests into failures, so CI cannot skip them silently.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

import ccare.products  # noqa: F401  (registers every table)
from ccare.config import Settings
from ccare.core import security
from ccare.core.analytics import AnalyticsStore, DuckDBAnalytics, PostgresAnalytics, pg_events
from ccare.core.db import Base, Database
from ccare.runtime import Runtime
from ccare.web.app import create_app

PG_URL = os.environ.get("CCARE_TEST_DATABASE_URL", "")
REDIS_URL = os.environ.get("CCARE_TEST_REDIS_URL", "")

# Thousands of throwaway accounts: scrypt at its production cost would take minutes.
security.use_work_factor(2**8)


def _require(flag: str) -> bool:
    return os.environ.get(flag) == "1"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    if PG_URL:
        return PG_URL
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"


@pytest.fixture(scope="session")
def _schema(database_url: str) -> Iterator[Database]:
    db = Database(database_url)
    Base.metadata.drop_all(db.engine)
    Base.metadata.create_all(db.engine)
    yield db
    db.dispose()


RESTART_SEQUENCES = (
    "SELECT setval(c.oid, 1, false) FROM pg_class c"
    " JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE c.relkind = 'S' AND n.nspname = current_schema()"
)


def _wipe(db: Database) -> None:
    from ccare.openplatform import auth
    from ccare.promotion import decisions

    auth.clear(db.engine)
    decisions.forget(db.engine)
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    if db.dialect != "postgresql":
        with db.engine.begin() as conn:
            for name in tables:
                conn.execute(text(f"DELETE FROM {name}"))
        return
    # TRUNCATE (not DELETE) so rows come back in insertion order, but only the tables a
    # test wrote to, far quicker than all 60. The probe commits first: holding its share
    # locks while TRUNCATE asks for exclusive ones could deadlock with a straggling session.
    probe = " UNION ALL ".join(
        f"SELECT '{name}' WHERE EXISTS (SELECT 1 FROM {name})" for name in tables
    )
    with db.engine.begin() as conn:
        used = list(conn.scalars(text(probe)))
    with db.engine.begin() as conn:
        if used:
            conn.execute(text(f"TRUNCATE {', '.join(used)} CASCADE"))
        # Every sequence, also of tables whose only insert was rolled back.
        conn.execute(text(RESTART_SEQUENCES))


def _sibling_postgres(url: str, name: str) -> str:
    """A second database on the same PostgreSQL server, created when missing."""
    import psycopg

    base = url.rsplit("/", 1)[0]
    admin = base.replace("postgresql+psycopg://", "postgresql://") + "/postgres"
    with psycopg.connect(admin, autocommit=True, connect_timeout=10) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    return f"{base}/{name}"


@pytest.fixture(scope="session")
def _sandbox_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    if PG_URL:
        url = _sibling_postgres(PG_URL, "test_sandbox")
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('sandbox') / 'sandbox.sqlite3'}"
    db = Database(url, world="sandbox")
    Base.metadata.drop_all(db.engine)
    Base.metadata.create_all(db.engine)
    yield db
    db.dispose()


@pytest.fixture
def sandbox(runtime: Runtime, _sandbox_schema: Database) -> Database:
    """The sandbox world's database, wiped, attached to the test's runtime."""
    _wipe(_sandbox_schema)
    runtime.sandbox = _sandbox_schema
    return _sandbox_schema


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=tmp_path,
        analytics_path=":memory:",
        broker_url="",
        _env_file=None,  # type: ignore[call-arg]
    )


@pytest.fixture
def runtime(_schema: Database, settings: Settings) -> Iterator[Runtime]:
    _wipe(_schema)
    rt = Runtime(settings=settings, db=_schema, analytics=DuckDBAnalytics(":memory:"))
    yield rt
    if rt.worker:
        rt.worker.stop()
    if rt.analytics:
        rt.analytics.close()


@pytest.fixture
def db(runtime: Runtime) -> Database:
    return runtime.db


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime)) as c:
        yield c


@pytest.fixture
def postgres(db: Database) -> Database:
    """Use in tests that only mean something on PostgreSQL (row locks, true parallelism)."""
    if db.dialect != "postgresql":
        if _require("CCARE_REQUIRE_POSTGRES"):
            pytest.fail("CCARE_REQUIRE_POSTGRES=1 but the suite is not running on PostgreSQL")
        pytest.skip("needs CCARE_TEST_DATABASE_URL=postgresql://...")
    return db


@pytest.fixture(params=["duckdb", "postgresql"])
def analytics_store(request: pytest.FixtureRequest) -> Iterator[AnalyticsStore]:
    """An empty analytics store on each backend: reports must give the same numbers."""
    if request.param == "duckdb":
        store: AnalyticsStore = DuckDBAnalytics(":memory:")
    else:
        if not PG_URL:
            if _require("CCARE_REQUIRE_POSTGRES"):
                pytest.fail("CCARE_REQUIRE_POSTGRES=1 but CCARE_TEST_DATABASE_URL is not set")
            pytest.skip("needs CCARE_TEST_DATABASE_URL=postgresql://...")
        pg = PostgresAnalytics(PG_URL)
        with pg.engine.begin() as conn:
            conn.execute(pg_events.delete())
        store = pg
    yield store
    store.close()


@pytest.fixture
def redis_url() -> str:
    if not REDIS_URL:
        if _require("CCARE_REQUIRE_REDIS"):
            pytest.fail("CCARE_REQUIRE_REDIS=1 but CCARE_TEST_REDIS_URL is not set")
        pytest.skip("needs CCARE_TEST_REDIS_URL=redis://...")
    return REDIS_URL


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
