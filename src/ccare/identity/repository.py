from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ccare.identity.models import AuthSession, Operator


class IdentityRepository:
    def __init__(self, db: Session) -> None:
        self.db = db

    def operator_by_email(self, email: str) -> Operator | None:
        return self.db.scalars(select(Operator).where(Operator.email == email.lower())).first()

    def operator(self, operator_id: int) -> Operator | None:
        return self.db.get(Operator, operator_id)

    def add(self, obj: Operator | AuthSession) -> None:
        self.db.add(obj)
        self.db.flush()

    def session_by_hash(self, token_hash: str) -> AuthSession | None:
        return self.db.scalars(
            select(AuthSession).where(AuthSession.token_hash == token_hash)
        ).first()

    def delete_session(self, token_hash: str) -> None:
        self.db.execute(delete(AuthSession).where(AuthSession.token_hash == token_hash))

    def purge_expired(self, now: datetime) -> int:
        result = self.db.execute(delete(AuthSession).where(AuthSession.expires_at < now))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
