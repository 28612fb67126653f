"""The merchant's C-CARE page: four sections with headline numbers and their change against
the previous period, charts (Chart.js, with <noscript> tables) and a 7/30/90-day switch."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from babel.numbers import format_decimal, format_percent
from fastapi import Query, Request
from fastapi.responses import Response

from ccare.core.errors import DomainError
from ccare.dashboard import queries, service
from ccare.dashboard.queries import UNKNOWN_CHANNEL
from ccare.dashboard.schemas import (
    DEFAULT_DAYS,
    CcareDashboard,
    CountMetric,
    FenMetric,
    RateMetric,
)
from ccare.web.deps import DbSession, runtime_of
from ccare.web.i18n import N_, request_locale
from ccare.web.pages import MerchantUser, error_page
from ccare.web.routing import api_router
from ccare.web.templating import fen, render, translate

router = api_router(tags=["console"])

PAGE = "/console/merchant/ccare"
PERIODS = (7, 30, 90)
CHANNEL_LABELS = {
    "payment_success": N_("After payment"),
    "search_passphrase": N_("Search passphrase"),
    "coupon_venue": N_("Coupon venue"),
    "fan_group": N_("Fan group"),
    "favorites_gift": N_("Favorites gift"),
    "message": N_("Message"),
    "ad_creative": N_("Ad"),
    "offline_qr": N_("Offline QR code"),
    "api": N_("Merchant system"),
    "search": N_("Search"),
    "mini_program": N_("Mini-program"),
    "life_account": N_("Life account"),
    "live_room": N_("Live room"),
    "live": N_("Live room"),
    "offline": N_("Offline store"),
    "ad": N_("Ad"),
    "app_home": N_("App home page"),
    "favorites": N_("Favorites"),
    "storefront": N_("Storefront"),
    "other": N_("Other"),
    UNKNOWN_CHANNEL: N_("Channel not recorded"),
}
CHANNEL_COLORS = (
    "#1677ff",
    "#00a870",
    "#f5860f",
    "#9254de",
    "#36cfc9",
    "#e34d59",
    "#faad14",
    "#2f54eb",
    "#eb2f96",
    "#52c41a",
)
OTHER_COLOR = "#a0a7b4"


@dataclass(frozen=True)
class Kpi:
    """One headline number as shown: its text, and its change against the previous period
    (`trend` up / down / flat, or none when there is nothing to compare)."""

    key: str
    label: str
    value: str
    delta: str
    trend: str
    hint: str = ""
    lower_is_better: bool = False


class _Format:
    """Numbers in the request's locale."""

    def __init__(self, locale: str) -> None:
        self.locale = locale

    def count(self, value: int | float) -> str:
        return str(format_decimal(value, format="#,##0.##", locale=self.locale))

    def percent(self, value: float) -> str:
        return str(format_percent(value, format="#,##0.0%", locale=self.locale))

    def signed(self, text: str, negative: bool, positive: bool) -> str:
        return f"-{text}" if negative else (f"+{text}" if positive else text)

    def change_ratio(self, value: float | None) -> str:
        if value is None:
            return ""
        return f" ({self.signed(self.percent(abs(value)), value < 0, value > 0)})"


def _trend(change: float | None) -> str:
    if change is None:
        return "none"
    return "up" if change > 0 else ("down" if change < 0 else "flat")


def _count_kpi(
    f: _Format, key: str, label: str, m: CountMetric, *, money: bool = False, **kw: Any
) -> Kpi:
    def show(value: int) -> str:
        return fen(abs(value)) if money else f.count(abs(value))

    value = fen(m.current) if money else f.count(m.current)
    delta = f.signed(show(m.change), m.change < 0, m.change > 0) + f.change_ratio(m.change_ratio)
    return Kpi(key, label, value, delta, _trend(m.change), **kw)


def _fen_kpi(f: _Format, key: str, label: str, m: FenMetric, **kw: Any) -> Kpi:
    delta = "" if m.change is None else f.signed(fen(abs(m.change)), m.change < 0, m.change > 0)
    return Kpi(key, label, fen(m.current), delta, _trend(m.change), **kw)


def _rate_kpi(
    f: _Format, key: str, label: str, m: RateMetric, *, percent: bool, points: str, **kw: Any
) -> Kpi:
    if m.current is None:
        value = "—"
    else:
        value = f.percent(m.current) if percent else f.count(round(m.current, 2))
    if m.change is None:
        delta = ""
    elif percent:
        pts = f.count(round(abs(m.change) * 100, 1))
        delta = f.signed(f"{pts} {points}", m.change < 0, m.change > 0)
    else:
        delta = f.signed(f.count(round(abs(m.change), 2)), m.change < 0, m.change > 0)
    return Kpi(key, label, value, delta, _trend(m.change), **kw)


def _kpis(request: Request, d: CcareDashboard) -> dict[str, list[Kpi]]:
    t = lambda message: translate(request, message)  # noqa: E731
    f = _Format(request_locale(request))
    points = t(N_("pts"))
    a, w, e = d.active, d.worth, d.efficiency
    return {
        "scale": [
            _count_kpi(
                f,
                "new-customers",
                t(N_("New customers")),
                d.scale.new_customers,
                hint=t(N_("First event with you in the period")),
            ),
        ],
        "active": [
            _rate_kpi(
                f,
                "average-dau",
                t(N_("Daily active customers (average)")),
                a.average_dau,
                percent=False,
                points=points,
            ),
            _count_kpi(
                f,
                "wau",
                t(N_("Weekly active customers")),
                a.wau,
                hint=t(N_("The last 7 days")),
            ),
            _rate_kpi(
                f,
                "repeat-visit-rate",
                t(N_("Repeat-visit rate")),
                a.repeat_visit_rate,
                percent=True,
                points=points,
                hint=t(N_("Active customers who came back on another day")),
            ),
            _count_kpi(
                f,
                "favorites-net",
                t(N_("Net new favorites")),
                a.favorites_net,
                hint=translate(request, N_("%(added)s added, %(removed)s removed"))
                % {
                    "added": f.count(a.favorites_added.current),
                    "removed": f.count(a.favorites_removed.current),
                },
            ),
            _count_kpi(
                f,
                "favoriters",
                t(N_("Customers who favorited you")),
                a.favoriters,
                hint=t(N_("At the end of the period")),
            ),
        ],
        "worth": [
            _count_kpi(
                f,
                "gmv",
                t(N_("GMV")),
                w.gmv_fen,
                money=True,
                hint=translate(request, N_("%(paid)s paid, %(refunded)s refunded"))
                % {"paid": fen(w.paid_fen.current), "refunded": fen(w.refunded_fen.current)},
            ),
            _count_kpi(f, "paid-orders", t(N_("Paid orders")), w.paid_orders),
            _fen_kpi(
                f,
                "average-order-value",
                t(N_("Average order value")),
                w.average_order_value_fen,
                hint=t(N_("Paid amount per order, before refunds")),
            ),
            _count_kpi(f, "buyers", t(N_("Buyers")), w.buyers),
            _rate_kpi(
                f,
                "repurchase-rate",
                t(N_("Repurchase rate")),
                w.repurchase_rate,
                percent=True,
                points=points,
                hint=t(N_("Buyers with two or more paid orders")),
            ),
        ],
        "efficiency": [
            _count_kpi(
                f,
                "spend",
                t(N_("Marketing spend")),
                e.spend_fen,
                money=True,
                hint=t(N_("Coupon discounts redeemed and other marketing costs")),
                lower_is_better=True,
            ),
            _fen_kpi(
                f,
                "cost-per-new-customer",
                t(N_("Cost per new customer")),
                e.cost_per_new_customer_fen,
                lower_is_better=True,
            ),
            _rate_kpi(
                f,
                "gmv-per-spend",
                t(N_("GMV per ¥1 of spend")),
                e.gmv_per_spend_fen,
                percent=False,
                points=points,
            ),
        ],
    }


def _label(day: date) -> str:
    return day.strftime("%m-%d")


def _charts(d: CcareDashboard, channel_labels: dict[str, str]) -> dict[str, Any]:
    labels = [_label(x.day) for x in d.scale.daily]
    channels = [c.channel for c in d.scale.by_channel if c.current > 0]
    scale = {
        "labels": labels,
        "datasets": [
            {
                "label": channel_labels.get(c, c),
                "data": [x.by_channel.get(c, 0) for x in d.scale.daily],
                "color": CHANNEL_COLORS[i] if i < len(CHANNEL_COLORS) else OTHER_COLOR,
            }
            for i, c in enumerate(channels)
        ],
    }
    active = {
        "labels": [_label(x.day) for x in d.active.daily],
        "dau": [x.dau for x in d.active.daily],
        "wau": [x.wau for x in d.active.daily],
    }
    gmv = {
        "labels": [_label(x.day) for x in d.worth.daily],
        "gmv": [x.gmv_fen / 100 for x in d.worth.daily],
    }
    return {"scale": scale, "active": active, "gmv": gmv}


@router.get(PAGE)
def ccare_page(
    request: Request,
    db: DbSession,
    staff: MerchantUser,
    days: Annotated[int, Query()] = DEFAULT_DAYS,
) -> Response:
    try:
        data = service.ccare(db, runtime_of(request).analytics, staff, days=days)
    except DomainError as exc:
        return error_page(request, exc)
    channel_labels = {k: translate(request, v) for k, v in CHANNEL_LABELS.items()}
    return render(
        request,
        "dashboard/ccare.html",
        d=data,
        days=days,
        periods=PERIODS,
        kpis=_kpis(request, data),
        charts=_charts(data, channel_labels),
        channel_labels=channel_labels,
        spend_labels={s.key: translate(request, s.label) for s in queries.SPEND_SOURCES},
    )
