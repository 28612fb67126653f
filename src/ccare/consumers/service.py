"""Consumers of the super-app. The super-app's own sign-up is outside ccare: consumers
are created by the platform (operator, seed scripts, the world simulator)."""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ccare.consumers.models import Consumer, Device, DevicePlatform, PaymentCode
from ccare.consumers.repository import ConsumerRepository
from ccare.consumers.schemas import ConsumerCreate, ConsumerRegistered, PaymentCodeOut
from ccare.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from ccare.core.outbox import emit
from ccare.core.security import token_hash
from ccare.core.tenancy import Principal, PrincipalKind, Tenant
from ccare.core.time import as_utc, utcnow

# Alipay-style 16-digit user ids: consumers "20880…", merchants "20881…" (merchant_pid).
BUYER_ID_PREFIX = "20880"
_BUYER_ID = re.compile(r"20880([0-9]{11})")
PAYMENT_CODE_PREFIX = "28"
PAYMENT_CODE_TTL = timedelta(seconds=60)


def create_consumer(db: Session, actor: Principal, data: ConsumerCreate) -> Consumer:
    if actor.kind not in (PrincipalKind.OPERATOR, PrincipalKind.SYSTEM):
        raise Forbidden("platform operators only", code="auth.operator_only")
    repo = ConsumerRepository(db)
    if repo.by_phone(data.phone):
        raise Conflict("this phone number is registered", code="consumer.phone_taken")
    consumer = Consumer(**data.model_dump())
    repo.add(consumer)
    emit(
        db,
        ConsumerRegistered(
            consumer_id=consumer.id, city=consumer.city, member_level=consumer.member_level
        ),
    )
    return consumer


def get_consumer(db: Session, consumer_id: int) -> Consumer:
    consumer = ConsumerRepository(db).consumer(consumer_id)
    if consumer is None:
        raise NotFound("no such consumer", code="consumer.not_found", consumer_id=consumer_id)
    return consumer


def list_consumers(
    db: Session, *, city: str | None = None, limit: int = 50, offset: int = 0
) -> list[Consumer]:
    return ConsumerRepository(db).consumers(city=city, limit=limit, offset=offset)


def consumer_principal(db: Session, consumer_id: int) -> Principal | None:
    consumer = ConsumerRepository(db).consumer(consumer_id)
    if consumer is None:
        return None
    return Principal(
        kind=PrincipalKind.CONSUMER, id=consumer.id, name=consumer.name, tenant=Tenant()
    )


def register_device(
    db: Session, consumer_id: int, device_id: str, platform: DevicePlatform
) -> Device:
    """Record a device the first time it is seen; later calls return the first record."""
    get_consumer(db, consumer_id)
    repo = ConsumerRepository(db)
    existing = repo.device(consumer_id, device_id)
    if existing is not None:
        return existing
    device = Device(consumer_id=consumer_id, device_id=device_id, platform=platform)
    try:
        # A savepoint, so losing a race with the same device's concurrent call is not an error.
        with db.begin_nested():
            repo.add(device)
    except IntegrityError:
        found = repo.device(consumer_id, device_id)
        if found is None:
            raise
        return found
    return device


def demo_consumers(db: Session, limit: int = 12) -> list[Consumer]:
    return ConsumerRepository(db).consumers(city=None, limit=limit, offset=0)


# --- buyer ids and payment codes -----------------------------------------------------------


def buyer_id(consumer_id: int) -> str:
    return f"{BUYER_ID_PREFIX}{consumer_id:011d}"


def consumer_of_buyer(db: Session, buyer_id: str) -> int | None:
    """The consumer a 16-digit buyer_id names, if it is one of ours and exists."""
    match = _BUYER_ID.fullmatch(buyer_id)
    if match is None:
        return None
    consumer = ConsumerRepository(db).consumer(int(match.group(1)))
    return consumer.id if consumer is not None else None


def issue_payment_code(
    db: Session, consumer: Principal, now: datetime | None = None
) -> PaymentCodeOut:
    """A fresh code for the signed-in consumer; earlier codes stay valid until they expire."""
    if consumer.kind != PrincipalKind.CONSUMER:
        raise Forbidden("consumers only", code="auth.consumer_only")
    get_consumer(db, consumer.id)
    repo = ConsumerRepository(db)
    now = now or utcnow()
    while True:
        code = PAYMENT_CODE_PREFIX + f"{secrets.randbelow(10**16):016d}"
        if repo.payment_code(token_hash(code)) is None:
            break
    expires = now + PAYMENT_CODE_TTL
    repo.add(
        PaymentCode(
            consumer_id=consumer.id, code_hash=token_hash(code), created_at=now, expires_at=expires
        )
    )
    return PaymentCodeOut(
        auth_code=code,
        buyer_id=buyer_id(consumer.id),
        expires_at=expires,
        expires_in=int(PAYMENT_CODE_TTL.total_seconds()),
    )


def redeem_payment_code(db: Session, code: str, now: datetime | None = None) -> int:
    """Use a payment code up and return its consumer's id."""
    now = now or utcnow()
    repo = ConsumerRepository(db)
    digest = token_hash(code)
    if repo.use_payment_code(digest, now):
        row = repo.payment_code(digest)
        assert row is not None
        return row.consumer_id
    row = repo.payment_code(digest)
    if row is None:
        raise InvalidInput("unknown payment code", code="payment_code.invalid")
    if row.used_at is not None:
        raise Conflict("this payment code was used", code="payment_code.used")
    raise InvalidInput(
        "this payment code expired",
        code="payment_code.expired",
        expired_at=as_utc(row.expires_at).isoformat(),
    )
