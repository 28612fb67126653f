from typing import Annotated

from fastapi import Query

from ccare.consumers import service
from ccare.consumers.schemas import (
    ConsumerCreate,
    ConsumerOut,
    DeviceOut,
    DeviceRegister,
    PaymentCodeOut,
)
from ccare.web.deps import CurrentConsumer, CurrentOperator, DbSession, IdPath, Limit, Offset
from ccare.web.routing import api_router

NO_NUL = r"^[^\x00]+$"

router = api_router(prefix="/api/v1", tags=["consumers"])


@router.get("/consumers", response_model=list[ConsumerOut], summary="List consumers (operator)")
def list_consumers(
    db: DbSession,
    operator: CurrentOperator,
    city: Annotated[str | None, Query(min_length=1, max_length=50, pattern=NO_NUL)] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> list[ConsumerOut]:
    rows = service.list_consumers(db, city=city, limit=limit, offset=offset)
    return [ConsumerOut.model_validate(c) for c in rows]


@router.post(
    "/consumers",
    response_model=ConsumerOut,
    status_code=201,
    summary="Register a consumer (operator)",
)
def create_consumer(body: ConsumerCreate, db: DbSession, operator: CurrentOperator) -> ConsumerOut:
    return ConsumerOut.model_validate(service.create_consumer(db, operator, body))


@router.get(
    "/consumers/{consumer_id}", response_model=ConsumerOut, summary="One consumer (operator)"
)
def get_consumer(consumer_id: IdPath, db: DbSession, operator: CurrentOperator) -> ConsumerOut:
    return ConsumerOut.model_validate(service.get_consumer(db, consumer_id))


@router.get(
    "/consumer/profile", response_model=ConsumerOut, summary="The signed-in consumer's profile"
)
def profile(db: DbSession, consumer: CurrentConsumer) -> ConsumerOut:
    return ConsumerOut.model_validate(service.get_consumer(db, consumer.id))


@router.post(
    "/consumer/devices",
    response_model=DeviceOut,
    summary="Report the device the consumer is using (idempotent)",
)
def register_device(body: DeviceRegister, db: DbSession, consumer: CurrentConsumer) -> DeviceOut:
    device = service.register_device(db, consumer.id, body.device_id, body.platform)
    return DeviceOut.model_validate(device)


@router.post(
    "/me/payment-code",
    response_model=PaymentCodeOut,
    status_code=201,
    summary="Consumer: a one-minute, single-use payment code for a merchant to scan",
)
def payment_code(db: DbSession, consumer: CurrentConsumer) -> PaymentCodeOut:
    return service.issue_payment_code(db, consumer)
