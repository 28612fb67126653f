"""The 繁星 points API: the published rule table, a merchant's balance and ledger, and
redeeming points as free impressions for an ad group."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Response

from ccare.star_points import service
from ccare.star_points.schemas import BalanceOut, EntryOut, GrantOut, RedemptionCreate, RuleTable
from ccare.web.deps import CurrentStaff, CurrentTenant, DbSession, IdPath, Limit, Offset
from ccare.web.routing import api_router

router = api_router(prefix="/api/v1", tags=["star_points"])
MerchantQuery = Annotated[int | None, Query(gt=0, lt=2**62, description="omitted: your merchant")]


@router.get(
    "/star-points/rules",
    response_model=RuleTable,
    summary="The rule table: what earns how many points (1 point = 1 free impression),"
    " the daily caps, and the visitor-to-impressions rate",
)
def rule_table(staff: CurrentStaff) -> RuleTable:
    return service.rule_table()


@router.get("/star-points/balance", response_model=BalanceOut, summary="Your points")
def balance(db: DbSession, staff: CurrentStaff, merchant_id: MerchantQuery = None) -> BalanceOut:
    return service.balance(db, staff, merchant_id)


@router.get(
    "/star-points/entries",
    response_model=list[EntryOut],
    summary="Your points ledger, newest first: earnings by rule and redemptions",
)
def entries(
    db: DbSession,
    staff: CurrentStaff,
    merchant_id: MerchantQuery = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> list[EntryOut]:
    rows = service.entries(db, staff, merchant_id, limit=limit, offset=offset)
    return [service.entry_out(e) for e in rows]


@router.post(
    "/star-points/redemptions",
    response_model=GrantOut,
    status_code=201,
    summary="Redeem points as free impressions for one of your ad groups (the same"
    " out_request_no with the same content returns the same grant)",
)
def redeem(
    body: RedemptionCreate, db: DbSession, staff: CurrentStaff, response: Response
) -> GrantOut:
    grant, created = service.redeem(db, staff, body)
    if not created:
        response.status_code = 200
    return service.grant_out(grant)


@router.get(
    "/star-points/grants",
    response_model=list[GrantOut],
    summary="Your free-impression grants, newest first, with what is used",
)
def grants(db: DbSession, staff: CurrentStaff, merchant_id: MerchantQuery = None) -> list[GrantOut]:
    return [service.grant_out(g) for g in service.list_grants(db, staff, merchant_id)]


@router.get(
    "/star-point-grants/{grant_id}",
    response_model=GrantOut,
    summary="One grant and its progress",
)
def get_grant(grant_id: IdPath, db: DbSession, tenant: CurrentTenant) -> GrantOut:
    return service.grant_out(service.get_grant(db, tenant, grant_id))
