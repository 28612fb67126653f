"""Words and helpers every coupon page shares: the labels of this product's values, the
new-activity form's field names, the errors a page explains in people's words, and
rendering with those labels."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response
from pydantic import ValidationError

from ccare.core.errors import DomainError
from ccare.web.i18n import N_
from ccare.web.templating import problem_text, render, translate

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
    "special_fen": N_("Special price (¥)"),
    "items_include": N_("Goods"),
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
KIND_NEEDS = N_(
    "A fixed coupon needs an amount; a discount needs a pay rate and a ceiling; a special "
    "price needs the most it takes off and its goods; an exchange needs the value it "
    "covers and its goods."
)
WINDOW_ORDER = N_("The claim window must end after it starts.")


def problem(request: Request, exc: Exception) -> str:
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


def page(request: Request, template: str, **ctx: Any) -> Response:
    return render(request, template, labels=LABELS, **ctx)
