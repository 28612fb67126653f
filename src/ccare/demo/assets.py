"""The breakfast shop's customer assets (docs/adr/0011): favorites with a gift and an
exclusive benefit, storefront visits, its own customer events, subscription messages and,
once the events reach analytics, two segments.

Like the rest of the world, each step finds what an earlier run made before making it,
and every record is made by the product's own service. Times are set relative to the
shop's mini-program's creation, so a later run asks for exactly the same visits, which
the catalog then finds already recorded.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from ccare.core.db import Database
from ccare.core.errors import Conflict, RecordedRefusal
from ccare.core.tenancy import PLATFORM, Principal
from ccare.core.time import BEIJING, as_utc, utcnow
from ccare.demo import data
from ccare.demo.world import SEED_OPERATOR, MerchantRecord, Summary, _owner

Progress = Callable[[str], None]

# How many times `seed` and `seed_segments` call `progress`, together.
STEPS = 5


def seed(db: Database, summary: Summary, tick: Progress) -> None:
    """Everything but the segments, which need these events in analytics first."""
    shop = summary.merchants[data.ASSETS_MERCHANT]
    with db.transaction() as session:
        anchor = _anchor(session, shop)
        _favorites(session, shop, summary, anchor)
    tick("favorites")
    with db.transaction() as session:
        _visits(session, summary, anchor)
        _customer_events(session, shop, summary, anchor)
    tick("visits and customer events")
    with db.transaction() as session:
        broadcast_id = _messages(session, shop, summary)
    _fan_out(db, broadcast_id, summary)
    tick("messages")
    with db.transaction() as session:
        _engagement(session, broadcast_id, summary)
    tick("message engagement")


def seed_segments(db: Database, analytics: Any, summary: Summary, tick: Progress) -> None:
    """The shop's segments, computed on creation: call after the events are relayed.
    Without an analytics store there is nothing to compute them on."""
    if analytics is not None:
        shop = summary.merchants[data.ASSETS_MERCHANT]
        with db.transaction() as session:
            _segments(session, shop, analytics, summary)
    tick("segments")


def _anchor(session: Session, shop: MerchantRecord) -> datetime:
    from ccare.catalog import service as catalog

    return as_utc(catalog.get_mini_program(session, PLATFORM, shop.mini_program_id).created_at)


def _consumer(session: Session, summary: Summary, index: int) -> Principal:
    from ccare.consumers import service as consumers

    consumer_id = summary.consumer_ids[data.consumers()[index].phone]
    principal = consumers.consumer_principal(session, consumer_id)
    if principal is None:
        raise Conflict(f"demo consumer {consumer_id} is missing", code="demo.consumer_missing")
    return principal


# --------------------------------------------------------------------------- favorites


def _activity(session: Session, spec: data.CouponSpec, shop: MerchantRecord) -> int | None:
    from ccare.coupons import service as coupons

    return next(
        (
            a.id
            for a in coupons.list_activities(session, PLATFORM, shop.merchant_id)
            if a.out_biz_no == spec.out_biz_no
        ),
        None,
    )


def _gift_activity(session: Session, shop: MerchantRecord, summary: Summary) -> int:
    from ccare.coupons import service as coupons
    from ccare.coupons.schemas import ActivityCreate

    spec = data.FAVORITE_GIFT
    found = _activity(session, spec, shop)
    if found is not None:
        return found
    begin, end = data.COUPON_WINDOW
    body = {
        **spec.body,
        "merchant_id": shop.merchant_id,
        "out_biz_no": spec.out_biz_no,
        "name": spec.name,
        "claim_begin": begin,
        "claim_end": end,
        "activate": True,
    }
    summary.count("coupon activities")
    return coupons.create_activity(session, SEED_OPERATOR, ActivityCreate.model_validate(body)).id


def _favorites(session: Session, shop: MerchantRecord, summary: Summary, anchor: datetime) -> None:
    from ccare.favorites import service as favorites
    from ccare.favorites.schemas import BenefitClaimIn

    specs = data.favorites()
    # The early favoriters came before the shop offered anything for it.
    for spec in specs:
        if spec.consumer in data.EARLY_FAVORITERS:
            _favorite(session, summary, shop, spec, anchor)

    _favorite_settings(session, shop, summary)

    for spec in specs:
        if spec.consumer not in data.EARLY_FAVORITERS:
            _favorite(session, summary, shop, spec, anchor)

    for index in data.BENEFIT_CLAIMERS:
        consumer = _consumer(session, summary, index)
        state = favorites.state(session, consumer, shop.mini_program_id)
        for benefit in state.benefits:
            if benefit.held or not benefit.claimable:
                continue
            try:
                favorites.claim_benefit(
                    session,
                    consumer,
                    shop.mini_program_id,
                    benefit.activity.id,
                    BenefitClaimIn(claim_key=f"demo-benefit-{index}"),
                )
                summary.count("favorite benefits claimed")
            except RecordedRefusal:
                # The anti-cheating filter's decision is kept, as for the coupons' claims.
                summary.count("benefit claims stopped by the anti-cheating filter")


def _favorite_settings(session: Session, shop: MerchantRecord, summary: Summary) -> None:
    """The gift and the benefit, unless the shop's settings were ever saved (a merchant
    who changed them in the console keeps their change)."""
    from ccare.favorites import settings as favorite_settings
    from ccare.favorites.schemas import SettingsIn

    owner = _owner(session, shop)
    if favorite_settings.get_settings(session, owner.tenant, shop.mini_program_id).updated_at:
        return
    benefit = next(c for c in data.COUPONS if c.out_biz_no == data.FAVORITE_BENEFIT)
    benefit_id = _activity(session, benefit, shop)
    favorite_settings.put_settings(
        session,
        owner,
        shop.mini_program_id,
        SettingsIn(
            gift_activity_id=_gift_activity(session, shop, summary),
            benefit_activity_ids=[benefit_id] if benefit_id is not None else [],
        ),
    )
    summary.count("favorite settings")


def _favorite(
    session: Session,
    summary: Summary,
    shop: MerchantRecord,
    spec: data.FavoriteSpec,
    anchor: datetime,
) -> None:
    from ccare.favorites import service as favorites
    from ccare.favorites.models import FavoriteChannel, GiftOutcome

    consumer = _consumer(session, summary, spec.consumer)
    if favorites.favorite_of(session, consumer, shop.mini_program_id).first_favorited_at:
        return  # favorited on an earlier run (and maybe unfavorited since): leave it be
    added = favorites.add(
        session,
        consumer,
        shop.mini_program_id,
        FavoriteChannel(spec.channel),
        now=anchor - timedelta(days=spec.days_ago, hours=spec.consumer % 9),
    )
    summary.count("favorites")
    if added.gift is not None and added.gift.outcome == GiftOutcome.GIVEN:
        summary.count("favorite gifts")
    if spec.removed_days_ago is not None:
        favorites.remove(
            session,
            consumer,
            shop.mini_program_id,
            now=anchor - timedelta(days=spec.removed_days_ago),
        )
        summary.count("unfavorites")


# --------------------------------------------------------------------------- visits, events


def _visits(session: Session, summary: Summary, anchor: datetime) -> None:
    """The catalog records a visit only when the last one it recorded is 30 minutes
    older; asked again, every one of these past visits is older than the last recorded,
    so a later run records nothing (and a consumer's real visit since changes nothing)."""
    from ccare.catalog import service as catalog
    from ccare.catalog.models import VisitChannel

    # Oldest first: a visit older than one recorded is never recorded.
    for spec in sorted(data.visits(), key=lambda v: -v.hours_ago):
        consumer_id = summary.consumer_ids[data.consumers()[spec.consumer].phone]
        recorded = catalog.record_visit(
            session,
            consumer_id,
            summary.merchants[spec.merchant].mini_program_id,
            VisitChannel(spec.channel),
            now=anchor - timedelta(hours=spec.hours_ago),
        )
        if recorded:
            summary.count("storefront visits")


def _customer_events(
    session: Session, shop: MerchantRecord, summary: Summary, anchor: datetime
) -> None:
    from ccare.profiles import service as profiles
    from ccare.profiles.schemas import CustomerEventBatch

    batch = CustomerEventBatch.model_validate(
        {
            "events": [
                {
                    "event_id": e.event_id,
                    "consumer_id": summary.consumer_ids[data.consumers()[e.consumer].phone],
                    "name": e.name,
                    "channel": e.channel,
                    "occurred_at": anchor - timedelta(hours=e.hours_ago),
                    "properties": e.properties,
                }
                for e in data.CUSTOMER_EVENTS
            ]
        }
    )
    result = profiles.ingest(session, _owner(session, shop), batch)
    if result.accepted:
        summary.count("customer events", result.accepted)


# --------------------------------------------------------------------------- messages


def _template(
    session: Session,
    owner: Principal,
    shop: MerchantRecord,
    spec: data.TemplateSpec,
    summary: Summary,
) -> int:
    from ccare.messages import service as messages
    from ccare.messages.models import Category
    from ccare.messages.schemas import TemplateCreate

    for template in messages.list_templates(session, owner.tenant, shop.merchant_id):
        if template.name == spec.name:
            return template.id
    summary.count("message templates")
    return messages.create_template(
        session,
        owner,
        TemplateCreate(
            name=spec.name,
            category=Category(spec.category),
            title=spec.title,
            body=spec.body,
            link=spec.link,
            mini_program_id=shop.mini_program_id,
        ),
    ).id


def _messages(session: Session, shop: MerchantRecord, summary: Summary) -> int:
    """The templates, the marketing template's consents, and its broadcast to the shop's
    current favoriters (started; `_fan_out` sends it)."""
    from ccare.messages import broadcasts
    from ccare.messages import service as messages
    from ccare.messages.models import ConsentKind
    from ccare.messages.schemas import BroadcastCreate, ConsentCreate, ConsumerList

    owner = _owner(session, shop)
    marketing = _template(session, owner, shop, data.MARKETING_TEMPLATE, summary)
    _template(session, owner, shop, data.SERVICE_TEMPLATE, summary)
    for person in data.consumers():
        kind = data.consent_kind(person.index)
        if kind is None:
            continue
        consumer = _consumer(session, summary, person.index)
        # A one-time consent spent by the broadcast is still listed: asked for once only.
        if any(c.template_id == marketing for c in messages.my_consents(session, consumer)):
            continue
        messages.subscribe(
            session, consumer, ConsentCreate(template_id=marketing, kind=ConsentKind(kind))
        )
        summary.count("message consents")

    recipients = [
        summary.consumer_ids[data.consumers()[f.consumer].phone]
        for f in data.favorites()
        if f.removed_days_ago is None
    ]
    known = {b.out_request_no for b in broadcasts.list_broadcasts(session, owner.tenant)}
    broadcast = broadcasts.create(
        session,
        owner,
        BroadcastCreate(
            template_id=marketing,
            variables=data.BROADCAST_VARIABLES,
            recipients=ConsumerList(consumer_ids=recipients),
            out_request_no=data.BROADCAST_REQUEST_NO,
            start=True,
        ),
    )
    if data.BROADCAST_REQUEST_NO not in known:
        summary.count("broadcasts")
    return broadcast.id


def sending_moment(now: datetime) -> datetime:
    """`now`, or in the quiet hours (21:00-09:00 Beijing) the evening's 20:30 before it,
    so the demo's broadcast goes out instead of waiting for the morning whenever it is
    seeded."""
    local = now.astimezone(BEIJING)
    if 9 <= local.hour < 21:
        return now
    evening = local.replace(hour=20, minute=30, second=0, microsecond=0)
    if local.hour < 9:
        evening -= timedelta(days=1)
    return evening


def _fan_out(db: Database, broadcast_id: int, summary: Summary) -> None:
    from ccare.messages import fanout

    progress = fanout.run(db, broadcast_id, now=sending_moment(utcnow()))
    if progress.decided:
        summary.count("broadcast messages", progress.decided)


def _engagement(session: Session, broadcast_id: int, summary: Summary) -> None:
    """Some recipients read the message in their inbox, some open it, a few click."""
    from ccare.messages import service as messages
    from ccare.messages.models import MessageState

    for spec in data.favorites():
        action = data.ENGAGEMENT.get(spec.consumer % 8)
        if action is None or spec.removed_days_ago is not None:
            continue
        consumer = _consumer(session, summary, spec.consumer)
        mine = [m for m in messages.inbox(session, consumer) if m.broadcast_id == broadcast_id]
        if not mine:
            continue  # refused: no consent
        message = mine[0]
        if action in ("open", "click") and message.state == MessageState.DELIVERED:
            messages.open_message(session, consumer, message.id)
        if action == "click" and message.state == MessageState.OPENED:
            messages.click(session, consumer, message.id)


# --------------------------------------------------------------------------- segments


def _segments(session: Session, shop: MerchantRecord, analytics: Any, summary: Summary) -> None:
    from ccare.segments import service as segments
    from ccare.segments.schemas import SegmentCreate

    owner = _owner(session, shop)
    for spec in data.SEGMENTS:
        _segment, created = segments.create(
            session,
            owner,
            analytics,
            SegmentCreate(
                name=spec.name,
                out_request_no=spec.out_request_no,
                rule=dict(spec.rule),
                refresh_every_minutes=1440,
            ),
        )
        if created:
            summary.count("segments")
    _campaign(session, owner, summary)


def _campaign(session: Session, owner: Principal, summary: Summary) -> None:
    """Started here; the worker runs its round, as it would for a merchant."""
    from ccare.campaigns import service as campaigns
    from ccare.campaigns.schemas import CampaignCreate
    from ccare.messages import service as messages
    from ccare.segments import service as segments

    segment = next(
        s
        for s in segments.list_segments(session, owner.tenant)
        if s.out_request_no == data.CAMPAIGN_SEGMENT
    )
    template = next(
        t
        for t in messages.list_templates(session, owner.tenant)
        if t.name == data.MARKETING_TEMPLATE.name
    )
    _campaign_row, created = campaigns.create(
        session,
        owner,
        CampaignCreate(
            name=data.CAMPAIGN_NAME,
            out_request_no=data.CAMPAIGN_REQUEST_NO,
            segment_id=segment.id,
            template_id=template.id,
            variables={k: str(v) for k, v in data.BROADCAST_VARIABLES.items()},
            holdout_percent=data.CAMPAIGN_HOLDOUT_PERCENT,
            start=True,
        ),
    )
    if created:
        summary.count("campaigns")
