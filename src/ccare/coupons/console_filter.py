"""The anti-cheating filter on the merchant's pages, in people's words: what each
strictness does, the published rules, and the claims the filter blocked."""

from __future__ import annotations

import re
from typing import Any

from fastapi import Request

from ccare.coupons import antifraud, risk
from ccare.coupons.antifraud import THRESHOLDS, Outcome, Strictness
from ccare.coupons.page_texts import LABELS
from ccare.coupons.schemas import DecisionOut, RiskReport
from ccare.web.i18n import N_
from ccare.web.templating import translate

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


def levels(request: Request) -> list[dict[str, Any]]:
    """The four strictness levels with what each does, in the request's language."""
    levels = []
    for level in Strictness:
        thresholds = THRESHOLDS[level]
        note = translate(request, LEVEL_NOTES[level])
        if thresholds is not None:
            note = note % {"challenge": thresholds.challenge, "reject": thresholds.reject}
        levels.append({"value": level.value, "note": note, "thresholds": thresholds})
    return levels


def rules(request: Request) -> list[dict[str, Any]]:
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


def reason(request: Request, reason: dict[str, Any]) -> dict[str, Any]:
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


def blocked_row(request: Request, decision: DecisionOut) -> dict[str, Any]:
    reasons = decision.explanation.get("reasons")
    return {
        "id": decision.id,
        "at": decision.at,
        "consumer_id": decision.consumer_id,
        "device_id": decision.device_id,
        "ip": decision.ip,
        "outcome": decision.outcome.value,
        "score": decision.score,
        "reasons": [reason(request, r) for r in (reasons if isinstance(reasons, list) else [])],
    }


def risk_view(request: Request, report: RiskReport) -> dict[str, Any]:
    """What the filter decided on an activity, ready for the page and its chart."""
    outcomes = [o.value for o in Outcome]
    blocked = sum(report.totals[o].claims for o in outcomes if o != Outcome.PASS.value)
    return {
        "outcomes": outcomes,
        "totals": report.totals,
        "budget_saved_fen": report.budget_saved_fen,
        "blocked_claims": blocked,
        "blocked": [blocked_row(request, d) for d in report.blocked],
        "chart": {
            "labels": [translate(request, LABELS[o]) for o in outcomes],
            "counts": [report.totals[o].claims for o in outcomes],
        },
    }
