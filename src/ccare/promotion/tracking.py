"""Impressions, clicks and conversions: verified, deduplicated, filtered, charged.

- An impression token is recorded once; a replay is refused and charges nothing. CPM ads
  are charged here, bookings count toward their guarantee, free exposure spends a point.
- A click names a recorded impression (else `promotion.click_without_impression`), is
  recorded once, and passes the invalid-click filter before a CPC ad is charged.
- A paid order is attributed to the buyer's last countable click on that merchant's ads
  within the attribution window; advertisers upload other conversions (leads) against
  their own clicks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from ccare.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from ccare.core.outbox import emit
from ccare.core.tenancy import Principal, PrincipalKind
from ccare.core.time import as_utc, local_date, utcnow
from ccare.promotion import billing, decisions, tokens, viewers
from ccare.promotion.models import (
    AdClick,
    AdConversion,
    AdImpression,
    ClickStatus,
    ConversionSource,
)
from ccare.promotion.repository import PromotionRepository, ServingRepository
from ccare.promotion.schemas import AdClicked, AdConverted, AdImpressed

ATTRIBUTION_WINDOW = timedelta(days=7)
UPLOAD_WINDOW = timedelta(days=30)
# The invalid-click filter: faster than a person can react, or more than a person clicks.
MIN_CLICK_DELAY = timedelta(seconds=1)
FLOOD_WINDOW = timedelta(minutes=1)
MAX_CLICKS_PER_CONSUMER = 5
MAX_CLICKS_PER_IP = 20


class TokenReplayed(Conflict):
    code = "promotion.token_replayed"


@dataclass(frozen=True, slots=True)
class ClickOutcome:
    click: AdClick
    landing: tuple[int, str]  # mini-program, page


def _check_owner(owner: int | None, caller: Principal | None) -> None:
    """A token issued to a consumer counts only when that consumer reports it."""
    if owner is None:
        return
    if caller is None or caller.kind != PrincipalKind.CONSUMER or caller.id != owner:
        raise Forbidden("this token was issued to another user", code="promotion.token_not_yours")


def _charge(
    db: Session, impression: AdImpression, cost: int, reference: str, now: datetime
) -> tuple[int, str | None]:
    """(cost charged in milli-fen, refusal reason)."""
    plan = PromotionRepository(db).plan(impression.plan_id or 0)
    if plan is None:
        return 0, "plan_gone"
    try:
        charged = billing.charge(
            db,
            plan_id=plan.id,
            merchant_id=plan.merchant_id,
            day=local_date(now),
            cost_millifen=cost,
            daily_budget_fen=plan.daily_budget_fen,
            total_budget_fen=plan.total_budget_fen,
            reference=reference,
        )
    except billing.Refused as refused:
        return 0, refused.reason
    decisions.note_spend(db, plan.id, plan.merchant_id, charged.cost_millifen, charged.fen)
    return charged.cost_millifen, None


def record_impression(
    db: Session, secret: str, token: str, caller: Principal | None, now: datetime | None = None
) -> AdImpression:
    now = now or utcnow()
    payload = tokens.verify(secret, "impression", token, tokens.IMPRESSION_MAX_AGE)
    _check_owner(payload.get("u"), caller)
    impression = AdImpression(
        decision_id=payload["d"],
        slot=payload["s"],
        merchant_id=payload["m"],
        consumer_id=payload.get("u"),
        placement=payload["p"],
        plan_id=payload.get("pl"),
        group_id=payload.get("g"),
        creative_id=payload["c"],
        booking_id=payload.get("b"),
        grant_id=payload.get("gr"),
        charge_type=payload["k"],
        price_millifen=payload["pr"],
        cost_millifen=0,
        city=payload.get("ci"),
        member_level=payload.get("lv"),
        query=(payload.get("q") or None) and str(payload["q"])[:60],
        decided_at=datetime.fromtimestamp(payload["t"], UTC),
        created_at=now,
    )
    repo = ServingRepository(db)
    if not repo.insert_impression(impression):
        raise TokenReplayed("this impression was already recorded")
    if impression.consumer_id is not None and impression.group_id is not None:
        viewers.note_impression(db, impression.consumer_id, impression.group_id, now)
    if impression.charge_type == "cpm":
        cost, _ = _charge(db, impression, impression.price_millifen, f"ad-imp:{impression.id}", now)
        impression.cost_millifen = cost
    elif impression.booking_id is not None:
        from ccare.brand_bookings import service as bookings

        bookings.record_delivery(db, impression.booking_id, now)
    elif impression.grant_id is not None:
        from ccare.star_points import service as star_points

        star_points.use_free_impression(db, impression.grant_id)
    db.flush()
    emit(
        db,
        AdImpressed(
            merchant_id=impression.merchant_id,
            consumer_id=impression.consumer_id,
            occurred_at=now,
            impression_id=impression.id,
            placement=impression.placement,
            plan_id=impression.plan_id,
            group_id=impression.group_id,
            creative_id=impression.creative_id,
            booking_id=impression.booking_id,
            grant_id=impression.grant_id,
            cost_millifen=impression.cost_millifen,
        ),
    )
    return impression


def _invalid_reason(
    repo: ServingRepository, impression: AdImpression, ip: str | None, now: datetime
) -> str | None:
    if now - as_utc(impression.created_at) < MIN_CLICK_DELAY:
        return "too_fast"
    since = now - FLOOD_WINDOW
    if impression.consumer_id is not None and (
        repo.recent_clicks(since, consumer_id=impression.consumer_id) >= MAX_CLICKS_PER_CONSUMER
    ):
        return "consumer_flood"
    if ip and repo.recent_clicks(since, ip=ip) >= MAX_CLICKS_PER_IP:
        return "ip_flood"
    return None


def record_click(
    db: Session,
    secret: str,
    token: str,
    caller: Principal | None,
    ip: str | None,
    now: datetime | None = None,
) -> ClickOutcome:
    now = now or utcnow()
    payload = tokens.verify(secret, "click", token, tokens.CLICK_MAX_AGE)
    repo = ServingRepository(db)
    impression = repo.impression(str(payload["d"]), int(payload["s"]))
    if impression is None:
        raise Conflict(
            "this ad was never recorded as shown", code="promotion.click_without_impression"
        )
    _check_owner(impression.consumer_id, caller)
    reason = _invalid_reason(repo, impression, ip, now)
    click = AdClick(
        impression_id=impression.id,
        merchant_id=impression.merchant_id,
        consumer_id=impression.consumer_id,
        placement=impression.placement,
        plan_id=impression.plan_id,
        group_id=impression.group_id,
        creative_id=impression.creative_id,
        status=ClickStatus.INVALID if reason else ClickStatus.FREE,
        invalid_reason=reason,
        cost_millifen=0,
        ip=ip,
        created_at=now,
    )
    if not repo.insert_click(click):
        raise TokenReplayed("this click was already recorded")
    if reason is None and impression.charge_type == "cpc":
        cost, refused = _charge(
            db, impression, impression.price_millifen, f"ad-click:{click.id}", now
        )
        click.cost_millifen = cost
        click.status = ClickStatus.UNFUNDED if refused else ClickStatus.BILLED
        click.invalid_reason = refused
    db.flush()
    emit(
        db,
        AdClicked(
            merchant_id=click.merchant_id,
            consumer_id=click.consumer_id,
            occurred_at=now,
            click_id=click.id,
            impression_id=impression.id,
            placement=click.placement,
            plan_id=click.plan_id,
            group_id=click.group_id,
            creative_id=click.creative_id,
            status=click.status.value,
            cost_millifen=click.cost_millifen,
        ),
    )
    creative = PromotionRepository(db).creative(impression.creative_id)
    landing = (creative.mini_program_id, creative.page) if creative else (0, "")
    return ClickOutcome(click, landing)


# --- conversions ------------------------------------------------------------------------


def _convert(
    db: Session,
    click: AdClick,
    out_no: str,
    source: ConversionSource,
    kind: str,
    value: int,
    at: datetime,
) -> tuple[AdConversion, bool]:
    repo = ServingRepository(db)
    conversion = AdConversion(
        merchant_id=click.merchant_id,
        out_conversion_no=out_no,
        click_id=click.id,
        consumer_id=click.consumer_id,
        plan_id=click.plan_id,
        group_id=click.group_id,
        creative_id=click.creative_id,
        placement=click.placement,
        source=source,
        kind=kind,
        value_fen=value,
        occurred_at=at,
    )
    if not repo.insert_conversion(conversion):
        earlier = repo.conversion(click.merchant_id, out_no)
        assert earlier is not None
        return earlier, False
    if conversion.consumer_id is not None and conversion.plan_id is not None:
        viewers.note_conversion(db, conversion.consumer_id, conversion.plan_id)
    emit(
        db,
        AdConverted(
            merchant_id=click.merchant_id,
            consumer_id=click.consumer_id,
            occurred_at=at,
            conversion_id=conversion.id,
            click_id=click.id,
            placement=click.placement,
            plan_id=click.plan_id,
            group_id=click.group_id,
            creative_id=click.creative_id,
            source=source.value,
            kind=kind,
            value_fen=value,
        ),
    )
    return conversion, True


def attribute_order(
    db: Session,
    *,
    merchant_id: int,
    consumer_id: int,
    order_id: int,
    amount_fen: int,
    paid_at: datetime,
) -> AdConversion | None:
    """Last click wins: the buyer's latest countable click on this merchant's ads in the
    window before payment. Recorded once per order."""
    paid_at = as_utc(paid_at)
    click = ServingRepository(db).last_click(
        consumer_id, merchant_id, paid_at - ATTRIBUTION_WINDOW, paid_at
    )
    if click is None:
        return None
    conversion, _ = _convert(
        db, click, f"order:{order_id}", ConversionSource.ORDER, "order", amount_fen, paid_at
    )
    return conversion


def upload_conversion(
    db: Session,
    actor: Principal,
    *,
    merchant_id: int,
    click_id: int,
    out_conversion_no: str,
    kind: str,
    value_fen: int,
    occurred_at: datetime,
) -> tuple[AdConversion, bool]:
    click = ServingRepository(db).click(click_id)
    if (
        click is None
        or click.merchant_id != merchant_id
        or not actor.tenant.allows(click.merchant_id)
    ):
        raise NotFound("no such click", code="promotion.click_not_found")
    at = as_utc(occurred_at)
    clicked = as_utc(click.created_at)
    if not clicked <= at <= clicked + UPLOAD_WINDOW or at > utcnow() + timedelta(minutes=5):
        raise InvalidInput(
            "a conversion must happen after its click and within 30 days of it",
            code="promotion.conversion_outside_window",
        )
    if click.status == ClickStatus.INVALID:
        raise InvalidInput("the click was filtered as invalid", code="promotion.click_invalid")
    earlier = ServingRepository(db).conversion(merchant_id, out_conversion_no)
    if earlier is not None:
        same = (earlier.click_id, earlier.kind, earlier.value_fen) == (click_id, kind, value_fen)
        if not same:
            raise Conflict(
                "this out_conversion_no was used for another conversion",
                code="promotion.request_conflict",
            )
        return earlier, False
    return _convert(db, click, out_conversion_no, ConversionSource.UPLOAD, kind, value_fen, at)
