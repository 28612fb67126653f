from ccare.merchants import service
from ccare.merchants.models import Industry, MerchantStatus
from ccare.merchants.schemas import (
    MerchantCreate,
    MerchantOut,
    MerchantStatusUpdate,
    StaffCreate,
    StaffOut,
    StaffUpdate,
    StoreCreate,
    StoreOut,
    StoreUpdate,
)
from ccare.web.deps import (
    CurrentOperator,
    CurrentStaff,
    CurrentTenant,
    DbSession,
    IdPath,
    Limit,
    Offset,
)
from ccare.web.routing import api_router

router = api_router(prefix="/api/v1", tags=["merchants"])


@router.post(
    "/merchants",
    response_model=MerchantOut,
    status_code=201,
    summary="Onboard a merchant with its first owner (operator)",
)
def create_merchant(body: MerchantCreate, db: DbSession, operator: CurrentOperator) -> MerchantOut:
    return MerchantOut.model_validate(service.create_merchant(db, operator, body))


@router.get("/merchants", response_model=list[MerchantOut], summary="Merchants you may act on")
def list_merchants(
    db: DbSession,
    tenant: CurrentTenant,
    status: MerchantStatus | None = None,
    industry: Industry | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> list[MerchantOut]:
    rows = service.list_merchants(
        db, tenant, status=status, industry=industry, limit=limit, offset=offset
    )
    return [MerchantOut.model_validate(m) for m in rows]


@router.get("/merchants/{merchant_id}", response_model=MerchantOut, summary="One merchant")
def get_merchant(merchant_id: IdPath, db: DbSession, tenant: CurrentTenant) -> MerchantOut:
    return MerchantOut.model_validate(service.get_merchant(db, tenant, merchant_id))


@router.patch(
    "/merchants/{merchant_id}",
    response_model=MerchantOut,
    summary="Approve, suspend or reinstate a merchant (operator)",
)
def set_status(
    merchant_id: IdPath, body: MerchantStatusUpdate, db: DbSession, operator: CurrentOperator
) -> MerchantOut:
    merchant = service.set_merchant_status(db, operator, merchant_id, body.status)
    return MerchantOut.model_validate(merchant)


@router.get(
    "/merchants/{merchant_id}/stores",
    response_model=list[StoreOut],
    summary="A merchant's stores",
)
def list_stores(merchant_id: IdPath, db: DbSession, tenant: CurrentTenant) -> list[StoreOut]:
    return [StoreOut.model_validate(s) for s in service.list_stores(db, tenant, merchant_id)]


@router.post(
    "/merchants/{merchant_id}/stores",
    response_model=StoreOut,
    status_code=201,
    summary="Open a store (owner, manager, operator or granted ISV)",
)
def create_store(
    merchant_id: IdPath, body: StoreCreate, db: DbSession, staff: CurrentStaff
) -> StoreOut:
    return StoreOut.model_validate(service.create_store(db, staff, merchant_id, body))


@router.get("/stores/{store_id}", response_model=StoreOut, summary="One store")
def get_store(store_id: IdPath, db: DbSession, tenant: CurrentTenant) -> StoreOut:
    return StoreOut.model_validate(service.get_store(db, tenant, store_id))


@router.patch(
    "/stores/{store_id}",
    response_model=StoreOut,
    summary="Change a store's details or open/close it",
)
def update_store(
    store_id: IdPath, body: StoreUpdate, db: DbSession, staff: CurrentStaff
) -> StoreOut:
    return StoreOut.model_validate(service.update_store(db, staff, store_id, body))


@router.get(
    "/merchants/{merchant_id}/staff",
    response_model=list[StaffOut],
    summary="A merchant's console staff",
)
def list_staff(merchant_id: IdPath, db: DbSession, tenant: CurrentTenant) -> list[StaffOut]:
    return [StaffOut.model_validate(s) for s in service.list_staff(db, tenant, merchant_id)]


@router.post(
    "/merchants/{merchant_id}/staff",
    response_model=StaffOut,
    status_code=201,
    summary="Add a staff member (owners may add owners)",
)
def create_staff(
    merchant_id: IdPath, body: StaffCreate, db: DbSession, staff: CurrentStaff
) -> StaffOut:
    return StaffOut.model_validate(service.create_staff(db, staff, merchant_id, body))


@router.patch(
    "/staff/{staff_id}",
    response_model=StaffOut,
    summary="Change a staff member's role, name or deactivate them",
)
def update_staff(
    staff_id: IdPath, body: StaffUpdate, db: DbSession, staff: CurrentStaff
) -> StaffOut:
    return StaffOut.model_validate(service.update_staff(db, staff, staff_id, body))
