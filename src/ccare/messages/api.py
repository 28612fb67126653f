"""The messages API: templates, sends and broadcasts for merchants; consent, the subscribe
prompt and the inbox for consumers (`/api/v1/me/...`); caps and quiet hours for operators."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from ccare.messages import broadcasts, reports, service
from ccare.messages.models import MessageState
from ccare.messages.schemas import (
    BroadcastCreate,
    BroadcastOut,
    BroadcastReport,
    ConsentCreate,
    ConsentOut,
    FunnelOut,
    InboxMessage,
    MessageOut,
    PlatformSettingsIn,
    PlatformSettingsOut,
    RecipientSettingsIn,
    RecipientSettingsOut,
    RefusalsOut,
    SendRequest,
    SubscribePrompt,
    TemplateChange,
    TemplateCreate,
    TemplateOut,
)
from ccare.web.deps import (
    CurrentConsumer,
    CurrentOperator,
    CurrentStaff,
    CurrentTenant,
    DbSession,
    IdPath,
    Limit,
    Offset,
    RuntimeDep,
)
from ccare.web.routing import api_router

router = api_router(prefix="/api/v1", tags=["messages"])
TEMPLATE = "/message-templates/{template_id}"
BROADCAST = "/message-broadcasts/{broadcast_id}"
OptionalId = Annotated[int | None, Query(gt=0, lt=2**62)]

# --- templates ----------------------------------------------------------------------------


@router.post(
    "/message-templates",
    response_model=TemplateOut,
    status_code=201,
    summary="Create a message template ({name} placeholders in title and body)",
)
def create_template(body: TemplateCreate, db: DbSession, staff: CurrentStaff) -> TemplateOut:
    return TemplateOut.model_validate(service.create_template(db, staff, body))


@router.get("/message-templates", response_model=list[TemplateOut], summary="Your templates")
def list_templates(
    db: DbSession, tenant: CurrentTenant, merchant_id: OptionalId = None
) -> list[TemplateOut]:
    return [TemplateOut.model_validate(t) for t in service.list_templates(db, tenant, merchant_id)]


@router.get(TEMPLATE, response_model=TemplateOut, summary="One template")
def get_template(template_id: IdPath, db: DbSession, tenant: CurrentTenant) -> TemplateOut:
    return TemplateOut.model_validate(service.get_template(db, tenant, template_id))


@router.patch(TEMPLATE, response_model=TemplateOut, summary="Rename or reword a template")
def modify_template(
    template_id: IdPath, body: TemplateChange, db: DbSession, staff: CurrentStaff
) -> TemplateOut:
    return TemplateOut.model_validate(service.modify_template(db, staff, template_id, body))


@router.post(
    TEMPLATE + "/archive", response_model=TemplateOut, summary="Archive a template (no more sends)"
)
def archive_template(template_id: IdPath, db: DbSession, staff: CurrentStaff) -> TemplateOut:
    return TemplateOut.model_validate(service.archive_template(db, staff, template_id))


@router.get(TEMPLATE + "/refusals", response_model=RefusalsOut, summary="Refused sends per reason")
def template_refusals(template_id: IdPath, db: DbSession, tenant: CurrentTenant) -> RefusalsOut:
    return RefusalsOut(template_id=template_id, refused=service.refusals(db, tenant, template_id))


@router.post(
    TEMPLATE + "/send",
    response_model=MessageOut,
    summary="Send to one consumer who subscribed (idempotent per out_request_no); a send "
    "without consent or over a cap is refused (403) and counted",
)
def send(template_id: IdPath, body: SendRequest, db: DbSession, staff: CurrentStaff) -> MessageOut:
    return MessageOut.model_validate(service.send(db, staff, template_id, body))


@router.get("/messages", response_model=list[MessageOut], summary="Messages you sent, newest first")
def list_messages(
    db: DbSession,
    tenant: CurrentTenant,
    template_id: OptionalId = None,
    broadcast_id: OptionalId = None,
    state: MessageState | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> list[MessageOut]:
    messages = service.list_messages(
        db,
        tenant,
        template_id=template_id,
        broadcast_id=broadcast_id,
        state=state,
        limit=limit,
        offset=offset,
    )
    return [MessageOut.model_validate(m) for m in messages]


@router.get("/messages/{message_id}", response_model=MessageOut, summary="One message you sent")
def get_message(message_id: IdPath, db: DbSession, tenant: CurrentTenant) -> MessageOut:
    return MessageOut.model_validate(service.get_message(db, tenant, message_id))


@router.get(
    "/message-funnel",
    response_model=FunnelOut,
    summary="Sent → delivered → opened → clicked → converted, from the analytics store",
)
def funnel(
    db: DbSession,
    staff: CurrentStaff,
    runtime: RuntimeDep,
    merchant_id: OptionalId = None,
    template_id: OptionalId = None,
    broadcast_id: OptionalId = None,
) -> FunnelOut:
    merchant = service.merchant_for(db, staff, merchant_id)
    if template_id is not None:
        service.get_template(db, staff.tenant, template_id)
    if broadcast_id is not None:
        broadcasts.get(db, staff.tenant, broadcast_id)
    return reports.funnel(
        runtime.analytics, merchant, template_id=template_id, broadcast_id=broadcast_id
    )


# --- broadcasts ---------------------------------------------------------------------------


@router.post(
    "/message-broadcasts",
    response_model=BroadcastOut,
    status_code=201,
    summary="Create a broadcast (idempotent per out_request_no); start=true sends it",
)
def create_broadcast(body: BroadcastCreate, db: DbSession, staff: CurrentStaff) -> BroadcastOut:
    return broadcasts.out(broadcasts.create(db, staff, body))


@router.get("/message-broadcasts", response_model=list[BroadcastOut], summary="Your broadcasts")
def list_broadcasts(
    db: DbSession, tenant: CurrentTenant, merchant_id: OptionalId = None
) -> list[BroadcastOut]:
    return [broadcasts.out(b) for b in broadcasts.list_broadcasts(db, tenant, merchant_id)]


@router.get(BROADCAST, response_model=BroadcastOut, summary="One broadcast")
def get_broadcast(broadcast_id: IdPath, db: DbSession, tenant: CurrentTenant) -> BroadcastOut:
    return broadcasts.out(broadcasts.get(db, tenant, broadcast_id))


@router.post(
    BROADCAST + "/start",
    response_model=BroadcastOut,
    summary="Start sending a draft broadcast (draft → sending; again: no-op)",
)
def start_broadcast(broadcast_id: IdPath, db: DbSession, staff: CurrentStaff) -> BroadcastOut:
    return broadcasts.out(broadcasts.start(db, staff, broadcast_id))


@router.get(
    BROADCAST + "/report",
    response_model=BroadcastReport,
    summary="Messages per delivery state and refusals per reason",
)
def broadcast_report(broadcast_id: IdPath, db: DbSession, tenant: CurrentTenant) -> BroadcastReport:
    return broadcasts.report(db, tenant, broadcast_id)


# --- platform rules -----------------------------------------------------------------------


@router.get(
    "/message-settings",
    response_model=PlatformSettingsOut,
    summary="The platform's marketing caps and quiet hours",
)
def platform_settings(db: DbSession, staff: CurrentStaff) -> PlatformSettingsOut:
    return service.platform_rules(db)


@router.put(
    "/message-settings",
    response_model=PlatformSettingsOut,
    summary="Set the marketing caps and quiet hours (operators)",
)
def set_platform_settings(
    body: PlatformSettingsIn, db: DbSession, operator: CurrentOperator
) -> PlatformSettingsOut:
    return service.set_platform_rules(db, operator, body)


# --- the consumer's side ------------------------------------------------------------------


@router.get(
    "/me/message-prompt",
    response_model=SubscribePrompt,
    summary="The subscribe prompt for a merchant: its templates and what you agreed to",
)
def subscribe_prompt(
    db: DbSession, consumer: CurrentConsumer, merchant_id: Annotated[int, Query(gt=0, lt=2**62)]
) -> SubscribePrompt:
    return service.prompt(db, consumer, merchant_id)


@router.post(
    "/me/message-consents",
    response_model=ConsentOut,
    status_code=201,
    summary="Subscribe to a template: once (one message) or long-term (until revoked)",
)
def subscribe(body: ConsentCreate, db: DbSession, consumer: CurrentConsumer) -> ConsentOut:
    return ConsentOut.model_validate(service.subscribe(db, consumer, body))


@router.get("/me/message-consents", response_model=list[ConsentOut], summary="Your consents")
def my_consents(db: DbSession, consumer: CurrentConsumer, active: bool = False) -> list[ConsentOut]:
    return [
        ConsentOut.model_validate(c) for c in service.my_consents(db, consumer, active_only=active)
    ]


@router.post(
    "/me/message-consents/{consent_id}/revoke",
    response_model=ConsentOut,
    summary="Revoke a consent",
)
def revoke(consent_id: IdPath, db: DbSession, consumer: CurrentConsumer) -> ConsentOut:
    return ConsentOut.model_validate(service.revoke(db, consumer, consent_id))


@router.get(
    "/me/messages",
    response_model=list[InboxMessage],
    summary="Your inbox, newest first (fetching delivers the messages)",
)
def inbox(
    db: DbSession, consumer: CurrentConsumer, limit: Limit = 50, offset: Offset = 0
) -> list[InboxMessage]:
    messages = service.inbox(db, consumer, limit=limit, offset=offset)
    return [InboxMessage.model_validate(m) for m in messages]


@router.post(
    "/me/messages/{message_id}/open", response_model=InboxMessage, summary="Mark a message opened"
)
def open_message(message_id: IdPath, db: DbSession, consumer: CurrentConsumer) -> InboxMessage:
    return InboxMessage.model_validate(service.open_message(db, consumer, message_id))


@router.post(
    "/me/messages/{message_id}/click",
    response_model=InboxMessage,
    summary="Follow a message's link (marks it clicked)",
)
def click(message_id: IdPath, db: DbSession, consumer: CurrentConsumer) -> InboxMessage:
    return InboxMessage.model_validate(service.click(db, consumer, message_id))


@router.get(
    "/me/message-settings",
    response_model=RecipientSettingsOut,
    summary="Your time zone (quiet hours follow it)",
)
def my_settings(db: DbSession, consumer: CurrentConsumer) -> RecipientSettingsOut:
    return RecipientSettingsOut(time_zone=service.time_zone(db, consumer))


@router.put(
    "/me/message-settings", response_model=RecipientSettingsOut, summary="Set your time zone"
)
def set_my_settings(
    body: RecipientSettingsIn, db: DbSession, consumer: CurrentConsumer
) -> RecipientSettingsOut:
    return RecipientSettingsOut(time_zone=service.set_time_zone(db, consumer, body.time_zone))
