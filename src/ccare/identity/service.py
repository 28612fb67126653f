"""Sign-in for operators, merchant staff, ISV staff and (demo) consumers.

Credentials for staff live with their product (merchants, isvs); this service asks
them and turns a session token into a fresh Principal on every request, so a changed
role or a revoked ISV grant takes effect at once.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from ccare.config import get_settings
from ccare.core.errors import Conflict, Unauthorized
from ccare.core.security import hash_password, new_token, token_hash, verify_password
from ccare.core.tenancy import PLATFORM, Principal, PrincipalKind
from ccare.core.time import as_utc, utcnow
from ccare.identity.models import AuthSession, Operator
from ccare.identity.repository import IdentityRepository
from ccare.identity.schemas import OperatorCreate, SessionToken


def create_operator(db: Session, data: OperatorCreate) -> Operator:
    repo = IdentityRepository(db)
    if repo.operator_by_email(data.email):
        raise Conflict("an operator with this email exists", code="operator.email_taken")
    operator = Operator(
        email=data.email.lower(), name=data.name, password_hash=hash_password(data.password)
    )
    repo.add(operator)
    return operator


def find_operator(db: Session, email: str) -> Operator | None:
    return IdentityRepository(db).operator_by_email(email)


def ensure_operator(db: Session, data: OperatorCreate) -> Operator:
    return find_operator(db, data.email) or create_operator(db, data)


def _start_session(db: Session, kind: PrincipalKind, subject_id: int) -> SessionToken:
    token = new_token()
    now = utcnow()
    expires = now + timedelta(hours=get_settings().session_ttl_hours)
    IdentityRepository(db).add(
        AuthSession(
            token_hash=token_hash(token),
            kind=kind.value,
            subject_id=subject_id,
            created_at=now,
            expires_at=expires,
        )
    )
    return SessionToken(token=token, kind=kind, expires_at=expires)


def login_staff(db: Session, email: str, password: str) -> SessionToken:
    from ccare.isvs import service as isvs
    from ccare.merchants import service as merchants

    email = email.strip().lower()
    operator = IdentityRepository(db).operator_by_email(email)
    if operator and operator.active and verify_password(password, operator.password_hash):
        return _start_session(db, PrincipalKind.OPERATOR, operator.id)
    staff = merchants.find_staff_credentials(db, email)
    if staff and staff.active and verify_password(password, staff.password_hash):
        return _start_session(db, PrincipalKind.MERCHANT_STAFF, staff.staff_id)
    isv_staff = isvs.find_staff_credentials(db, email)
    if isv_staff and isv_staff.active and verify_password(password, isv_staff.password_hash):
        return _start_session(db, PrincipalKind.ISV_STAFF, isv_staff.staff_id)
    raise Unauthorized("wrong email or password", code="auth.invalid_credentials")


def login_consumer(db: Session, consumer_id: int) -> SessionToken:
    """Demo sign-in: the super-app's own login is outside ccare's scope."""
    from ccare.consumers import service as consumers

    if consumers.consumer_principal(db, consumer_id) is None:
        raise Unauthorized("no such consumer", code="auth.unknown_consumer")
    return _start_session(db, PrincipalKind.CONSUMER, consumer_id)


def resolve(db: Session, token: str) -> Principal | None:
    session = IdentityRepository(db).session_by_hash(token_hash(token))
    if session is None or as_utc(session.expires_at) <= utcnow():
        return None
    kind = PrincipalKind(session.kind)
    if kind == PrincipalKind.OPERATOR:
        operator = IdentityRepository(db).operator(session.subject_id)
        if operator is None or not operator.active:
            return None
        return Principal(kind=kind, id=operator.id, name=operator.name, tenant=PLATFORM)
    if kind == PrincipalKind.MERCHANT_STAFF:
        from ccare.merchants import service as merchants

        return merchants.staff_principal(db, session.subject_id)
    if kind == PrincipalKind.ISV_STAFF:
        from ccare.isvs import service as isvs

        return isvs.staff_principal(db, session.subject_id)
    from ccare.consumers import service as consumers

    return consumers.consumer_principal(db, session.subject_id)


def logout(db: Session, token: str) -> None:
    IdentityRepository(db).delete_session(token_hash(token))


def purge_expired_sessions(db: Session) -> int:
    return IdentityRepository(db).purge_expired(utcnow())
