"""Coupon pages: the merchant's activities (create, status, stock, history, claims per
channel), the anti-cheating filter (strictness, published rules, what it blocked per
activity) and the consumer's coupon wallet in the app."""

from __future__ import annotations

import re
import secrets
from datetime import date, datetime, timedelta
from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import Response
from pydantic import ValidationError

from ccare.core.errors import DomainError
from ccare.core.tenancy import PLATFORM
from ccare.core.time import as_utc, utcnow
from ccare.coupons import antifraud, risk, service
from ccare.coupons.antifraud import THRESHOLDS, Outcome, Strictness
from ccare.coupons.gate import gate_for
from ccare.coupons.models import ActivityStatus, Channel, Coupon, CouponStatus
from ccare.coupons.pricing import CouponKind
from ccare.coupons.qr import claim_link, claim_qr_svg
from ccare.coupons.schemas import (
    ActivityCreate,
    AppendQuantity,
    ClaimRequest,
    DecisionOut,
    RiskReport,
    SettingsIn,
    StatusChange,
)
from ccare.merchants import service as merchants
from ccare.web.charts import local_today
from ccare.web.deps import DbSession, RuntimeDep
from ccare.web.i18n import N_
from ccare.web.pages import AppConsumer, MerchantUser, PageId, error_page, redirect
from ccare.web.routing import api_router, end_refused
from ccare.web.templating import DISPLAY_TZ, parse_yuan, problem_text, render, translate

router = api_router(tags=["console"])
app_router = api_router(tags=["app"])

COUPONS = "/console/merchant/coupons"
# The kinds the console form creates; special-price and exchange coupons name goods and
# are created through the API.
FORM_KINDS = (CouponKind.FIXED, CouponKind.DISCOUNT)
CLAIM_DAYS = 30
VALID_DAYS = 7

# Enum values of this product shown to people (statuses, kinds, channels, history).
LABELS: dict[str, str] = {
    # activity statuses
    "draft": N_("Draft"),
    "active": N_("In progress"),
    "paused": N_("Paused"),
    "stopped": N_("Stopped"),
    "expired": N_("Expired"),
    # coupon statuses
    "available": N_("Available"),
    "locked": N_("Locked by an order"),
    "used": N_("Used"),
    "voided": N_("Voided"),
    # kinds
    "fixed": N_("Fixed amount off"),
    "discount": N_("Percentage discount"),
    "special_price": N_("Special price"),
    "exchange": N_("Exchange"),
    # channels
    "payment_success": N_("After payment"),
    "search_passphrase": N_("Search passphrase"),
    "coupon_venue": N_("Coupon venue"),
    "fan_group": N_("Fan group"),
    "favorites_gift": N_("Favorites gift"),
    "message": N_("Message"),
    "ad_creative": N_("Advertisement"),
    "offline_qr": N_("Offline QR code"),
    "api": N_("Merchant's system"),
    # history
    "created": N_("Created the activity"),
    "activated": N_("Activated"),
    "modified": N_("Modified"),
    "appended": N_("Stock added"),
    "codes_deposited": N_("Codes deposited"),
    # the anti-cheating filter's strictness and outcomes
    "off": N_("Off"),
    "lenient": N_("Lenient"),
    "standard": N_("Standard"),
    "strict": N_("Strict"),
    "pass": N_("Passed"),
    "challenge": N_("Challenged"),
    "reject": N_("Rejected"),
}

# Form fields of the new-activity form, by the schema field a validation error names.
FIELDS: dict[str, str] = {
    "name": N_("Name"),
    "kind": N_("Kind"),
    "amount_fen": N_("Amount off (¥)"),
    "pay_rate_bp": N_("Pay rate (percent)"),
    "ceiling_fen": N_("Most taken off (¥)"),
    "floor_fen": N_("Minimum spend (¥)"),
    "quantity": N_("Quantity"),
    "user_limits": N_("Per user"),
    "claim_begin": N_("Claims from"),
    "claim_end": N_("Claims until"),
    "validity": N_("Valid for (days after claim)"),
    "add": N_("Coupons to add"),
    "strictness": N_("Strictness"),
}

# Coupon error codes a page may show, in people's words.
ERRORS: dict[str, str] = {
    "coupon.out_biz_no_reused": N_("This form was already submitted with different values."),
    "coupon.out_request_no_reused": N_("This form was already submitted with different values."),
    "coupon.illegal_transition": N_("The activity cannot do this in its current status."),
    "coupon.invalid_validity": N_("Check the validity period."),
    "coupon.budget_below_face": N_("The budget is below one coupon's face value."),
    "coupon.over_budget": N_("The money budget does not cover that many coupons."),
}
KIND_NEEDS = N_("A fixed coupon needs an amount; a discount needs a pay rate and a ceiling.")
WINDOW_ORDER = N_("The claim window must end after it starts.")


# ---------------------------------------------------------------- anti-cheating filter

# What each strictness does, in one line; the scores come from THRESHOLDS.
LEVEL_NOTES: dict[Strictness, str] = {
    Strictness.OFF: N_(
        "Every claim gets its coupon; scores and reasons are still recorded, "
        "so you can see what the filter would do."
    ),
    Strictness.LENIENT: N_(
        "Fewest refusals: challenges claims scoring %(challenge)s or more, rejects from %(reject)s."
    ),
    Strictness.STANDARD: N_(
        "Recommended: challenges claims scoring %(challenge)s or more, rejects from %(reject)s."
    ),
    Strictness.STRICT: N_(
        "Blocks the most, and asks more genuine customers to verify: challenges claims "
        "scoring %(challenge)s or more, rejects from %(reject)s."
    ),
}

# The published rules in people's words, by code. The English texts say what the rule
# table's summaries say, with the look-back periods risk.py actually counts.
RULE_NAMES: dict[str, str] = {
    "risk.device_shared": N_("Shared device"),
    "risk.new_account": N_("New account"),
    "risk.ip_velocity": N_("Many claims from one IP"),
    "risk.geo_velocity": N_("Impossible travel"),
    "risk.city_hopping": N_("City hopping"),
    "risk.claim_without_use": N_("Claims without use"),
    "risk.feeds_redeemer": N_("Feeds a redeemer"),
    "risk.blacklisted": N_("Blacklisted"),
    "risk.no_real_name": N_("No real name"),
}
RULE_SUMMARIES: dict[str, str] = {
    "risk.device_shared": N_(
        "Accounts that claimed on the same device in the last %(days)s days: many is a "
        "device farm; two, a couple sharing a phone, cost nothing."
    ),
    "risk.new_account": N_("Days between the account's registration and the claim."),
    "risk.ip_velocity": N_(
        "Claims from the same IP in the last hour; offices and campuses share one too, "
        "so this weighs little alone."
    ),
    "risk.geo_velocity": N_(
        "Speed implied by the distance and time since the account's last claim, over "
        "%(km)s km or more: faster than a train, then faster than a plane."
    ),
    "risk.city_hopping": N_("Cities the account claimed from in the last 24 hours."),
    "risk.claim_without_use": N_(
        "Share of the account's claims in 30 days it never used itself, once it has "
        "%(claims)s or more."
    ),
    "risk.feeds_redeemer": N_(
        "The account's coupons were redeemed by an account that redeems the coupons of "
        "many claimers; a family has two to four."
    ),
    "risk.blacklisted": N_(
        "Device, account or IP on the platform's blacklist; rejects unless the filter is off."
    ),
    "risk.no_real_name": N_("The account has not verified a real name."),
}
# Rules whose inputs ccare does not collect yet (claim locations, transfers of codes):
# risk.features leaves them at neutral values, so they never score for now.
NOT_MEASURED = frozenset({"risk.geo_velocity", "risk.city_hopping", "risk.feeds_redeemer"})

# A blocked claim's reasons in people's words; `%(value)s` is the measured value of the
# reason's stored detail ("accounts_on_device = 6 accounts (>= 5)" -> 6).
REASON_TEXTS: dict[str, str] = {
    "risk.device_shared": N_("%(value)s accounts claimed on this device"),
    "risk.new_account": N_("account opened %(value)s days before the claim"),
    "risk.ip_velocity": N_("%(value)s earlier claims from this IP in the last hour"),
    "risk.geo_velocity": N_("travelled at %(value)s km/h since the last claim"),
    "risk.city_hopping": N_("claimed from %(value)s cities in 24 hours"),
    "risk.claim_without_use": N_("%(value)s%% of the claims in 30 days never used"),
    "risk.feeds_redeemer": N_("its redeemer redeems the coupons of %(value)s claimers"),
    "risk.blacklisted": N_("on %(value)s of the platform's blacklists"),
    "risk.no_real_name": N_("no verified real name"),
}
NEW_TODAY = N_("account opened less than a day before the claim")
MEASURED = re.compile(r"= (\d+(?:\.\d+)?)")


def _levels(request: Request) -> list[dict[str, Any]]:
    """The four strictness levels with what each does, in the request's language."""
    levels = []
    for level in Strictness:
        thresholds = THRESHOLDS[level]
        note = translate(request, LEVEL_NOTES[level])
        if thresholds is not None:
            note = note % {"challenge": thresholds.challenge, "reject": thresholds.reject}
        levels.append({"value": level.value, "note": note, "thresholds": thresholds})
    return levels


def _rules(request: Request) -> list[dict[str, Any]]:
    """The published rule table; a rule without a translation shows its own summary."""
    values = {
        "days": risk.DEVICE_LOOKBACK.days,
        "km": f"{antifraud.MIN_TRAVEL_KM:g}",
        "claims": antifraud.MIN_CLAIMS_FOR_USE_RATIO,
    }
    rules = []
    for rule in antifraud.rule_table():
        code = rule["code"]
        name = RULE_NAMES.get(code)
        summary = RULE_SUMMARIES.get(code)
        rules.append(
            {
                **rule,
                "name": translate(request, name) if name else code,
                "summary": translate(request, summary) % values if summary else rule["summary"],
                "measured": code not in NOT_MEASURED,
            }
        )
    return rules


def _reason(request: Request, reason: dict[str, Any]) -> dict[str, Any]:
    """One stored reason -> its name and a sentence, in the request's language."""
    code = str(reason.get("code", ""))
    detail = str(reason.get("detail", ""))
    name = RULE_NAMES.get(code)
    text = REASON_TEXTS.get(code)
    found = MEASURED.search(detail)
    if text is not None and "%(value)s" in text and found is None:
        text = None
    elif code == "risk.new_account" and found is not None and float(found.group(1)) < 1:
        text = NEW_TODAY
    return {
        "code": code,
        "weight": reason.get("weight", 0),
        "name": translate(request, name) if name else code,
        "text": (
            translate(request, text) % {"value": found.group(1) if found else ""} if text else ""
        ),
        "detail": detail,
    }


def _blocked_row(request: Request, decision: DecisionOut) -> dict[str, Any]:
    reasons = decision.explanation.get("reasons")
    return {
        "id": decision.id,
        "at": decision.at,
        "consumer_id": decision.consumer_id,
        "device_id": decision.device_id,
        "ip": decision.ip,
        "outcome": decision.outcome.value,
        "score": decision.score,
        "reasons": [_reason(request, r) for r in (reasons if isinstance(reasons, list) else [])],
    }


def _risk(request: Request, report: RiskReport) -> dict[str, Any]:
    """What the filter decided on an activity, ready for the page and its chart."""
    outcomes = [o.value for o in Outcome]
    blocked = sum(report.totals[o].claims for o in outcomes if o != Outcome.PASS.value)
    return {
        "outcomes": outcomes,
        "totals": report.totals,
        "budget_saved_fen": report.budget_saved_fen,
        "blocked_claims": blocked,
        "blocked": [_blocked_row(request, d) for d in report.blocked],
        "chart": {
            "labels": [translate(request, LABELS[o]) for o in outcomes],
            "counts": [report.totals[o].claims for o in outcomes],
        },
    }


def _problem(request: Request, exc: Exception) -> str:
    """What went wrong with a coupon form, in the request's language."""
    if isinstance(exc, DomainError):
        known = ERRORS.get(exc.code)
        return translate(request, known) if known else problem_text(request, exc)
    if isinstance(exc, ValidationError):
        fields: list[str] = []
        rules: list[str] = []
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ()) if isinstance(p, str)]
            if loc and loc[0] in FIELDS:
                text = translate(request, FIELDS[loc[0]])
                if text not in fields:
                    fields.append(text)
            elif not loc:  # the model's own rules: what each kind needs, the window
                message = str(err.get("msg", ""))
                rule = WINDOW_ORDER if "claim_begin" in message else KIND_NEEDS
                if translate(request, rule) not in rules:
                    rules.append(translate(request, rule))
        base = translate(request, N_("Please check the values you entered."))
        text = f"{base} ({', '.join(fields)})" if fields else base
        return " ".join([text, *rules]) if rules else text
    return problem_text(request, exc)


def _page(request: Request, template: str, **ctx: Any) -> Response:
    return render(request, template, labels=LABELS, **ctx)


def _count(text: str) -> int | str | None:
    """'' -> None; digits -> int; anything else is passed on to fail validation."""
    text = text.strip()
    if not text:
        return None
    return int(text) if text.isdigit() and len(text) < 12 else text


def _fen(text: str) -> int | str | None:
    """'' -> None; a yuan amount -> fen; anything else is passed on to fail validation."""
    if not text.strip():
        return None
    fen = parse_yuan(text)
    return text if fen is None else fen


def _day_start(text: str, *, plus_days: int = 0) -> datetime | str:
    """'2026-11-24' -> that day's first instant in the display time zone (plus days)."""
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        return text
    return datetime.combine(day + timedelta(days=plus_days), datetime.min.time(), DISPLAY_TZ)


def _list_page(
    request: Request,
    db: DbSession,
    staff: MerchantUser,
    *,
    error: str | None = None,
    notice: str | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    today = local_today()
    defaults = {
        "kind": CouponKind.FIXED.value,
        "claim_begin": today.isoformat(),
        "claim_end": (today + timedelta(days=CLAIM_DAYS)).isoformat(),
        "valid_days": str(VALID_DAYS),
        "activate": "1",
    }
    settings = service.strictness(db, staff.tenant, service.merchant_for(staff, None))
    return _page(
        request,
        "coupons/merchant_coupons.html",
        status_code=status_code,
        activities=service.list_activities(db, staff.tenant),
        kinds=FORM_KINDS,
        can_manage=staff.can_manage(),
        error=error,
        notice=notice,
        form=form or defaults,
        strictness=settings.strictness.value,
        levels=_levels(request),
        rules=_rules(request),
        rules_version=antifraud.RULES_VERSION,
    )


@router.get("/console/merchant/coupons")
def coupons(
    request: Request, db: DbSession, staff: MerchantUser, saved: str | None = None
) -> Response:
    notice = translate(request, N_("Saved.")) if saved else None
    return _list_page(request, db, staff, notice=notice)


@router.post("/console/merchant/coupons/strictness")
def set_strictness(
    request: Request,
    db: DbSession,
    staff: MerchantUser,
    strictness: Annotated[str, Form()] = "",
) -> Response:
    try:
        data = SettingsIn.model_validate({"strictness": strictness})
        service.set_strictness(db, staff, None, data.strictness)
    except (DomainError, ValidationError) as exc:
        db.rollback()
        status = exc.status_code if isinstance(exc, DomainError) else 422
        return _list_page(request, db, staff, error=_problem(request, exc), status_code=status)
    return redirect(f"{COUPONS}?saved=1#risk-settings")


@router.post("/console/merchant/coupons")
def create_activity(
    request: Request,
    db: DbSession,
    staff: MerchantUser,
    out_biz_no: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    kind: Annotated[str, Form()] = CouponKind.FIXED.value,
    amount: Annotated[str, Form()] = "",
    pay_rate: Annotated[str, Form()] = "",
    ceiling: Annotated[str, Form()] = "",
    floor: Annotated[str, Form()] = "",
    quantity: Annotated[str, Form()] = "",
    per_user: Annotated[str, Form()] = "",
    claim_begin: Annotated[str, Form()] = "",
    claim_end: Annotated[str, Form()] = "",
    valid_days: Annotated[str, Form()] = "",
    activate: Annotated[str, Form()] = "",
) -> Response:
    form = {
        "out_biz_no": out_biz_no,
        "name": name,
        "kind": kind,
        "amount": amount,
        "pay_rate": pay_rate,
        "ceiling": ceiling,
        "floor": floor,
        "quantity": quantity,
        "per_user": per_user,
        "claim_begin": claim_begin,
        "claim_end": claim_end,
        "valid_days": valid_days,
        "activate": activate,
    }
    fixed = kind == CouponKind.FIXED.value
    per_user_limit = _count(per_user)
    body: dict[str, Any] = {
        "out_biz_no": out_biz_no,
        "name": name,
        "kind": kind,
        "amount_fen": (_fen(amount) or 0) if fixed else 0,
        # A pay rate in percent with up to two decimals is a count of basis points.
        "pay_rate_bp": None if fixed else _fen(pay_rate),
        "ceiling_fen": None if fixed else _fen(ceiling),
        "floor_fen": _fen(floor) or 0,
        "quantity": _count(quantity),
        "user_limits": {} if per_user_limit is None else {"lifetime": per_user_limit},
        # The last claim day is included: claims end when the next day starts.
        "claim_begin": _day_start(claim_begin),
        "claim_end": _day_start(claim_end, plus_days=1),
        "validity": {"days_after_claim": _count(valid_days)},
        "activate": bool(activate),
    }
    try:
        data = ActivityCreate.model_validate(body)
        activity = service.create_activity(db, staff, data)
    except (DomainError, ValidationError) as exc:
        db.rollback()
        status = exc.status_code if isinstance(exc, DomainError) else 422
        return _list_page(
            request, db, staff, error=_problem(request, exc), form=form, status_code=status
        )
    return redirect(f"{COUPONS}/{activity.id}?created=1")


def _detail_page(
    request: Request,
    db: DbSession,
    staff: MerchantUser,
    activity_id: int,
    *,
    error: str | None = None,
    notice: str | None = None,
    add: str = "",
    status_code: int = 200,
) -> Response:
    try:
        activity = service.get_activity(db, staff.tenant, activity_id)
    except DomainError as exc:
        return error_page(request, exc)
    out = service.activity_out(db, staff.tenant, activity)
    channels = service.claims_by_channel(db, staff.tenant, activity_id)
    chart = {
        "labels": [translate(request, LABELS[c]) for c in channels],
        "counts": list(channels.values()),
    }
    settings = service.strictness(db, staff.tenant, activity.merchant_id)
    return _page(
        request,
        "coupons/merchant_activity.html",
        status_code=status_code,
        activity=out,
        actions=[s.value for s in service.TRANSITIONS[activity.status]],
        history=list(reversed(service.history(db, staff.tenant, activity_id))),
        channels=channels,
        chart=chart,
        risk=_risk(request, risk.report(db, staff.tenant, activity)),
        strictness=settings.strictness.value,
        can_manage=staff.can_manage(),
        error=error,
        notice=notice,
        add=add,
    )


@router.get("/console/merchant/coupons/{activity_id}")
def activity_page(
    request: Request,
    db: DbSession,
    staff: MerchantUser,
    activity_id: PageId,
    created: str | None = None,
    saved: str | None = None,
) -> Response:
    notice = None
    if created:
        notice = translate(request, N_("Activity created."))
    elif saved:
        notice = translate(request, N_("Saved."))
    return _detail_page(request, db, staff, activity_id, notice=notice)


@router.get("/console/merchant/coupons/{activity_id}/qr.svg")
def activity_qr(
    request: Request, db: DbSession, staff: MerchantUser, activity_id: PageId
) -> Response:
    """The offline QR code for the counter (the same image the API serves to apps)."""
    try:
        service.get_activity(db, staff.tenant, activity_id)
    except DomainError as exc:
        return error_page(request, exc)
    svg = claim_qr_svg(claim_link(str(request.base_url), activity_id))
    return Response(svg, media_type="image/svg+xml")


@router.post("/console/merchant/coupons/{activity_id}/status")
def set_status(
    request: Request,
    db: DbSession,
    staff: MerchantUser,
    activity_id: PageId,
    status: Annotated[str, Form()] = "",
) -> Response:
    try:
        change = StatusChange.model_validate({"status": status})
        service.set_status(db, staff, activity_id, ActivityStatus(change.status))
    except (DomainError, ValidationError) as exc:
        db.rollback()
        if isinstance(exc, DomainError) and exc.status_code == 404:
            return error_page(request, exc)
        return _detail_page(
            request,
            db,
            staff,
            activity_id,
            error=_problem(request, exc),
            status_code=exc.status_code if isinstance(exc, DomainError) else 422,
        )
    return redirect(f"{COUPONS}/{activity_id}?saved=1")


@router.post("/console/merchant/coupons/{activity_id}/append")
def append(
    request: Request,
    db: DbSession,
    staff: MerchantUser,
    activity_id: PageId,
    add: Annotated[str, Form()] = "",
    out_request_no: Annotated[str, Form()] = "",
) -> Response:
    try:
        data = AppendQuantity.model_validate({"add": _count(add), "out_request_no": out_request_no})
        service.append(db, staff, activity_id, data)
    except (DomainError, ValidationError) as exc:
        db.rollback()
        if isinstance(exc, DomainError) and exc.status_code == 404:
            return error_page(request, exc)
        status = exc.status_code if isinstance(exc, DomainError) else 422
        return _detail_page(
            request,
            db,
            staff,
            activity_id,
            error=_problem(request, exc),
            add=add,
            status_code=status,
        )
    return redirect(f"{COUPONS}/{activity_id}?saved=1")


# ---------------------------------------------------------------- consumer app

GROUPS = (
    (CouponStatus.AVAILABLE.value, N_("Available")),
    (CouponStatus.LOCKED.value, N_("Locked by an order")),
    (CouponStatus.USED.value, N_("Used")),
    (CouponStatus.EXPIRED.value, N_("Expired")),
)


def _group(coupon: Coupon, now: datetime) -> str:
    """Where a coupon shows: a voided coupon, or one past its last day, is expired."""
    status = coupon.status.value
    if status == CouponStatus.VOIDED.value:
        return CouponStatus.EXPIRED.value
    if status == CouponStatus.AVAILABLE.value and as_utc(coupon.valid_until) <= now:
        return CouponStatus.EXPIRED.value
    return status


@app_router.get("/app/coupons")
def app_coupons(request: Request, db: DbSession, consumer: AppConsumer) -> Response:
    coupons = service.my_coupons(db, consumer)
    activities = {
        a: service.get_activity(db, PLATFORM, a) for a in sorted({c.activity_id for c in coupons})
    }
    shops = {
        m: merchants.get_merchant(db, PLATFORM, m).name
        for m in sorted({a.merchant_id for a in activities.values()})
    }
    now = utcnow()
    grouped: dict[str, list[Coupon]] = {key: [] for key, _label in GROUPS}
    for coupon in coupons:
        grouped[_group(coupon, now)].append(coupon)
    return _page(
        request,
        "coupons/app_coupons.html",
        groups=[(key, label, grouped[key]) for key, label in GROUPS],
        activities=activities,
        shops=shops,
        total=len(coupons),
    )


@app_router.get("/app/coupons/claim/{activity_id}")
def app_claim_page(
    request: Request,
    activity_id: PageId,
    db: DbSession,
    consumer: AppConsumer,
    channel: str = "offline_qr",
) -> Response:
    """Where a scanned counter QR code (or a shared link) lands: the coupon, one button."""
    return _claim_page(request, db, activity_id, _channel(channel))


@app_router.post("/app/coupons/claim/{activity_id}")
def app_claim(
    request: Request,
    activity_id: PageId,
    db: DbSession,
    runtime: RuntimeDep,
    consumer: AppConsumer,
    channel: Annotated[str, Form()] = "offline_qr",
    claim_key: Annotated[str, Form(min_length=1, max_length=64)] = "",
) -> Response:
    request_ = ClaimRequest(channel=_channel(channel), claim_key=claim_key or "scan")
    ip = request.client.host if request.client else None
    gate = gate_for(runtime.settings.effective_redis_url)
    try:
        service.claim(db, consumer, activity_id, request_, ip=ip, gate=gate)
    except DomainError as exc:
        end_refused(db, exc)
        problem = _problem(request, exc)
        return _claim_page(
            request, db, activity_id, request_.channel, problem=problem, status=exc.status_code
        )
    return redirect("/app/coupons")


def _channel(text: str) -> Channel:
    try:
        return Channel(text)
    except ValueError:
        return Channel.OFFLINE_QR


def _claim_page(
    request: Request,
    db: DbSession,
    activity_id: int,
    channel: Channel,
    *,
    problem: str | None = None,
    status: int = 200,
) -> Response:
    activity = service.get_activity(db, PLATFORM, activity_id)
    now = utcnow()
    offered = activity.status == ActivityStatus.ACTIVE and (
        as_utc(activity.claim_begin) <= now < as_utc(activity.claim_end)
    )
    page = _page(
        request,
        "coupons/app_claim.html",
        activity=activity,
        shop=merchants.get_merchant(db, PLATFORM, activity.merchant_id).name,
        channel=channel.value,
        offered=offered,
        claim_key=secrets.token_hex(8),
        problem=problem,
    )
    page.status_code = status
    return page
