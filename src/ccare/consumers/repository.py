"""Consumers belong to the platform, not to a merchant, so there is no tenant scoping here."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from ccare.consumers.models import Consumer, Device


class ConsumerRepository:
    def __init__(self, db: Session) -> None:
        self.db = db

    def add(self, obj: Consumer | Device) -> None:
        self.db.add(obj)
        self.db.flush()

    def consumer(self, consumer_id: int) -> Consumer | None:
        return self.db.scalars(select(Consumer).where(Consumer.id == consumer_id)).first()

    def by_phone(self, phone: str) -> Consumer | None:
        return self.db.scalars(select(Consumer).where(Consumer.phone == phone)).first()

    def consumers(self, *, city: str | None, limit: int, offset: int) -> list[Consumer]:
        stmt = select(Consumer).order_by(Consumer.id).limit(limit).offset(offset)
        if city:
            stmt = stmt.where(Consumer.city == city)
        return list(self.db.scalars(stmt))

    def device(self, consumer_id: int, device_id: str) -> Device | None:
        stmt = select(Device).where(
            Device.consumer_id == consumer_id, Device.device_id == device_id
        )
        return self.db.scalars(stmt).first()
