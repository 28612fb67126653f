"""Broadcasts: one template with its variables to many consumers, once.

draft → sending → done / failed. The fan-out (`fanout.py`) gives every recipient one
(broadcast, consumer) row; that unique row is the send-once lock.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from ccare.core.errors import Conflict, IllegalTransition, InvalidInput, NotFound
from ccare.core.tenancy import Principal, Tenant
from ccare.core.time import utcnow
from ccare.messages import recipients, service
from ccare.messages.models import Broadcast, BroadcastStatus, MessageState
from ccare.messages.repository import MessageRepository
from ccare.messages.schemas import BroadcastCreate, BroadcastOut, BroadcastReport


def create(db: Session, actor: Principal, data: BroadcastCreate) -> Broadcast:
    """A draft (or, with `start`, a sending) broadcast; idempotent per out_request_no."""
    service._require_manager(actor)
    merchant_id = service.merchant_for(db, actor, data.merchant_id)
    return create_to(
        db,
        actor,
        merchant_id,
        data.template_id,
        dict(data.variables),
        data.recipients.model_dump(mode="json"),
        data.out_request_no,
        start_now=data.start,
    )


def create_to(
    db: Session,
    actor: Principal,
    merchant_id: int,
    template_id: int,
    variables: dict[str, Any],
    recipients_spec: dict[str, Any],
    out_request_no: str,
    *,
    start_now: bool = False,
) -> Broadcast:
    """The same, for any registered recipient source: another product's (a campaign's
    round) as well as a list of consumers."""
    service._require_manager(actor)
    if recipients_spec.get("kind") not in recipients.kinds():
        raise InvalidInput(
            f"unknown recipient source {recipients_spec.get('kind')!r}",
            code="message.recipients_unknown",
        )
    template = service.active_template(db, actor.tenant, template_id)
    if template.merchant_id != merchant_id:
        raise NotFound("no such template", code="message.template_not_found")
    title, body = service.render(template, variables)
    repo = MessageRepository(db, actor.tenant)
    earlier = repo.broadcast_by_request_no(merchant_id, out_request_no)
    if earlier is not None:
        if (earlier.template_id, earlier.variables, earlier.recipients) != (
            template.id,
            variables,
            recipients_spec,
        ):
            raise Conflict(
                "out_request_no was used for another broadcast", code="message.request_conflict"
            )
        return earlier
    broadcast = Broadcast(
        merchant_id=merchant_id,
        template_id=template.id,
        out_request_no=out_request_no,
        variables=variables,
        title=title,
        body=body,
        recipients=recipients_spec,
        status=BroadcastStatus.DRAFT,
    )
    repo.add(broadcast)
    if start_now:
        start(db, actor, broadcast.id)
    return broadcast


def get(db: Session, tenant: Tenant, broadcast_id: int) -> Broadcast:
    broadcast = MessageRepository(db, tenant).broadcast(broadcast_id)
    if broadcast is None:
        raise NotFound("no such broadcast", code="message.broadcast_not_found")
    return broadcast


def list_broadcasts(db: Session, tenant: Tenant, merchant_id: int | None = None) -> list[Broadcast]:
    return MessageRepository(db, tenant).broadcasts(merchant_id)


def start(db: Session, actor: Principal, broadcast_id: int) -> Broadcast:
    """draft → sending (the fan-out job takes it from there); starting again is a no-op."""
    service._require_manager(actor)
    broadcast = get(db, actor.tenant, broadcast_id)
    if broadcast.status == BroadcastStatus.SENDING:
        return broadcast
    repo = MessageRepository(db, actor.tenant)
    moved = repo.move_broadcast(
        broadcast.id,
        BroadcastStatus.DRAFT,
        {"status": BroadcastStatus.SENDING, "started_at": utcnow()},
    )
    if not moved:
        raise IllegalTransition(
            f"a {broadcast.status.value} broadcast cannot start",
            code="message.broadcast_not_draft",
        )
    db.refresh(broadcast)
    return broadcast


def out(broadcast: Broadcast) -> BroadcastOut:
    return BroadcastOut.model_validate(
        {
            **{
                k: getattr(broadcast, k)
                for k in BroadcastOut.model_fields
                if k != "recipients_kind"
            },
            "recipients_kind": str(broadcast.recipients.get("kind")),
        }
    )


def report(db: Session, tenant: Tenant, broadcast_id: int) -> BroadcastReport:
    """Where the broadcast's messages are: per delivery state, and refusals per reason."""
    broadcast = get(db, tenant, broadcast_id)
    states: dict[str, int] = {}
    refused: dict[str, int] = {}
    for state, reason, n in MessageRepository(db, tenant).state_counts(broadcast.id):
        states[state] = states.get(state, 0) + n
        if state == MessageState.REFUSED.value and reason:
            refused[reason] = refused.get(reason, 0) + n
    return BroadcastReport(
        broadcast_id=broadcast.id,
        status=broadcast.status,
        total=broadcast.total,
        states=states,
        refused=refused,
    )
