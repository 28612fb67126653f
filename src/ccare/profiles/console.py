"""The merchant's customer pages: the customer list with its RFM distribution, and one
customer's profile with a timeline of recent events."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Query, Request
from fastapi.responses import Response

from ccare.core.errors import DomainError
from ccare.profiles import queries, service
from ccare.profiles.queries import RfmSegment
from ccare.web.deps import DbSession, runtime_of
from ccare.web.i18n import N_
from ccare.web.pages import MerchantUser, PageId, error_page
from ccare.web.routing import api_router
from ccare.web.templating import render, translate

router = api_router(tags=["console"])

CUSTOMERS = "/console/merchant/customers"
PAGE_SIZE = 50
TIMELINE_LENGTH = 50
SORT_LABELS = {
    "last_seen": N_("Last seen"),
    "gmv": N_("GMV"),
    "orders": N_("Orders"),
}
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
    "offline": N_("Offline"),
    "ad": N_("Ad"),
    "other": N_("Other"),
}
EVENT_LABELS = {
    "order.paid": N_("Paid an order"),
    "order.refunded": N_("Refund"),
    "storefront.visited": N_("Visited the storefront"),
    "favorite.added": N_("Favorited a mini-program"),
    "favorite.removed": N_("Removed a favorite"),
    "coupon.claimed": N_("Claimed a coupon"),
    "coupon.used": N_("Used a coupon"),
    "coupon.released": N_("Coupon released"),
    "coupon.expired": N_("Coupon expired"),
    "customer.event": N_("Event from your system"),
}
SEGMENT_COLORS = {
    "champions": "#00a870",
    "loyal": "#1677ff",
    "new": "#36cfc9",
    "potential": "#9254de",
    "at_risk": "#f5860f",
    "hibernating": "#a0a7b4",
    "lost": "#e34d59",
    "prospects": "#d9dde3",
}


def _segments(request: Request) -> list[dict[str, Any]]:
    return [
        {
            "value": row.label.value,
            "title": translate(request, row.title),
            "advice": translate(request, row.advice),
            "r": row.r,
            "f": row.f,
            "m": row.m,
        }
        for row in queries.RFM_LABELS
    ]


def _texts(request: Request) -> dict[str, Any]:
    return {
        "segment_titles": {
            row.label.value: translate(request, row.title) for row in queries.RFM_LABELS
        },
        "channel_labels": {k: translate(request, v) for k, v in CHANNEL_LABELS.items()},
        "event_labels": {k: translate(request, v) for k, v in EVENT_LABELS.items()},
    }


def _page_links(filters: dict[str, Any], offset: int, total: int) -> dict[str, str | None]:
    def url(at: int) -> str:
        query = {k: v for k, v in {**filters, "offset": at}.items() if v not in (None, "", 0)}
        return f"{CUSTOMERS}?{urlencode(query)}" if query else CUSTOMERS

    return {
        "page_prev": url(max(offset - PAGE_SIZE, 0)) if offset > 0 else None,
        "page_next": url(offset + PAGE_SIZE) if offset + PAGE_SIZE < total else None,
    }


@router.get(CUSTOMERS)
def customers(
    request: Request,
    db: DbSession,
    staff: MerchantUser,
    segment: Annotated[RfmSegment | None, Query()] = None,
    min_orders: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    sort: Annotated[str, Query(pattern="^(last_seen|gmv|orders)$")] = "last_seen",
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Response:
    analytics = runtime_of(request).analytics
    page = service.list_profiles(
        db,
        analytics,
        staff,
        segment=segment.value if segment else None,
        min_orders=min_orders,
        sort=sort,
        limit=PAGE_SIZE,
        offset=offset,
    )
    distribution = service.rfm_distribution(db, analytics, staff)
    texts = _texts(request)
    chart = {
        "labels": [texts["segment_titles"][b.segment] for b in distribution.segments],
        "counts": [b.customers for b in distribution.segments],
        "colors": [SEGMENT_COLORS[b.segment] for b in distribution.segments],
    }
    filters = {
        "segment": segment.value if segment else "",
        "min_orders": min_orders,
        "sort": sort if sort != "last_seen" else "",
    }
    links = _page_links(filters, offset, page.total)
    return render(
        request,
        "profiles/customers.html",
        page=page,
        distribution=distribution,
        chart=chart,
        segments=_segments(request),
        sorts=[(k, translate(request, v)) for k, v in SORT_LABELS.items()],
        segment=filters["segment"],
        min_orders=min_orders,
        sort=sort,
        **texts,
        page_prev=links["page_prev"],
        page_next=links["page_next"],
    )


@router.get(CUSTOMERS + "/{consumer_id}")
def customer(request: Request, db: DbSession, staff: MerchantUser, consumer_id: PageId) -> Response:
    try:
        detail = service.get_profile(
            db, runtime_of(request).analytics, staff, consumer_id, events=TIMELINE_LENGTH
        )
    except DomainError as exc:
        return error_page(request, exc)
    texts = _texts(request)
    segment = next(s for s in _segments(request) if s["value"] == detail.profile.rfm_segment)
    return render(
        request,
        "profiles/customer.html",
        detail=detail,
        profile=detail.profile,
        segment=segment,
        segment_color=SEGMENT_COLORS[segment["value"]],
        **texts,
    )
