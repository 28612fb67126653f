from typing import Annotated

from fastapi import Query

from ccare.catalog import service
from ccare.catalog.models import ItemStatus
from ccare.catalog.schemas import (
    ItemCreate,
    ItemOut,
    ItemUpdate,
    MiniProgramCreate,
    MiniProgramOut,
    MiniProgramPublic,
    MiniProgramUpdate,
    Storefront,
)
from ccare.web.deps import CurrentStaff, CurrentTenant, DbSession, IdPath, Limit
from ccare.web.routing import api_router

NO_NUL = r"^[^\x00]+$"

router = api_router(prefix="/api/v1", tags=["catalog"])


@router.get("/mini-programs", response_model=list[MiniProgramOut], summary="Your mini-programs")
def list_mini_programs(
    db: DbSession,
    tenant: CurrentTenant,
    merchant_id: Annotated[int | None, Query(gt=0, lt=2**62)] = None,
) -> list[MiniProgramOut]:
    rows = service.list_mini_programs(db, tenant, merchant_id=merchant_id)
    return [MiniProgramOut.model_validate(m) for m in rows]


@router.post(
    "/mini-programs",
    response_model=MiniProgramOut,
    status_code=201,
    summary="Create a mini-program (staff default to their own merchant)",
)
def create_mini_program(
    body: MiniProgramCreate, db: DbSession, staff: CurrentStaff
) -> MiniProgramOut:
    return MiniProgramOut.model_validate(service.create_mini_program(db, staff, body))


@router.get(
    "/mini-programs/{mini_program_id}", response_model=MiniProgramOut, summary="One mini-program"
)
def get_mini_program(
    mini_program_id: IdPath, db: DbSession, tenant: CurrentTenant
) -> MiniProgramOut:
    return MiniProgramOut.model_validate(service.get_mini_program(db, tenant, mini_program_id))


@router.patch(
    "/mini-programs/{mini_program_id}",
    response_model=MiniProgramOut,
    summary="Rename, recategorise or take a mini-program on/offline",
)
def update_mini_program(
    mini_program_id: IdPath, body: MiniProgramUpdate, db: DbSession, staff: CurrentStaff
) -> MiniProgramOut:
    mini_program = service.update_mini_program(db, staff, mini_program_id, body)
    return MiniProgramOut.model_validate(mini_program)


@router.get(
    "/mini-programs/{mini_program_id}/items",
    response_model=list[ItemOut],
    summary="A mini-program's catalog, on sale or not",
)
def list_items(
    mini_program_id: IdPath,
    db: DbSession,
    tenant: CurrentTenant,
    status: ItemStatus | None = None,
) -> list[ItemOut]:
    rows = service.list_items(db, tenant, mini_program_id, status=status)
    return [ItemOut.model_validate(i) for i in rows]


@router.post(
    "/mini-programs/{mini_program_id}/items",
    response_model=ItemOut,
    status_code=201,
    summary="Add goods or a service to a mini-program",
)
def create_item(
    mini_program_id: IdPath, body: ItemCreate, db: DbSession, staff: CurrentStaff
) -> ItemOut:
    return ItemOut.model_validate(service.create_item(db, staff, mini_program_id, body))


@router.get("/items/{item_id}", response_model=ItemOut, summary="One item")
def get_item(item_id: IdPath, db: DbSession, tenant: CurrentTenant) -> ItemOut:
    return ItemOut.model_validate(service.get_item(db, tenant, item_id))


@router.patch(
    "/items/{item_id}",
    response_model=ItemOut,
    summary="Change an item's price, stock (null = unlimited), name or sale status",
)
def update_item(item_id: IdPath, body: ItemUpdate, db: DbSession, staff: CurrentStaff) -> ItemOut:
    return ItemOut.model_validate(service.update_item(db, staff, item_id, body))


@router.get(
    "/public/mini-programs",
    response_model=list[MiniProgramPublic],
    summary="Directory of online mini-programs (no sign-in)",
)
def public_mini_programs(
    db: DbSession,
    city: Annotated[str | None, Query(min_length=1, max_length=50, pattern=NO_NUL)] = None,
    q: Annotated[str | None, Query(min_length=1, max_length=60, pattern=NO_NUL)] = None,
    limit: Limit = 50,
) -> list[MiniProgramPublic]:
    return service.public_mini_programs(db, city=city, q=q, limit=limit)


@router.get(
    "/public/mini-programs/{mini_program_id}",
    response_model=Storefront,
    summary="A mini-program's storefront: its items on sale (no sign-in)",
)
def storefront(mini_program_id: IdPath, db: DbSession) -> Storefront:
    return service.storefront(db, mini_program_id)
