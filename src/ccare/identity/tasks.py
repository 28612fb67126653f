"""Periodic: drop expired sign-in sessions (run by `ccare worker`)."""

from ccare.core.db import Database
from ccare.identity.service import purge_expired_sessions


def purge_sessions(db: Database) -> int:
    with db.transaction() as session:
        return purge_expired_sessions(session)
