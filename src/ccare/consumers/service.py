"""Consumers of the super-app. The super-app's own sign-up is outside ccare: consumers
are created by the platform (operator, seed scripts, the world simulator)."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ccare.consumers.models import Consumer, Device, DevicePlatform
from ccare.consumers.repository import ConsumerRepository
from ccare.consumers.schemas import ConsumerCreate, ConsumerRegistered
from ccare.core.errors import Conflict, Forbidden, NotFound
from ccare.core.outbox import emit
from ccare.core.tenancy import Principal, PrincipalKind, Tenant


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
