"""Every query of this product but the set-based send statements (`batch_queries.py`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from ccare.core.tenancy import PLATFORM, Tenant, scoped
from ccare.messages.models import (
    Broadcast,
    BroadcastStatus,
    Consent,
    ConsentKind,
    ConsentStatus,
    Message,
    MessageState,
    MessageTemplate,
    PlatformSettings,
    Recipient,
    RefusalCount,
    TemplateStatus,
)

VISIBLE = (
    MessageState.SENT,
    MessageState.DELIVERED,
    MessageState.OPENED,
    MessageState.CLICKED,
    MessageState.CONVERTED,
)


def _count(result: Any) -> int:
    """Rows an UPDATE or INSERT changed."""
    return int(result.rowcount or 0)


class MessageRepository:
    """Merchant rows through `scoped()`; a consumer's reads add `consumer_id` on top."""

    def __init__(self, db: Session, tenant: Tenant = PLATFORM) -> None:
        self.db = db
        self.tenant = tenant

    @property
    def _postgres(self) -> bool:
        return self.db.get_bind().dialect.name == "postgresql"

    def _insert(self) -> Any:
        return pg_insert if self._postgres else sqlite_insert

    def add(self, obj: object) -> None:
        self.db.add(obj)
        self.db.flush()

    # --- templates --------------------------------------------------------------------

    def template(self, template_id: int) -> MessageTemplate | None:
        stmt = select(MessageTemplate).where(MessageTemplate.id == template_id)
        return self.db.scalars(scoped(stmt, MessageTemplate.merchant_id, self.tenant)).first()

    def template_by_name(self, merchant_id: int, name: str) -> MessageTemplate | None:
        stmt = select(MessageTemplate).where(
            MessageTemplate.merchant_id == merchant_id, MessageTemplate.name == name
        )
        return self.db.scalars(scoped(stmt, MessageTemplate.merchant_id, self.tenant)).first()

    def templates(
        self, merchant_id: int | None = None, *, active_only: bool = False
    ) -> list[MessageTemplate]:
        stmt = select(MessageTemplate).order_by(MessageTemplate.id.desc())
        if merchant_id is not None:
            stmt = stmt.where(MessageTemplate.merchant_id == merchant_id)
        if active_only:
            stmt = stmt.where(MessageTemplate.status == TemplateStatus.ACTIVE)
        return list(self.db.scalars(scoped(stmt, MessageTemplate.merchant_id, self.tenant)))

    def refusals(self, template_id: int) -> dict[str, int]:
        stmt: Any = select(RefusalCount.reason, RefusalCount.count).where(
            RefusalCount.template_id == template_id
        )
        stmt = scoped(stmt, RefusalCount.merchant_id, self.tenant)
        return {str(reason.value): int(n) for reason, n in self.db.execute(stmt)}

    # --- consents ---------------------------------------------------------------------

    def consent(self, consent_id: int, consumer_id: int) -> Consent | None:
        stmt = select(Consent).where(Consent.id == consent_id, Consent.consumer_id == consumer_id)
        return self.db.scalars(scoped(stmt, Consent.merchant_id, self.tenant)).first()

    def consents_of(self, consumer_id: int, *, active_only: bool = False) -> list[Consent]:
        stmt = select(Consent).where(Consent.consumer_id == consumer_id).order_by(Consent.id.desc())
        if active_only:
            stmt = stmt.where(Consent.status == ConsentStatus.ACTIVE)
        return list(self.db.scalars(scoped(stmt, Consent.merchant_id, self.tenant)))

    def active_long_term(self, template_id: int, consumer_id: int) -> Consent | None:
        stmt = select(Consent).where(
            Consent.template_id == template_id,
            Consent.consumer_id == consumer_id,
            Consent.kind == ConsentKind.LONG_TERM,
            Consent.status == ConsentStatus.ACTIVE,
        )
        return self.db.scalars(scoped(stmt, Consent.merchant_id, self.tenant)).first()

    def revoke(self, consent_id: int, consumer_id: int, now: datetime) -> bool:
        """Active → revoked, only from active: a consent being spent is not revoked twice."""
        stmt = (
            update(Consent)
            .where(
                Consent.id == consent_id,
                Consent.consumer_id == consumer_id,
                Consent.status == ConsentStatus.ACTIVE,
            )
            .values(status=ConsentStatus.REVOKED, revoked_at=now)
            .execution_options(synchronize_session=False)
        )
        return _count(self.db.execute(scoped(stmt, Consent.merchant_id, self.tenant))) > 0

    def revoke_all(self, template_id: int, consumer_id: int, now: datetime) -> int:
        stmt = (
            update(Consent)
            .where(
                Consent.template_id == template_id,
                Consent.consumer_id == consumer_id,
                Consent.status == ConsentStatus.ACTIVE,
            )
            .values(status=ConsentStatus.REVOKED, revoked_at=now)
            .execution_options(synchronize_session=False)
        )
        return _count(self.db.execute(scoped(stmt, Consent.merchant_id, self.tenant)))

    def consent_summary(
        self, consumer_id: int, template_ids: Sequence[int]
    ) -> dict[int, tuple[bool, int]]:
        """template → (long-term consent active, one-time consents left)."""
        if not template_ids:
            return {}
        stmt: Any = (
            select(Consent.template_id, Consent.kind, func.count())
            .where(
                Consent.consumer_id == consumer_id,
                Consent.template_id.in_(template_ids),
                Consent.status == ConsentStatus.ACTIVE,
            )
            .group_by(Consent.template_id, Consent.kind)
        )
        summary: dict[int, tuple[bool, int]] = {t: (False, 0) for t in template_ids}
        for template_id, kind, n in self.db.execute(scoped(stmt, Consent.merchant_id, self.tenant)):
            long_term, once = summary[template_id]
            if kind == ConsentKind.LONG_TERM:
                summary[template_id] = (True, once)
            else:
                summary[template_id] = (long_term, int(n))
        return summary

    # --- recipients and platform settings (platform rows, no tenant) ---------------------

    def zone_of(self, consumer_id: int) -> str | None:
        stmt = select(Recipient.time_zone).where(Recipient.consumer_id == consumer_id)
        return self.db.scalar(stmt)

    def set_zone(self, consumer_id: int, zone: str, *, keep_existing: bool = False) -> None:
        stmt = self._insert()(Recipient).values(consumer_id=consumer_id, time_zone=zone)
        if keep_existing:
            stmt = stmt.on_conflict_do_nothing(index_elements=["consumer_id"])
        else:
            stmt = stmt.on_conflict_do_update(
                index_elements=["consumer_id"], set_={"time_zone": zone}
            )
        self.db.execute(stmt)

    def platform_settings(self) -> PlatformSettings | None:
        return self.db.get(PlatformSettings, 1)

    # --- messages ---------------------------------------------------------------------

    def message(self, message_id: int) -> Message | None:
        stmt = select(Message).where(Message.id == message_id)
        return self.db.scalars(scoped(stmt, Message.merchant_id, self.tenant)).first()

    def message_by_request_no(self, merchant_id: int, request_no: str) -> Message | None:
        stmt = select(Message).where(
            Message.merchant_id == merchant_id, Message.request_no == request_no
        )
        return self.db.scalars(scoped(stmt, Message.merchant_id, self.tenant)).first()

    def messages(
        self,
        *,
        template_id: int | None = None,
        broadcast_id: int | None = None,
        state: MessageState | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Message]:
        stmt = select(Message).order_by(Message.id.desc()).limit(limit).offset(offset)
        if template_id is not None:
            stmt = stmt.where(Message.template_id == template_id)
        if broadcast_id is not None:
            stmt = stmt.where(Message.broadcast_id == broadcast_id)
        if state is not None:
            stmt = stmt.where(Message.state == state)
        return list(self.db.scalars(scoped(stmt, Message.merchant_id, self.tenant)))

    def inbox(self, consumer_id: int, limit: int, offset: int = 0) -> list[Message]:
        stmt = (
            select(Message)
            .where(Message.consumer_id == consumer_id, Message.state.in_(VISIBLE))
            .order_by(Message.sent_at.desc(), Message.id.desc())
            .limit(limit)
            .offset(offset)
        )
        return list(self.db.scalars(scoped(stmt, Message.merchant_id, self.tenant)))

    def inbox_message(self, message_id: int, consumer_id: int) -> Message | None:
        stmt = select(Message).where(
            Message.id == message_id,
            Message.consumer_id == consumer_id,
            Message.state.in_(VISIBLE),
        )
        return self.db.scalars(scoped(stmt, Message.merchant_id, self.tenant)).first()

    def unread(self, consumer_id: int) -> int:
        stmt = select(func.count()).where(
            Message.consumer_id == consumer_id,
            Message.state.in_((MessageState.SENT, MessageState.DELIVERED)),
        )
        return int(self.db.scalar(scoped(stmt, Message.merchant_id, self.tenant)) or 0)

    def advance(
        self, message_id: int, from_states: Sequence[MessageState], values: dict[str, Any]
    ) -> bool:
        """Move a message on, only from the states named: the transition happens once."""
        stmt = (
            update(Message)
            .where(Message.id == message_id, Message.state.in_(from_states))
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return _count(self.db.execute(scoped(stmt, Message.merchant_id, self.tenant))) > 0

    def last_click(self, merchant_id: int, consumer_id: int, since: datetime) -> Message | None:
        stmt = (
            select(Message)
            .where(
                Message.merchant_id == merchant_id,
                Message.consumer_id == consumer_id,
                Message.state == MessageState.CLICKED,
                Message.clicked_at >= since,
            )
            .order_by(Message.clicked_at.desc(), Message.id.desc())
            .limit(1)
        )
        return self.db.scalars(scoped(stmt, Message.merchant_id, self.tenant)).first()

    # --- broadcasts -------------------------------------------------------------------

    def broadcast(self, broadcast_id: int) -> Broadcast | None:
        stmt = select(Broadcast).where(Broadcast.id == broadcast_id)
        return self.db.scalars(scoped(stmt, Broadcast.merchant_id, self.tenant)).first()

    def broadcast_by_request_no(self, merchant_id: int, out_request_no: str) -> Broadcast | None:
        stmt = select(Broadcast).where(
            Broadcast.merchant_id == merchant_id, Broadcast.out_request_no == out_request_no
        )
        return self.db.scalars(scoped(stmt, Broadcast.merchant_id, self.tenant)).first()

    def broadcasts(self, merchant_id: int | None = None, limit: int = 100) -> list[Broadcast]:
        stmt = select(Broadcast).order_by(Broadcast.id.desc()).limit(limit)
        if merchant_id is not None:
            stmt = stmt.where(Broadcast.merchant_id == merchant_id)
        return list(self.db.scalars(scoped(stmt, Broadcast.merchant_id, self.tenant)))

    def sending_broadcast_ids(self, limit: int = 20) -> list[int]:
        stmt = (
            select(Broadcast.id)
            .where(Broadcast.status == BroadcastStatus.SENDING)
            .order_by(Broadcast.id)
            .limit(limit)
        )
        return list(self.db.scalars(scoped(stmt, Broadcast.merchant_id, self.tenant)))

    def move_broadcast(
        self, broadcast_id: int, from_status: BroadcastStatus, values: dict[str, Any]
    ) -> bool:
        stmt = (
            update(Broadcast)
            .where(Broadcast.id == broadcast_id, Broadcast.status == from_status)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return _count(self.db.execute(scoped(stmt, Broadcast.merchant_id, self.tenant))) > 0

    def advance_chunks(self, broadcast_id: int, done: int) -> None:
        """Record the source batches done (never backwards: runs may overlap)."""
        stmt = (
            update(Broadcast)
            .where(Broadcast.id == broadcast_id, Broadcast.chunks_done < done)
            .values(chunks_done=done)
            .execution_options(synchronize_session=False)
        )
        self.db.execute(scoped(stmt, Broadcast.merchant_id, self.tenant))

    def state_counts(self, broadcast_id: int) -> list[tuple[str, str | None, int]]:
        stmt: Any = (
            select(Message.state, Message.reason, func.count())
            .where(Message.broadcast_id == broadcast_id)
            .group_by(Message.state, Message.reason)
        )
        stmt = scoped(stmt, Message.merchant_id, self.tenant)
        return [
            (str(state.value), reason.value if reason else None, int(n))
            for state, reason, n in self.db.execute(stmt)
        ]
