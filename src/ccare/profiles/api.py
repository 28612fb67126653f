"""The profiles API: customer events in, customer profiles and RFM out."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any, Literal

from fastapi import Query, Request, Response
from fastapi.exceptions import RequestValidationError

from ccare.profiles import service
from ccare.profiles.queries import RfmSegment
from ccare.profiles.schemas import (
    CustomerEventBatch,
    IngestResult,
    ProfileDetail,
    ProfilePage,
    RfmDistribution,
)
from ccare.web.deps import CurrentStaff, DbSession, IdPath, Limit, Offset, RuntimeDep
from ccare.web.routing import TransactionalRoute, api_router

router = api_router(prefix="/api/v1", tags=["profiles"])

MerchantParam = Annotated[
    int | None,
    Query(gt=0, lt=2**62, description="ISVs and operators: whose customers"),
]


class BatchRoute(TransactionalRoute):
    """Schema errors in a batch are answered like the service's own refusals: code
    `customer_event.invalid`, naming the failing path (`events[3].occurred_at`)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                if any(e.get("type") == "json_invalid" for e in exc.errors()):
                    raise
                raise service.batch_error(exc.errors()) from None

        return handle


def ingest_events(body: CustomerEventBatch, db: DbSession, staff: CurrentStaff) -> IngestResult:
    return service.ingest(db, staff, body)


router.add_api_route(
    "/customer-events",
    ingest_events,
    methods=["POST"],
    response_model=IngestResult,
    summary="Send up to 500 customer events (all or none; idempotent by event_id)",
    description=(
        "Events about your customers (visits, page views, shares, offline purchases…) "
        "for their profiles and segments. Any invalid event refuses the whole batch with "
        "a 422 naming its path, e.g. `events[3].occurred_at`. An event_id you sent before "
        "is reported as a duplicate and not stored again."
    ),
    route_class_override=BatchRoute,
)


@router.get(
    "/customer-profiles",
    response_model=ProfilePage,
    summary="Your customers: visits, orders, GMV, favorites, coupons, RFM",
)
def list_profiles(
    db: DbSession,
    runtime: RuntimeDep,
    staff: CurrentStaff,
    limit: Limit = 50,
    offset: Offset = 0,
    merchant_id: MerchantParam = None,
    rfm_segment: Annotated[RfmSegment | None, Query(description="only this segment")] = None,
    min_orders: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    sort: Annotated[
        Literal["last_seen", "gmv", "orders"], Query(description="largest first")
    ] = "last_seen",
) -> ProfilePage:
    return service.list_profiles(
        db,
        runtime.analytics,
        staff,
        merchant_id=merchant_id,
        segment=rfm_segment.value if rfm_segment else None,
        min_orders=min_orders,
        sort=sort,
        limit=limit,
        offset=offset,
    )


@router.get(
    "/customer-profiles/rfm",
    response_model=RfmDistribution,
    summary="Customers per RFM segment, with the published label table",
)
def rfm(
    db: DbSession, runtime: RuntimeDep, staff: CurrentStaff, merchant_id: MerchantParam = None
) -> RfmDistribution:
    return service.rfm_distribution(db, runtime.analytics, staff, merchant_id=merchant_id)


@router.get(
    "/customer-profiles/{consumer_id}",
    response_model=ProfileDetail,
    summary="One customer's profile and recent events (404 if not your customer)",
)
def get_profile(
    consumer_id: IdPath,
    db: DbSession,
    runtime: RuntimeDep,
    staff: CurrentStaff,
    merchant_id: MerchantParam = None,
    events: Annotated[int, Query(ge=1, le=200, description="timeline length")] = 50,
) -> ProfileDetail:
    return service.get_profile(
        db, runtime.analytics, staff, consumer_id, merchant_id=merchant_id, events=events
    )
