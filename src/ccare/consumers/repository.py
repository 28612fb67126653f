"""Consumers belong to the platform, not to a merchant, so there is no tenant scoping here."""

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ccare.consumers.models import Consumer, Device, PaymentCode


class ConsumerRepository:
    def __init__(self, db: Session) -> None:
        self.db = db

    def add(self, obj: Consumer | Device | PaymentCode) -> None:
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

    def payment_code(self, code_hash: str) -> PaymentCode | None:
        stmt = select(PaymentCode).where(PaymentCode.code_hash == code_hash)
        return self.db.scalars(stmt).first()

    def use_payment_code(self, code_hash: str, now: datetime) -> bool:
        """Mark an unused, unexpired code used; one UPDATE, so two scanners cannot both win."""
        stmt = (
            update(PaymentCode)
            .where(
                PaymentCode.code_hash == code_hash,
                PaymentCode.used_at.is_(None),
                PaymentCode.expires_at > now,
            )
            .values(used_at=now)
        )
        return bool(self.db.execute(stmt).rowcount)  # type: ignore[attr-defined]
