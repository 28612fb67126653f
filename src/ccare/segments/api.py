"""The segments API: rule schema, estimate, save, change, refresh, members."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Response

from ccare.segments import service
from ccare.segments.schemas import (
    EstimateOut,
    EstimateRequest,
    SegmentCreate,
    SegmentOut,
    SegmentUpdate,
    SizePoint,
)
from ccare.web.deps import CurrentStaff, CurrentTenant, DbSession, IdPath, RuntimeDep
from ccare.web.routing import api_router

router = api_router(prefix="/api/v1", tags=["segments"])
SEGMENT = "/segments/{segment_id}"


@router.get(
    "/segments/schema",
    response_model=dict[str, Any],
    summary="The JSON Schema of segment rules",
)
def rule_schema(staff: CurrentStaff) -> dict[str, Any]:
    return service.rule_schema()


@router.post(
    "/segments/estimate",
    response_model=EstimateOut,
    summary="How many customers a rule selects now, without saving it",
)
def estimate(
    body: EstimateRequest, db: DbSession, staff: CurrentStaff, runtime: RuntimeDep
) -> EstimateOut:
    return service.estimate(db, staff, runtime.analytics, body)


@router.post(
    "/segments",
    response_model=SegmentOut,
    status_code=201,
    summary="Save a segment and compute its members (the same out_request_no, or name,"
    " with the same content returns the same segment)",
)
def create(
    body: SegmentCreate,
    db: DbSession,
    staff: CurrentStaff,
    runtime: RuntimeDep,
    response: Response,
) -> SegmentOut:
    segment, created = service.create(db, staff, runtime.analytics, body)
    if not created:
        response.status_code = 200
    return service.segment_out(segment)


@router.get("/segments", response_model=list[SegmentOut], summary="Your segments")
def list_segments(
    db: DbSession,
    tenant: CurrentTenant,
    merchant_id: Annotated[int | None, Query(gt=0, lt=2**62)] = None,
) -> list[SegmentOut]:
    return [service.segment_out(s) for s in service.list_segments(db, tenant, merchant_id)]


@router.get(SEGMENT, response_model=SegmentOut, summary="One segment: size, last computed, error")
def get_segment(segment_id: IdPath, db: DbSession, tenant: CurrentTenant) -> SegmentOut:
    return service.segment_out(service.get(db, tenant, segment_id))


@router.patch(
    SEGMENT,
    response_model=SegmentOut,
    summary="Rename, change the rule (recomputed at once) or the refresh schedule",
)
def update(
    segment_id: IdPath,
    body: SegmentUpdate,
    db: DbSession,
    staff: CurrentStaff,
    runtime: RuntimeDep,
) -> SegmentOut:
    return service.segment_out(service.update(db, staff, runtime.analytics, segment_id, body))


@router.delete(SEGMENT, status_code=204, summary="Delete a segment and its members")
def delete(segment_id: IdPath, db: DbSession, staff: CurrentStaff) -> Response:
    service.delete(db, staff, segment_id)
    return Response(status_code=204)


@router.post(
    SEGMENT + "/refresh",
    response_model=SegmentOut,
    summary="Recompute the members now (on failure: 503, the error is kept on the segment"
    " and the previous members stay)",
)
def refresh(
    segment_id: IdPath, db: DbSession, staff: CurrentStaff, runtime: RuntimeDep
) -> SegmentOut:
    return service.segment_out(service.refresh(db, staff, runtime.analytics, segment_id))


@router.get(
    SEGMENT + "/sizes", response_model=list[SizePoint], summary="The size history, oldest first"
)
def sizes(segment_id: IdPath, db: DbSession, tenant: CurrentTenant) -> list[SizePoint]:
    return [SizePoint.model_validate(s) for s in service.sizes(db, tenant, segment_id)]


@router.get(
    SEGMENT + "/members",
    response_model=list[int],
    summary="Member consumer ids in ascending order, a page at a time",
)
def members(
    segment_id: IdPath,
    db: DbSession,
    tenant: CurrentTenant,
    after: Annotated[int, Query(ge=0, lt=2**62, description="ids above this one")] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[int]:
    return service.member_page(db, tenant, segment_id, after, limit)


@router.get(
    SEGMENT + "/members.csv",
    response_class=Response,
    summary="Export the members as CSV (one consumer_id per line)",
    responses={200: {"content": {"text/csv": {}}}},
)
def members_csv(segment_id: IdPath, db: DbSession, tenant: CurrentTenant) -> Response:
    body = service.members_csv(db, tenant, segment_id)
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="segment-{segment_id}.csv"'},
    )
