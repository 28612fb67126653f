"""The migrations build exactly the schema the models describe, and tear it down again.

On SQLite always; on PostgreSQL when CCARE_TEST_DATABASE_URL is set, in a database of its
own (`ccare_migrations_test`) created on the same server, never the suite's database.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

import ccare.core.idempotency  # noqa: F401
import ccare.products  # noqa: F401
from ccare import migrations
from ccare.core.db import Base, make_engine

PG_URL = os.environ.get("CCARE_TEST_DATABASE_URL", "")
SCRATCH_DB = "ccare_migrations_test"
ENUM_TYPES = """
SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE n.nspname = 'public' AND t.typtype = 'e'
"""

pytestmark = pytest.mark.filterwarnings(
    "ignore:autogenerate skipping metadata-specified expression-based index",
    "ignore:Skipped unsupported reflection of expression-based index",
)


def _postgres_url() -> Iterator[str]:
    if not PG_URL or make_url(PG_URL).get_backend_name() != "postgresql":
        if os.environ.get("CCARE_REQUIRE_POSTGRES") == "1":
            pytest.fail("CCARE_REQUIRE_POSTGRES=1 but CCARE_TEST_DATABASE_URL is not PostgreSQL")
        pytest.skip("needs CCARE_TEST_DATABASE_URL=postgresql://...")
    server = make_url(PG_URL).set(drivername="postgresql+psycopg")
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {SCRATCH_DB} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {SCRATCH_DB}"))
    try:
        yield server.set(database=SCRATCH_DB).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {SCRATCH_DB} WITH (FORCE)"))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_url(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    # Run from an unrelated directory: the configuration must not depend on the cwd.
    monkeypatch.chdir(tmp_path)
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'nested' / 'migrated.sqlite3'}"
    else:
        yield from _postgres_url()


def _differences(url: str) -> list[object]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_one_linear_history() -> None:
    script = migrations.script_directory()
    assert len(script.get_heads()) == 1
    assert migrations.revision_count() >= 1


def test_every_table_is_known_to_the_migrations() -> None:
    assert {"idempotency_keys", "outbox_events", "processed_events"} <= set(Base.metadata.tables)


def test_upgrade_head_builds_the_models_schema(fresh_url: str) -> None:
    applied: list[str] = []
    migrations.upgrade(fresh_url, progress=applied.append)

    assert len(applied) == migrations.revision_count()
    assert migrations.current(fresh_url) == migrations.head()
    assert _tables(fresh_url) == set(Base.metadata.tables) | {"alembic_version"}
    assert _differences(fresh_url) == []


def test_upgrade_is_a_no_op_at_head(fresh_url: str) -> None:
    migrations.upgrade(fresh_url)
    applied: list[str] = []
    migrations.upgrade(fresh_url, progress=applied.append)
    assert applied == []


def test_downgrade_to_base_removes_everything(fresh_url: str) -> None:
    migrations.upgrade(fresh_url)
    reverted: list[str] = []
    migrations.downgrade(fresh_url, "base", progress=reverted.append)

    assert len(reverted) == migrations.revision_count()
    assert migrations.current(fresh_url) is None
    assert _tables(fresh_url) <= {"alembic_version"}
    if make_url(fresh_url).get_backend_name() == "postgresql":
        engine = make_engine(fresh_url)
        with engine.connect() as conn:
            types = conn.scalars(text(ENUM_TYPES)).all()
        engine.dispose()
        assert types == []
    # ... and back up again, as a deployment rolled back and forward would.
    migrations.upgrade(fresh_url)
    assert _differences(fresh_url) == []


def test_autogenerate_from_scratch_finds_nothing_to_change(tmp_path: Path) -> None:
    """What `ccare db revision` does, in a copy of the revisions: models == migrations."""
    import shutil

    versions = tmp_path / "versions"
    shutil.copytree(migrations.VERSIONS_DIR, versions, ignore=shutil.ignore_patterns("__pycache__"))
    with pytest.raises(migrations.NoChanges) as empty:
        migrations.revision(None, "nothing to do", versions_dir=versions)
    written = empty.value.path
    assert written.parent == versions
    assert written.name == f"{int(migrations.head() or 0) + 1:04d}_nothing_to_do.py"
    assert "pass" in written.read_text()


def test_squash_writes_one_initial_revision_that_builds_the_schema(tmp_path: Path) -> None:
    versions = tmp_path / "versions"
    versions.mkdir()
    (versions / "0007_old.py").write_text("revision = '0007'\ndown_revision = None\n")
    path = migrations.squash("initial schema", versions_dir=versions)
    assert sorted(p.name for p in versions.glob("*.py")) == ["0001_initial_schema.py"]
    assert path == versions / "0001_initial_schema.py"
    url = f"sqlite:///{tmp_path / 'squashed.sqlite3'}"
    from alembic import command

    command.upgrade(migrations.config(url, versions_dir=versions), "head")
    assert _differences(url) == []
