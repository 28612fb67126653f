from ccare.isvs import service
from ccare.isvs.schemas import GrantCreate, GrantOut, IsvCreate, IsvOut
from ccare.web.deps import CurrentOperator, CurrentStaff, DbSession, IdPath
from ccare.web.routing import api_router

router = api_router(prefix="/api/v1", tags=["isvs"])


@router.post(
    "/isvs",
    response_model=IsvOut,
    status_code=201,
    summary="Register an ISV with its first staff account (operator)",
)
def create_isv(body: IsvCreate, db: DbSession, operator: CurrentOperator) -> IsvOut:
    return IsvOut.model_validate(service.create_isv(db, operator, body))


@router.get(
    "/isvs",
    response_model=list[IsvOut],
    summary="ISVs: all (operator), yourself (ISV), active ones to grant (merchant)",
)
def list_isvs(db: DbSession, staff: CurrentStaff) -> list[IsvOut]:
    return [IsvOut.model_validate(i) for i in service.list_isvs(db, staff)]


@router.get("/isvs/{isv_id}", response_model=IsvOut, summary="One ISV")
def get_isv(isv_id: IdPath, db: DbSession, staff: CurrentStaff) -> IsvOut:
    return IsvOut.model_validate(service.get_isv(db, staff, isv_id))


@router.get(
    "/isv-grants",
    response_model=list[GrantOut],
    summary="Grants: your merchant's, your ISV's, or all (operator)",
)
def list_grants(db: DbSession, staff: CurrentStaff) -> list[GrantOut]:
    return [GrantOut.model_validate(g) for g in service.list_grants(db, staff)]


@router.post(
    "/isv-grants",
    response_model=GrantOut,
    status_code=201,
    summary="Let an ISV act for your merchant with these scopes (owner/manager)",
)
def grant(body: GrantCreate, db: DbSession, staff: CurrentStaff) -> GrantOut:
    return GrantOut.model_validate(service.grant_isv(db, staff, body.isv_id, body.scopes))


@router.post(
    "/isv-grants/{grant_id}/revoke",
    response_model=GrantOut,
    summary="End a grant: the ISV loses access at once",
)
def revoke(grant_id: IdPath, db: DbSession, staff: CurrentStaff) -> GrantOut:
    return GrantOut.model_validate(service.revoke_grant(db, staff, grant_id))
