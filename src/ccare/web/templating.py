"""Jinja2 environment shared by every console.py: loaders, i18n, filters, `render()`.

Templates live in `ccare/web/templates/` (layouts, shared partials) and in each product's
`ccare/<product>/templates/<product>/`. Texts use `{{ _("...") }}` or `{% trans %}`; the
translations are picked per render from the request's locale.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal
from fastapi.responses import HTMLResponse
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, pass_context, select_autoescape
from jinja2.runtime import Context
from starlette.requests import Request

from ccare.core.errors import DomainError
from ccare.web import i18n
from ccare.web.i18n import N_

WEB_DIR = Path(__file__).resolve().parent
PACKAGE_DIR = WEB_DIR.parent
# Times are stored in UTC and shown in the platform's home time zone (no DST).
DISPLAY_TZ = ZoneInfo("Asia/Shanghai")


def template_dirs() -> list[Path]:
    """The shared templates first, then every product's `templates/` folder."""
    dirs = [WEB_DIR / "templates"]
    dirs += sorted(p for p in PACKAGE_DIR.glob("*/templates") if p.is_dir() and p.parent != WEB_DIR)
    return dirs


# Human texts for error codes a page may show; anything else falls back to the message.
ERROR_MESSAGES: dict[str, str] = {
    "auth.invalid_credentials": N_("Wrong email or password."),
    "auth.unknown_consumer": N_("This account does not exist."),
    "auth.operator_only": N_("Only platform operators may do this."),
    "staff.role_forbidden": N_("Your role does not allow this; ask an owner or a manager."),
    "staff.email_taken": N_("This email is already used by another account."),
    "staff.last_owner": N_("A merchant keeps at least one active owner."),
    "wallet.insufficient_funds": N_("Your wallet balance is not enough to pay this order."),
    "ledger.invalid_amount": N_("Enter an amount between ¥0.01 and ¥100,000."),
    "order.not_payable": N_("This order can no longer be paid."),
    "order.expired": N_("This order has expired; please order again."),
    "order.not_closable": N_("Only orders awaiting payment can be closed."),
    "order.not_refundable": N_("This order cannot be refunded."),
    "order.refund_exceeds_paid": N_("The refund is larger than the amount left to refund."),
    "refund.request_no_reused": N_("This refund request number was used for another amount."),
    "catalog.out_of_stock": N_("Not enough stock for one of the items."),
    "catalog.item_off_sale": N_("One of the items is no longer on sale."),
    "catalog.invalid_quantity": N_("Choose at least one item (at most 999 of each)."),
    "idempotency.key_reused": N_("This form was already submitted with different values."),
    "idempotency.key_missing": N_("This form has expired; reload the page and try again."),
    "idempotency.key_invalid": N_("This form has expired; reload the page and try again."),
    "conflict.concurrent_request": N_("Another request was processed at the same time; retry."),
    "not_found": N_("Not found."),
    "invalid_request": N_("Please check the values you entered."),
}

# Enum values shown to people: statuses, levels, roles, industries, account kinds.
LABELS: dict[str, str] = {
    # orders
    "created": N_("Awaiting payment"),
    "paid": N_("Paid"),
    "partially_refunded": N_("Partially refunded"),
    "refunded": N_("Refunded"),
    "closed": N_("Closed"),
    # merchants, stores, ISVs, grants
    "pending": N_("Pending review"),
    "active": N_("Active"),
    "suspended": N_("Suspended"),
    "open": N_("Open"),
    "revoked": N_("Revoked"),
    # catalog
    "online": N_("Online"),
    "offline": N_("Offline"),
    "on_sale": N_("On sale"),
    "off_sale": N_("Off sale"),
    "goods": N_("Goods"),
    "service": N_("Service"),
    # consumers
    "public": N_("Public member"),
    "gold": N_("Gold member"),
    "platinum": N_("Platinum member"),
    "diamond": N_("Diamond member"),
    # staff roles
    "owner": N_("Owner"),
    "manager": N_("Manager"),
    "clerk": N_("Clerk"),
    # industries
    "catering": N_("Catering"),
    "retail": N_("Retail"),
    "supermarket": N_("Supermarket"),
    "home_furnishing": N_("Home furnishing"),
    "jewelry": N_("Jewelry"),
    "fitness": N_("Fitness"),
    "home_services": N_("Home services"),
    "other": N_("Other"),
    # ledger accounts and entries
    "consumer_wallet": N_("Consumer wallets"),
    "merchant_settlement": N_("Merchant settlement"),
    "platform_revenue": N_("Platform revenue"),
    "platform_funding": N_("Platform funding (top-ups)"),
    "advertiser": N_("Advertiser accounts"),
    "advertiser_top_up": N_("Advertising prepayment"),
    "ad_charge": N_("Ad charge"),
    "top_up": N_("Top-up"),
    "payment": N_("Payment"),
    "refund": N_("Refund"),
}


def _value(obj: Any) -> Any:
    return getattr(obj, "value", obj)


@pass_context
def _gettext(ctx: Context, message: str) -> str:
    return i18n.gettext(ctx.get("locale") or i18n.DEFAULT_LOCALE, message)


@pass_context
def _ngettext(ctx: Context, singular: str, plural: str, n: int) -> str:
    return i18n.ngettext(ctx.get("locale") or i18n.DEFAULT_LOCALE, singular, plural, n)


def fen(amount: int | None, *, sign: bool = False) -> str:
    """Integer fen -> '¥1,234.56' (negative: '-¥12.30')."""
    if amount is None:
        return "—"
    amount = int(amount)
    prefix = "-" if amount < 0 else ("+" if sign and amount > 0 else "")
    yuan, cents = divmod(abs(amount), 100)
    return f"{prefix}¥{yuan:,}.{cents:02d}"


def yuan_input(amount: int | None) -> str:
    """Fen -> '12.34' for a form field."""
    if amount is None:
        return ""
    yuan, cents = divmod(abs(int(amount)), 100)
    return f"{'-' if amount < 0 else ''}{yuan}.{cents:02d}"


def parse_yuan(text: str | None) -> int | None:
    """'12.3' / '12' / '¥1,234.56' -> fen; None when not a valid non-negative amount."""
    if text is None:
        return None
    cleaned = text.strip().replace("¥", "").replace(",", "").replace("￥", "")
    if not cleaned:
        return None
    whole, _, frac = cleaned.partition(".")
    if not whole:
        whole = "0"
    if not whole.isdigit() or (frac and not frac.isdigit()) or len(frac) > 2 or len(whole) > 12:
        return None
    return int(whole) * 100 + int((frac + "00")[:2])


def to_local(value: datetime) -> datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(DISPLAY_TZ)


@pass_context
def _datetime(ctx: Context, value: datetime | None, fmt: str = "yyyy-MM-dd HH:mm") -> str:
    if value is None:
        return "—"
    locale = ctx.get("locale") or i18n.DEFAULT_LOCALE
    # A no-break space keeps date and time on one line in narrow table cells.
    return format_datetime(to_local(value), fmt, locale=locale).replace(" ", "\u00a0")


@pass_context
def _date(ctx: Context, value: date | datetime | None, fmt: str = "medium") -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        value = to_local(value).date()
    return format_date(value, fmt, locale=ctx.get("locale") or i18n.DEFAULT_LOCALE)


@pass_context
def _number(ctx: Context, value: int | float | None) -> str:
    if value is None:
        return "—"
    return format_decimal(value, locale=ctx.get("locale") or i18n.DEFAULT_LOCALE)


@pass_context
def _label(ctx: Context, value: Any) -> str:
    raw = str(_value(value))
    label = LABELS.get(raw)
    return i18n.gettext(ctx.get("locale") or i18n.DEFAULT_LOCALE, label) if label else raw


FIELD_LABELS: dict[str, str] = {
    "name": N_("Name"),
    "description": N_("Description"),
    "category": N_("Category"),
    "price_fen": N_("Price"),
    "stock": N_("Stock"),
    "status": N_("Status"),
    "amount_fen": N_("Amount"),
    "city": N_("City"),
    "address": N_("Address"),
    "email": N_("Email"),
    "password": N_("Password"),
    "role": N_("Role"),
    "quantity": N_("Quantity"),
    "lines": N_("Items"),
    "reason": N_("Reason"),
}


def error_text(locale: str, exc: DomainError) -> str:
    known = ERROR_MESSAGES.get(exc.code)
    if known is None and exc.code.endswith("not_found"):
        known = ERROR_MESSAGES["not_found"]
    return i18n.gettext(locale, known) if known else exc.message


def problem_text(request: Request, exc: Exception) -> str:
    """What went wrong with a submitted form, in the request's language."""
    from pydantic import ValidationError

    locale = i18n.request_locale(request)
    if isinstance(exc, DomainError):
        return error_text(locale, exc)
    message = i18n.gettext(locale, ERROR_MESSAGES["invalid_request"])
    if isinstance(exc, ValidationError):
        fields = []
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ()) if isinstance(p, str)]
            label = FIELD_LABELS.get(loc[0]) if loc else None
            text = i18n.gettext(locale, label) if label else (loc[0] if loc else "")
            if text and text not in fields:
                fields.append(text)
        if fields:
            message = f"{message} ({', '.join(fields)})"
    return message


def new_key() -> str:
    """A fresh idempotency key for a form that moves money or creates something."""
    return uuid.uuid4().hex


def _build_environment() -> Environment:
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(str(d)) for d in template_dirs()]),
        autoescape=select_autoescape(["html", "xml"], default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(_gettext, _ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.filters.update(
        fen=fen,
        yuan=yuan_input,
        datetime=_datetime,
        date=_date,
        number=_number,
        label=_label,
        value=_value,
    )
    env.globals.update(
        new_key=new_key,
        locales=i18n.LOCALES,
        locale_names=i18n.LOCALE_NAMES,
    )
    return env


env = _build_environment()
i18n.load_all()


def render(
    request: Request,
    template: str,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **ctx: Any,
) -> HTMLResponse:
    """Render `template` in the request's locale as the page's HTML response."""
    locale = i18n.request_locale(request)
    context = {
        "request": request,
        "locale": locale,
        "html_lang": locale.replace("_", "-"),
        "principal": getattr(request.state, "principal", None),
        "current_path": request.url.path,
        "is_htmx": request.headers.get("hx-request") == "true",
        **ctx,
    }
    html = env.get_template(template).render(context)
    return HTMLResponse(html, status_code=status_code, headers=headers)


def translate(request: Request, message: str) -> str:
    """gettext in the request's locale, for texts built in Python (flash messages)."""
    return i18n.gettext(i18n.request_locale(request), message)
