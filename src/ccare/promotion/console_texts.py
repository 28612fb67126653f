"""What the promotion pages share: their paths, labels of this product's values, the human
texts of its errors, the hours-of-the-week presets, and the reading of form fields into
API shapes."""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from ccare.core.errors import DomainError
from ccare.promotion.placements import BY_KEY
from ccare.promotion.schemas import ALL_HOURS
from ccare.web.i18n import N_
from ccare.web.pages import redirect
from ccare.web.templating import fen, parse_yuan, problem_text, translate

PAGE = "/console/merchant/promotion"
PLANS = PAGE + "/plans"
GROUPS = PAGE + "/groups"
REVIEWS = "/console/operator/promotion/reviews"

LABELS: dict[str, str] = {
    "active": N_("Serving"),
    "paused": N_("Paused"),
    "ended": N_("Ended"),
    "pending": N_("Pending review"),
    "approved": N_("Approved"),
    "rejected": N_("Rejected"),
    "transactions": N_("Transactions"),
    "leads": N_("Leads"),
    "brand": N_("Brand awareness"),
    "cpc": N_("Pay per click (CPC)"),
    "cpm": N_("Pay per 1,000 impressions (CPM)"),
    "manual": N_("Manual bid"),
    "ocpc": N_("oCPC: target cost per conversion"),
    "target_roi": N_("Target ROI"),
}

# Hours of the week as the plan form offers them; 168 characters, Monday 00:00 first.
DAYTIME = ("0" * 7 + "1" * 15 + "0" * 2) * 7
WORKDAYS = ("0" * 9 + "1" * 9 + "0" * 6) * 5 + "0" * 48
HOURS: dict[str, tuple[str, str]] = {
    "all_week": (N_("All week, around the clock"), ALL_HOURS),
    "daytime": (N_("07:00–22:00 every day"), DAYTIME),
    "workdays": (N_("09:00–18:00 Monday to Friday"), WORKDAYS),
}
KEEP_HOURS = "keep"

ERRORS: dict[str, str] = {
    "promotion.plan_not_found": N_("Choose one of your ad plans."),
    "promotion.group_not_found": N_("Choose one of your ad groups."),
    "promotion.creative_not_found": N_("Choose one of your creatives."),
    "promotion.total_below_daily": N_("The total budget cannot be below the daily budget."),
    "promotion.no_hours": N_("Choose at least one hour of the week to serve in."),
    "promotion.request_conflict": N_("This form was already submitted with other values."),
    "promotion.plan_ended": N_("This plan has ended and can no longer be changed."),
    "promotion.group_ended": N_("This ad group has ended and can no longer be changed."),
    "promotion.placement_unknown": N_("Choose placements from the list."),
    "promotion.placement_not_auctioned": N_(
        "Brand event placements are booked under Brand bookings, not bid on:"
    ),
    "promotion.cpm_not_sold": N_("This placement sells clicks only; use a CPC plan:"),
    "promotion.bid_below_reserve": N_("The bid is below this placement's reserve price:"),
    "promotion.search_words_need_search": N_("Search words need the Search results placement."),
    "promotion.search_words_required": N_("An ad group on Search results needs search words."),
    "promotion.keyword_invalid": N_(
        "A search word is empty or too long (20 characters, 8 words at most):"
    ),
    "promotion.keyword_reserved": N_("This search word is reserved for its certified brand:"),
    "promotion.segment_both": N_("A segment cannot be both included and excluded."),
    "segment.not_found": N_("Choose segments from your own."),
    "promotion.ocpc_needs_conversions": N_(
        "oCPC needs a plan whose objective is transactions or leads."
    ),
    "promotion.target_cpa_required": N_("oCPC needs a target cost per conversion."),
    "promotion.roi_needs_transactions": N_(
        "A target ROI needs a plan whose objective is transactions."
    ),
    "promotion.target_roi_required": N_("Target ROI bidding needs a target ROI."),
    "promotion.target_not_allowed": N_("This target does not go with the group's bid type."),
    "promotion.landing_not_found": N_("Choose one of your mini-programs."),
    "coupon.activity_not_found": N_("Choose one of your coupon activities."),
    "promotion.review_note_required": N_("Say why the creative is rejected: the merchant sees it."),
    "wallet.insufficient_funds": N_("Your sales balance is not enough for this top-up."),
    "ledger.invalid_amount": N_("Enter an amount between ¥0.01 and ¥100,000."),
}

# Precise texts for fields the request schemas refuse.
FIELD_ERRORS: dict[str, str] = {
    "name": N_("Enter a name of 1 to 60 characters."),
    "objective": N_("Choose an objective from the list."),
    "charge_type": N_("Choose a charge type from the list."),
    "daily_budget_fen": N_("Enter a daily budget of at least ¥10."),
    "total_budget_fen": N_("Enter a total budget of at least ¥10, or leave it empty."),
    "hours": N_("Choose the hours from the list."),
    "status": N_("Choose a status from the list."),
    "bid_type": N_("Choose a bid type from the list."),
    "bid_fen": N_("Enter a bid between ¥0.01 and ¥1,000."),
    "target_cpa_fen": N_("Enter a target cost per conversion between ¥0.01 and ¥100,000."),
    "target_roi_bp": N_("Enter a target ROI between 0.01 and 100."),
    "placements": N_("Choose 1 to 20 placements."),
    "segments_include": N_("Choose at most 20 segments to include."),
    "segments_exclude": N_("Choose at most 20 segments to exclude."),
    "cities": N_("Enter at most 100 cities of up to 30 characters each."),
    "member_levels": N_("Choose member levels from the list."),
    "search_words": N_("Enter at most 200 search words of up to 20 characters each."),
    "frequency_per_day": N_("The frequency cap is 1 to 50 impressions a day, or empty."),
    "title": N_("Enter a title of 1 to 40 characters."),
    "description": N_("The description has 80 characters at most."),
    "mini_program_id": N_("Choose one of your mini-programs."),
    "page": N_("Enter the landing page as a path, e.g. pages/menu/index."),
    "coupon_activity_id": N_("Choose one of your coupon activities."),
    "amount_fen": N_("Enter an amount between ¥0.01 and ¥100,000."),
    "decision": N_("Choose approve or reject."),
    "note": N_("The note has 200 characters at most."),
    "out_request_no": N_("This form has expired; reload the page and try again."),
}

_SEPARATORS = re.compile(r"[,，、;；\n\r]+")


def _field_of(loc: tuple[Any, ...]) -> str:
    keys = [str(p) for p in loc if isinstance(p, str)]
    if len(keys) > 1 and keys[0] == "targeting":
        return keys[1]
    return keys[0] if keys else ""


def error_text(request: Request, exc: Exception) -> str:
    """What went wrong, in the request's language, naming the placement or search word a
    refusal is about."""
    if isinstance(exc, ValidationError):
        texts: list[str] = []
        for err in exc.errors():
            known = FIELD_ERRORS.get(_field_of(tuple(err.get("loc", ()))))
            text = translate(request, known) if known else None
            if text and text not in texts:
                texts.append(text)
        return " ".join(texts) if texts else problem_text(request, exc)
    if not isinstance(exc, DomainError) or exc.code not in ERRORS:
        return problem_text(request, exc)
    text = translate(request, ERRORS[exc.code])
    placement = BY_KEY.get(str(exc.details.get("placement", "")))
    if placement is not None:
        text += " " + translate(request, placement.name)
        if "reserve_fen" in exc.details:
            text += f" ({fen(int(exc.details['reserve_fen']))})"
    elif "keyword" in exc.details and text.endswith(":"):
        text += f" {exc.details['keyword']}"
    return text


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def go(request: Request, url: str) -> Response:
    """After a form created something: HTMX follows to its page, a plain POST redirects."""
    if is_htmx(request):
        return Response(status_code=200, headers={"HX-Redirect": url})
    return redirect(url)


def status_of(exc: Exception) -> int:
    return exc.status_code if isinstance(exc, DomainError) else 422


def hours_key(hours: str) -> str:
    return next((k for k, (_, bits) in HOURS.items() if bits == hours), KEEP_HOURS)


# --- form fields -> API shapes ------------------------------------------------------------
# A value that does not parse is passed on as typed, so the schema refuses it and the page
# says which field it was.


def text(form: FormData, name: str) -> str:
    return str(form.get(name, "")).strip()


def money(form: FormData, name: str) -> int | str | None:
    raw = text(form, name)
    if not raw:
        return None
    fen_ = parse_yuan(raw)
    return raw if fen_ is None else fen_


def ratio_bp(form: FormData, name: str) -> int | str | None:
    """'2.5' (GMV ÷ spend) -> 25000 basis points."""
    hundredths = money(form, name)
    return hundredths * 100 if isinstance(hundredths, int) else hundredths


def whole(form: FormData, name: str) -> str | None:
    return text(form, name) or None


def many(form: FormData, name: str) -> list[str]:
    return [str(v).strip() for v in form.getlist(name) if str(v).strip()]


def words(form: FormData, name: str) -> list[str]:
    """Cities or search words, one a line or separated by commas."""
    seen: list[str] = []
    for part in _SEPARATORS.split(text(form, name)):
        part = part.strip()
        if part and part not in seen:
            seen.append(part)
    return seen


def search_word(part: str) -> str | dict[str, str]:
    """The notation advertisers know: [word] exact, "word" phrase, a plain word broad."""
    if len(part) > 2 and part[0] == "[" and part[-1] == "]":
        return {"word": part[1:-1].strip(), "match": "exact"}
    if len(part) > 2 and part[0] in '"“' and part[-1] in '"”':
        return {"word": part[1:-1].strip(), "match": "phrase"}
    return part
