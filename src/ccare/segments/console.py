"""The merchant's segment pages: the list with a rule editor and a live estimate (HTMX),
and a segment's detail with its size history, refresh, export and changes."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import Response
from pydantic import ValidationError

from ccare.core.errors import DomainError
from ccare.segments import service
from ccare.segments.schemas import EstimateRequest, SegmentCreate, SegmentOut, SegmentUpdate
from ccare.web.deps import DbSession, RuntimeDep
from ccare.web.i18n import N_
from ccare.web.pages import MerchantUser, PageId, error_page, redirect
from ccare.web.routing import api_router
from ccare.web.templating import problem_text, render, to_local, translate

router = api_router(tags=["console"])

SEGMENTS = "/console/merchant/segments"
STATUS_LABELS = {
    "pending": N_("Not computed yet"),
    "ready": N_("Up to date"),
    "failed": N_("Last refresh failed"),
}
# Refresh schedules offered by the form, in minutes ("" = on demand only).
SCHEDULES = [
    ("60", N_("Every hour")),
    ("1440", N_("Every day")),
    ("10080", N_("Every week")),
    ("", N_("Only when I refresh it")),
]
EXAMPLE_RULE = {
    "all": [
        {"event": {"type": "order.paid", "count": {"gte": 2}, "within_days": 90}},
        {"not": {"coupon": {"state": "used"}}},
        {"favorited": {"within_days": 30}},
    ]
}


def _rule(text: str) -> Any:
    """The editor's text as JSON; text that is not JSON is passed on to fail validation."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _minutes(text: str) -> int | str | None:
    text = text.strip()
    if not text:
        return None
    return int(text) if text.isdigit() and len(text) < 7 else text


def _problem(request: Request, exc: Exception) -> str:
    """A rule error names its path; the rest in the request's language."""
    if isinstance(exc, DomainError) and exc.code == "segment.invalid_rule":
        return translate(request, N_("The rule is not valid: %(problem)s")) % {
            "problem": exc.message
        }
    if isinstance(exc, ValidationError) and any(e["loc"][:1] == ("rule",) for e in exc.errors()):
        return translate(request, N_("The rule must be a JSON object."))
    return problem_text(request, exc)


def _list_page(
    request: Request,
    db: DbSession,
    staff: MerchantUser,
    *,
    form: dict[str, str] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    segments = [service.segment_out(s) for s in service.list_segments(db, staff.tenant)]
    return render(
        request,
        "segments/merchant_segments.html",
        status_code=status_code,
        segments=segments,
        status_labels=STATUS_LABELS,
        schedules=SCHEDULES,
        can_manage=staff.can_manage(),
        form=form or {"name": "", "rule": json.dumps(EXAMPLE_RULE, indent=2), "every": "1440"},
        error=error,
    )


@router.get(SEGMENTS)
def segments_page(request: Request, db: DbSession, staff: MerchantUser) -> Response:
    return _list_page(request, db, staff)


@router.post(SEGMENTS + "/estimate")
def estimate_fragment(
    request: Request,
    db: DbSession,
    staff: MerchantUser,
    runtime: RuntimeDep,
    rule: Annotated[str, Form()] = "",
) -> Response:
    """The live estimate under the editor (an HTMX fragment; errors are 200s to show)."""
    try:
        out = service.estimate(db, staff, runtime.analytics, EstimateRequest(rule=_rule(rule)))
        return render(request, "segments/estimate.html", size=out.size, ms=out.compute_ms)
    except (DomainError, ValidationError) as exc:
        db.rollback()
        return render(request, "segments/estimate.html", problem=_problem(request, exc))


@router.post(SEGMENTS)
def create_segment(
    request: Request,
    db: DbSession,
    staff: MerchantUser,
    runtime: RuntimeDep,
    out_request_no: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    rule: Annotated[str, Form()] = "",
    every: Annotated[str, Form()] = "",
) -> Response:
    form = {"name": name, "rule": rule, "every": every}
    try:
        data = SegmentCreate.model_validate(
            {
                "out_request_no": out_request_no or None,
                "name": name,
                "rule": _rule(rule),
                "refresh_every_minutes": _minutes(every),
            }
        )
        segment, _created = service.create(db, staff, runtime.analytics, data)
    except (DomainError, ValidationError) as exc:
        db.rollback()
        status = exc.status_code if isinstance(exc, DomainError) else 422
        return _list_page(
            request, db, staff, form=form, error=_problem(request, exc), status_code=status
        )
    return redirect(f"{SEGMENTS}/{segment.id}?saved=1")


def _history_chart(request: Request, db: DbSession, staff: MerchantUser, segment_id: int) -> Any:
    points = service.sizes(db, staff.tenant, segment_id)
    return {
        "labels": [to_local(p.computed_at).strftime("%m-%d %H:%M") for p in points],
        "sizes": [p.size for p in points],
        "rows": points,
    }


def _detail_page(
    request: Request,
    db: DbSession,
    staff: MerchantUser,
    segment: SegmentOut,
    *,
    form: dict[str, str] | None = None,
    error: str | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> Response:
    every = "" if segment.refresh_every_minutes is None else str(segment.refresh_every_minutes)
    return render(
        request,
        "segments/merchant_segment.html",
        status_code=status_code,
        segment=segment,
        status_labels=STATUS_LABELS,
        schedules=SCHEDULES,
        can_manage=staff.can_manage(),
        history=_history_chart(request, db, staff, segment.id),
        members=service.member_page(db, staff.tenant, segment.id, 0, 20),
        form=form
        or {"name": segment.name, "rule": json.dumps(segment.rule, indent=2), "every": every},
        error=error,
        notice=notice,
    )


@router.get(SEGMENTS + "/{segment_id}")
def segment_page(
    request: Request,
    segment_id: PageId,
    db: DbSession,
    staff: MerchantUser,
    saved: str | None = None,
    refreshed: str | None = None,
) -> Response:
    try:
        segment = service.segment_out(service.get(db, staff.tenant, segment_id))
    except DomainError as exc:
        return error_page(request, exc)
    notice = None
    if saved:
        notice = translate(request, N_("Saved."))
    elif refreshed:
        notice = translate(request, N_("Refreshed."))
    return _detail_page(request, db, staff, segment, notice=notice)


@router.post(SEGMENTS + "/{segment_id}")
def update_segment(
    request: Request,
    segment_id: PageId,
    db: DbSession,
    staff: MerchantUser,
    runtime: RuntimeDep,
    name: Annotated[str, Form()] = "",
    rule: Annotated[str, Form()] = "",
    every: Annotated[str, Form()] = "",
) -> Response:
    form = {"name": name, "rule": rule, "every": every}
    try:
        data = SegmentUpdate.model_validate(
            {"name": name, "rule": _rule(rule), "refresh_every_minutes": _minutes(every)}
        )
        service.update(db, staff, runtime.analytics, segment_id, data)
    except (DomainError, ValidationError) as exc:
        db.rollback()
        if isinstance(exc, DomainError) and exc.status_code == 404:
            return error_page(request, exc)
        status = exc.status_code if isinstance(exc, DomainError) else 422
        segment = service.segment_out(service.get(db, staff.tenant, segment_id))
        return _detail_page(
            request,
            db,
            staff,
            segment,
            form=form,
            error=_problem(request, exc),
            status_code=status,
        )
    return redirect(f"{SEGMENTS}/{segment_id}?saved=1")


@router.post(SEGMENTS + "/{segment_id}/refresh")
def refresh_segment(
    request: Request, segment_id: PageId, db: DbSession, staff: MerchantUser, runtime: RuntimeDep
) -> Response:
    try:
        service.refresh(db, staff, runtime.analytics, segment_id)
    except service.RefreshFailed:
        # The error is recorded on the segment (committed with this redirect) and shown.
        return redirect(f"{SEGMENTS}/{segment_id}")
    except DomainError as exc:
        db.rollback()
        return error_page(request, exc)
    return redirect(f"{SEGMENTS}/{segment_id}?refreshed=1")


@router.post(SEGMENTS + "/{segment_id}/delete")
def delete_segment(
    request: Request, segment_id: PageId, db: DbSession, staff: MerchantUser
) -> Response:
    try:
        service.delete(db, staff, segment_id)
    except DomainError as exc:
        db.rollback()
        return error_page(request, exc)
    return redirect(SEGMENTS)


@router.get(SEGMENTS + "/{segment_id}/members.csv")
def export_members(
    request: Request, segment_id: PageId, db: DbSession, staff: MerchantUser
) -> Response:
    try:
        body = service.members_csv(db, staff.tenant, segment_id)
    except DomainError as exc:
        return error_page(request, exc)
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="segment-{segment_id}.csv"'},
    )
