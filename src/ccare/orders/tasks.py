"""Periodic: close orders nobody paid before expires_at (run by `ccare worker`)."""

from datetime import datetime

from ccare.core.db import Database
from ccare.core.time import utcnow
from ccare.orders import service


def close_overdue(db: Database, now: datetime | None = None) -> int:
    with db.transaction() as session:
        return service.close_overdue(session, now or utcnow())
