"""What the in-process world benches share: a fresh SQLite platform with an operator
account, and the platform's worker jobs run until idle (the outbox into analytics, due
campaign rounds, broadcast fan-out, released messages), as a running worker would."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ccare.products  # noqa: F401  (registers every table)
from ccare.campaigns import rounds
from ccare.config import Settings
from ccare.core.analytics import DuckDBAnalytics
from ccare.core.db import Base, Database
from ccare.core.time import utcnow
from ccare.core.worker import InProcessTransport, drain
from ccare.identity.schemas import OperatorCreate
from ccare.identity.service import create_operator
from ccare.messages import fanout, sending
from ccare.runtime import Runtime


def fresh_platform(work: Path, name: str, operator: tuple[str, str], **settings: Any) -> Runtime:
    """`work/name.sqlite3`, created, with in-memory analytics and the operator's account;
    `settings`: overrides (e.g. forwarded_allow_ips)."""
    url = f"sqlite:///{work / f'{name}.sqlite3'}"
    db = Database(url)
    Base.metadata.create_all(db.engine)
    config = Settings(
        database_url=url,
        data_dir=work,
        analytics_path=":memory:",
        broker_url="",
        _env_file=None,  # type: ignore[call-arg]
        **settings,
    )
    runtime = Runtime(settings=config, db=db, analytics=DuckDBAnalytics(":memory:"))
    with db.transaction() as s:
        create_operator(s, OperatorCreate(email=operator[0], name="Operator", password=operator[1]))
    return runtime


def worker(runtime: Runtime) -> int:
    """The worker's jobs, until none has anything left to do."""
    db, analytics = runtime.db, runtime.analytics
    total = 0
    while True:
        done = drain(db, InProcessTransport(db, analytics))
        done += rounds.run_due(db, analytics)
        done += fanout.poll(db)
        with db.transaction() as s:
            done += sending.release_due(s, utcnow())
        if not done:
            return total
        total += done
