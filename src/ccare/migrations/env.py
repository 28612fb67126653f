"""Alembic environment: ccare's models, the URL from `ccare.migrations.config()`."""

from __future__ import annotations

from typing import Any

from alembic import context
from alembic.operations import ops
from sqlalchemy import Engine, create_engine, pool
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import make_url

import ccare.core.idempotency  # noqa: F401  (core tables: idempotency keys, outbox)
import ccare.core.outbox  # noqa: F401
import ccare.products  # noqa: F401  (registers every product's tables)
from ccare.core.db import Base, UTCDateTime, make_engine

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = config.attributes.get("database_url")
    if not url:
        from ccare.config import get_settings

        url = get_settings().effective_database_url
    return str(url)


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """Migrations use plain SQLAlchemy types, never ccare's Python-side decorators."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    if type_ == "type" and isinstance(obj, postgresql.JSONB):
        autogen_context.imports.add("from sqlalchemy.dialects import postgresql")
        return "postgresql.JSONB(astext_type=sa.Text())"
    return False


def add_expression_indexes(context_: Any, revision: Any, directives: list[Any]) -> None:
    """Indexes on expressions for new tables, which SQLite's autogenerate leaves out."""
    script = directives[0]
    if script.upgrade_ops is None:
        return
    upgrade_ops, downgrade_ops = script.upgrade_ops, script.downgrade_ops
    present = {
        op_.index_name
        for container in upgrade_ops.ops
        if isinstance(container, ops.ModifyTableOps)
        for op_ in container.ops
        if isinstance(op_, ops.CreateIndexOp)
    }
    for position in range(len(upgrade_ops.ops) - 1, -1, -1):
        op_ = upgrade_ops.ops[position]
        if not isinstance(op_, ops.CreateTableOp):
            continue
        table = target_metadata.tables.get(op_.table_name)
        if table is None:
            continue
        extra = sorted(
            (i for i in table.indexes if i.name not in present and _is_expression_index(i)),
            key=lambda i: str(i.name),
        )
        if not extra:
            continue
        upgrade_ops.ops.insert(
            position + 1,
            ops.ModifyTableOps(op_.table_name, [ops.CreateIndexOp.from_index(i) for i in extra]),
        )
        for down_position, down in enumerate(downgrade_ops.ops):
            if isinstance(down, ops.DropTableOp) and down.table_name == op_.table_name:
                downgrade_ops.ops.insert(
                    down_position,
                    ops.ModifyTableOps(
                        op_.table_name, [ops.DropIndexOp.from_index(i) for i in extra]
                    ),
                )
                break


def _is_expression_index(index: Any) -> bool:
    from sqlalchemy import Column

    return any(not isinstance(e, Column) for e in index.expressions)


def _on_version_apply(ctx: Any, step: Any, heads: Any, run_args: Any) -> None:
    progress = config.attributes.get("progress")
    if progress is not None:
        doc = getattr(step.up_revision, "doc", "") or ""
        verb = "applied" if step.is_upgrade else "reverted"
        progress(f"{verb} {step.up_revision_id} {doc}".strip())


def _options(dialect: str) -> dict[str, Any]:
    return {
        "target_metadata": target_metadata,
        "render_as_batch": dialect == "sqlite",
        "compare_type": True,
        "render_item": render_item,
        "process_revision_directives": add_expression_indexes,
        "on_version_apply": _on_version_apply,
    }


def _engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        # A plain engine: batch mode recreates tables, which needs foreign keys off.
        if parsed.database and parsed.database != ":memory:":
            from pathlib import Path

            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        return create_engine(parsed, poolclass=pool.NullPool)
    return make_engine(url)


def run_migrations_offline() -> None:
    url = _url()
    context.configure(
        url=url,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        **_options(make_url(url).get_backend_name()),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, **_options(connection.dialect.name))
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = _engine(_url())
    try:
        with engine.connect() as conn:
            context.configure(connection=conn, **_options(conn.dialect.name))
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
