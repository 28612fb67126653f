"""Templates, consents, single sends, the inbox's transitions and the platform's rules.
Broadcasts are in `broadcasts.py`, deciding sends in `sending.py`."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from ccare.catalog import service as catalog
from ccare.consumers import service as consumers
from ccare.core.errors import Conflict, Forbidden, InvalidInput, NotFound, RecordedRefusal
from ccare.core.outbox import emit
from ccare.core.tenancy import PLATFORM, Principal, PrincipalKind
from ccare.core.time import as_utc, utcnow
from ccare.merchants import service as merchants
from ccare.messages import sending, texts, timing
from ccare.messages.models import (
    Consent,
    ConsentKind,
    ConsentStatus,
    Message,
    MessageState,
    MessageTemplate,
    PlatformSettings,
    TemplateStatus,
)
from ccare.messages.repository import MessageRepository
from ccare.messages.schemas import (
    ConsentCreate,
    MessageClicked,
    MessageConsented,
    MessageConsentRevoked,
    MessageConverted,
    MessageDelivered,
    MessageOpened,
    PlatformSettingsIn,
    PlatformSettingsOut,
    PromptTemplate,
    SendRequest,
    SubscribePrompt,
    TemplateChange,
    TemplateCreate,
)

CONVERSION_WINDOW = timedelta(days=7)


class MessageRefused(RecordedRefusal):
    """A send refused (no consent, over a cap): the refusal is recorded and counted."""

    code = "message.refused"


REFUSAL_CODES = {
    "no_consent": ("message.no_consent", "the consumer has not subscribed to this template"),
    "daily_cap": ("message.daily_cap_reached", "the consumer's daily marketing cap is reached"),
    "weekly_cap": ("message.weekly_cap_reached", "the consumer's weekly marketing cap is reached"),
}


def refusal(message: Message) -> MessageRefused:
    reason = message.reason.value if message.reason else "no_consent"
    code, text = REFUSAL_CODES[reason]
    return MessageRefused(text, code=code, reason=reason, message_id=message.id)


def merchant_for(db: Session, actor: Principal, requested: int | None) -> int:
    return merchants.merchant_for(db, actor, requested, code="message.merchant_required")


def _require_manager(actor: Principal) -> None:
    if not actor.can_manage():
        raise Forbidden("owners and managers only", code="message.manager_only")


# --- templates ----------------------------------------------------------------------------


def _texts(title: str, body: str) -> list[str]:
    return texts.variables_of(("title", title), ("body", body))


def create_template(db: Session, actor: Principal, data: TemplateCreate) -> MessageTemplate:
    _require_manager(actor)
    merchant_id = merchant_for(db, actor, data.merchant_id)
    repo = MessageRepository(db, actor.tenant)
    variables = _texts(data.title, data.body)
    link = texts.check_link(data.link)
    if data.mini_program_id is not None:
        shop = catalog.get_mini_program(db, actor.tenant, data.mini_program_id)
        if shop.merchant_id != merchant_id:
            raise NotFound("no such mini-program", code="mini_program.not_found")
    if repo.template_by_name(merchant_id, data.name) is not None:
        raise Conflict("a template of this name exists", code="message.template_name_taken")
    template = MessageTemplate(
        merchant_id=merchant_id,
        name=data.name,
        category=data.category,
        title=data.title,
        body=data.body,
        link=link,
        mini_program_id=data.mini_program_id,
        variables=variables,
    )
    repo.add(template)
    return template


def get_template(db: Session, tenant: Any, template_id: int) -> MessageTemplate:
    template = MessageRepository(db, tenant).template(template_id)
    if template is None:
        raise NotFound("no such template", code="message.template_not_found")
    return template


def list_templates(
    db: Session, tenant: Any, merchant_id: int | None = None
) -> list[MessageTemplate]:
    return MessageRepository(db, tenant).templates(merchant_id)


def modify_template(
    db: Session, actor: Principal, template_id: int, data: TemplateChange
) -> MessageTemplate:
    """Rename or reword; the category stays (consumers consented to it)."""
    _require_manager(actor)
    template = get_template(db, actor.tenant, template_id)
    repo = MessageRepository(db, actor.tenant)
    if data.name is not None and data.name != template.name:
        if repo.template_by_name(template.merchant_id, data.name) is not None:
            raise Conflict("a template of this name exists", code="message.template_name_taken")
        template.name = data.name
    title = data.title if data.title is not None else template.title
    body = data.body if data.body is not None else template.body
    template.variables = _texts(title, body)
    template.title, template.body = title, body
    if data.link is not None:
        template.link = texts.check_link(data.link)
    db.flush()
    return template


def archive_template(db: Session, actor: Principal, template_id: int) -> MessageTemplate:
    _require_manager(actor)
    template = get_template(db, actor.tenant, template_id)
    template.status = TemplateStatus.ARCHIVED
    db.flush()
    return template


def active_template(db: Session, tenant: Any, template_id: int) -> MessageTemplate:
    template = get_template(db, tenant, template_id)
    if template.status != TemplateStatus.ACTIVE:
        raise Conflict("the template is archived", code="message.template_archived")
    return template


def render(template: MessageTemplate, variables: dict[str, Any]) -> tuple[str, str]:
    values = texts.check_values(list(template.variables), variables)
    return texts.fill(template.title, values, "title"), texts.fill(template.body, values, "body")


def refusals(db: Session, tenant: Any, template_id: int) -> dict[str, int]:
    get_template(db, tenant, template_id)
    return MessageRepository(db, tenant).refusals(template_id)


# --- single sends ---------------------------------------------------------------------------


def send(
    db: Session, actor: Principal, template_id: int, data: SendRequest, now: datetime | None = None
) -> Message:
    """Send one message, idempotent per out_request_no. A refusal raises `MessageRefused`
    (its record commits); the same number again gives the same answer."""
    _require_manager(actor)
    now = now or utcnow()
    template = active_template(db, actor.tenant, template_id)
    title, body = render(template, dict(data.variables))
    repo = MessageRepository(db, actor.tenant)
    earlier = repo.message_by_request_no(template.merchant_id, data.out_request_no)
    if earlier is not None:
        same = (earlier.template_id, earlier.consumer_id, earlier.title, earlier.body)
        if same != (template.id, data.consumer_id, title, body):
            raise Conflict(
                "out_request_no was used for another send", code="message.request_conflict"
            )
        if earlier.state == MessageState.REFUSED:
            raise refusal(earlier)
        return earlier
    consumers.get_consumer(db, data.consumer_id)
    message = Message(
        merchant_id=template.merchant_id,
        template_id=template.id,
        consumer_id=data.consumer_id,
        request_no=data.out_request_no,
        category=template.category,
        title=title,
        body=body,
        link=template.link,
        time_zone=repo.zone_of(data.consumer_id) or timing.MAINLAND,
        state=MessageState.PENDING,
        created_at=now,
    )
    repo.add(message)
    batch = sending.new_batch()
    from ccare.messages.batch_queries import BatchQueries

    BatchQueries(db).claim_one(message.id, batch)
    sending.decide(db, batch, template.category, now, sending.rules(db))
    db.refresh(message)
    if message.state == MessageState.REFUSED:
        raise refusal(message)
    return message


def list_messages(db: Session, tenant: Any, **filters: Any) -> list[Message]:
    return MessageRepository(db, tenant).messages(**filters)


def get_message(db: Session, tenant: Any, message_id: int) -> Message:
    message = MessageRepository(db, tenant).message(message_id)
    if message is None:
        raise NotFound("no such message", code="message.not_found")
    return message


# --- consent ------------------------------------------------------------------------------


def _consumer(actor: Principal) -> int:
    if actor.kind != PrincipalKind.CONSUMER:
        raise Forbidden("consumers only", code="auth.consumer_only")
    return actor.id


def subscribe(db: Session, actor: Principal, data: ConsentCreate) -> Consent:
    """One opt-in: a one-time consent is one more send; a long-term one stays until revoked
    (asking again returns the one there is)."""
    consumer_id = _consumer(actor)
    template = active_template(db, PLATFORM, data.template_id)
    repo = MessageRepository(db)
    if data.kind == ConsentKind.LONG_TERM:
        existing = repo.active_long_term(template.id, consumer_id)
        if existing is not None:
            return existing
    consent = Consent(
        merchant_id=template.merchant_id,
        template_id=template.id,
        consumer_id=consumer_id,
        kind=data.kind,
        status=ConsentStatus.ACTIVE,
        created_at=utcnow(),
    )
    repo.add(consent)
    emit(
        db,
        MessageConsented(
            merchant_id=template.merchant_id,
            consumer_id=consumer_id,
            consent_id=consent.id,
            template_id=template.id,
            kind=data.kind.value,
        ),
    )
    return consent


def my_consents(db: Session, actor: Principal, *, active_only: bool = False) -> list[Consent]:
    return MessageRepository(db).consents_of(_consumer(actor), active_only=active_only)


def revoke(db: Session, actor: Principal, consent_id: int) -> Consent:
    consumer_id = _consumer(actor)
    repo = MessageRepository(db)
    consent = repo.consent(consent_id, consumer_id)
    if consent is None:
        raise NotFound("no such consent", code="message.consent_not_found")
    if repo.revoke(consent_id, consumer_id, utcnow()):
        emit(
            db,
            MessageConsentRevoked(
                merchant_id=consent.merchant_id,
                consumer_id=consumer_id,
                consent_id=consent.id,
                template_id=consent.template_id,
                kind=consent.kind.value,
            ),
        )
    elif consent.status != ConsentStatus.REVOKED:
        raise Conflict("this consent was already used", code="message.consent_used")
    db.refresh(consent)
    return consent


def unsubscribe(db: Session, actor: Principal, template_id: int) -> int:
    """Revoke every active consent to a template; how many were revoked."""
    consumer_id = _consumer(actor)
    template = get_template(db, PLATFORM, template_id)
    return MessageRepository(db).revoke_all(template.id, consumer_id, utcnow())


def prompt(db: Session, actor: Principal, merchant_id: int) -> SubscribePrompt:
    """What the app's subscribe prompt shows for a merchant: its templates and what the
    consumer already agreed to."""
    consumer_id = _consumer(actor)
    merchant = merchants.public_merchant(db, merchant_id)
    if merchant is None:
        raise NotFound("no such merchant", code="merchant.not_found")
    repo = MessageRepository(db)
    templates = repo.templates(merchant_id, active_only=True)
    summary = repo.consent_summary(consumer_id, [t.id for t in templates])
    return SubscribePrompt(
        merchant_id=merchant_id,
        merchant_name=merchant.name,
        templates=[
            PromptTemplate(
                template_id=t.id,
                name=t.name,
                category=t.category,
                title=t.title,
                long_term=summary[t.id][0],
                once_remaining=summary[t.id][1],
            )
            for t in templates
        ],
    )


# --- recipients and platform rules ----------------------------------------------------------


def time_zone(db: Session, actor: Principal) -> str:
    return MessageRepository(db).zone_of(_consumer(actor)) or timing.MAINLAND


def set_time_zone(db: Session, actor: Principal, zone: str) -> str:
    MessageRepository(db).set_zone(_consumer(actor), timing.check_zone(zone))
    return zone


def learn_zone(db: Session, consumer_id: int, city: str | None) -> None:
    """A new consumer's zone from their city; a zone the consumer chose is kept."""
    MessageRepository(db).set_zone(consumer_id, timing.zone_for_city(city), keep_existing=True)


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def platform_rules(db: Session) -> PlatformSettingsOut:
    rules = sending.rules(db)
    return PlatformSettingsOut(
        marketing_per_day=rules.per_day,
        marketing_per_week=rules.per_week,
        quiet_start=_hhmm(rules.quiet.start_minute),
        quiet_end=_hhmm(rules.quiet.end_minute),
    )


def set_platform_rules(
    db: Session, actor: Principal, data: PlatformSettingsIn
) -> PlatformSettingsOut:
    if not actor.is_operator:
        raise Forbidden("platform operators only", code="auth.operator_only")
    if data.marketing_per_day > data.marketing_per_week:
        raise InvalidInput(
            "the daily cap cannot exceed the weekly cap", code="message.caps_invalid"
        )

    def minute(text: str) -> int:
        hours, minutes = text.split(":")
        return int(hours) * 60 + int(minutes)

    row = MessageRepository(db).platform_settings()
    if row is None:
        row = PlatformSettings(id=1)
        db.add(row)
    row.marketing_per_day = data.marketing_per_day
    row.marketing_per_week = data.marketing_per_week
    row.quiet_start_minute = minute(data.quiet_start)
    row.quiet_end_minute = minute(data.quiet_end)
    db.flush()
    return platform_rules(db)


# --- the inbox ------------------------------------------------------------------------------

_ORDER = [
    MessageState.SENT,
    MessageState.DELIVERED,
    MessageState.OPENED,
    MessageState.CLICKED,
    MessageState.CONVERTED,
]
_EVENTS = {
    MessageState.DELIVERED: (MessageDelivered, "delivered_at"),
    MessageState.OPENED: (MessageOpened, "opened_at"),
    MessageState.CLICKED: (MessageClicked, "clicked_at"),
}


def _advance(db: Session, message: Message, target: MessageState, now: datetime) -> bool:
    """Move a message forward to `target`, passing (and recording) the states between, so
    the funnel stays consistent: an opened message was delivered. Never backwards."""
    if message.state not in _ORDER or _ORDER.index(message.state) >= _ORDER.index(target):
        return False
    passed = _ORDER[_ORDER.index(message.state) + 1 : _ORDER.index(target) + 1]
    values: dict[str, Any] = {"state": target}
    for state in passed:
        values[_EVENTS[state][1]] = now
    if not MessageRepository(db).advance(message.id, [message.state], values):
        return False
    for state in passed:
        cls, _column = _EVENTS[state]
        emit(
            db,
            cls(
                event_id=f"{cls.type}:{message.id}",
                occurred_at=now,
                merchant_id=message.merchant_id,
                consumer_id=message.consumer_id,
                message_id=message.id,
                template_id=message.template_id,
                broadcast_id=message.broadcast_id,
                category=message.category.value,
            ),
        )
    db.refresh(message)
    return True


def inbox(db: Session, actor: Principal, *, limit: int = 50, offset: int = 0) -> list[Message]:
    """The consumer's messages, newest first; fetching them delivers them."""
    consumer_id = _consumer(actor)
    messages = MessageRepository(db).inbox(consumer_id, limit, offset)
    now = utcnow()
    for message in messages:
        if message.state == MessageState.SENT:
            _advance(db, message, MessageState.DELIVERED, now)
    return messages


def unread(db: Session, actor: Principal) -> int:
    return MessageRepository(db).unread(_consumer(actor))


def _mine(db: Session, actor: Principal, message_id: int) -> Message:
    message = MessageRepository(db).inbox_message(message_id, _consumer(actor))
    if message is None:
        raise NotFound("no such message", code="message.not_found")
    return message


def open_message(db: Session, actor: Principal, message_id: int) -> Message:
    message = _mine(db, actor, message_id)
    _advance(db, message, MessageState.OPENED, utcnow())
    return message


def click(db: Session, actor: Principal, message_id: int) -> Message:
    message = _mine(db, actor, message_id)
    if message.link is None:
        raise InvalidInput("this message has no link", code="message.no_link")
    _advance(db, message, MessageState.CLICKED, utcnow())
    return message


def convert(
    db: Session, merchant_id: int, consumer_id: int, order_id: int, amount: int, paid_at: datetime
) -> Message | None:
    """The consumer paid the merchant: the latest message they clicked in the 7 days before
    is converted (once; a message converts at most one order)."""
    repo = MessageRepository(db)
    message = repo.last_click(merchant_id, consumer_id, as_utc(paid_at) - CONVERSION_WINDOW)
    if (
        message is None
        or message.clicked_at is None
        or as_utc(message.clicked_at) > as_utc(paid_at)
    ):
        return None
    moved = repo.advance(
        message.id,
        [MessageState.CLICKED],
        {"state": MessageState.CONVERTED, "converted_at": paid_at, "order_id": order_id},
    )
    if not moved:
        return None
    emit(
        db,
        MessageConverted(
            event_id=f"message.converted:{message.id}",
            occurred_at=paid_at,
            merchant_id=merchant_id,
            consumer_id=consumer_id,
            message_id=message.id,
            template_id=message.template_id,
            broadcast_id=message.broadcast_id,
            category=message.category.value,
            order_id=order_id,
            amount=amount,
        ),
    )
    db.refresh(message)
    return message
