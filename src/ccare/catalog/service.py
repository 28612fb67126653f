"""Mini-programs and items; pricing and stock for the orders product.

Stock is only ever changed by conditional UPDATEs in the repository, never by
read-modify-write in Python, so concurrent orders cannot oversell.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from ccare.catalog.models import Item, ItemStatus, MiniProgram, MiniProgramStatus, VisitChannel
from ccare.catalog.repository import CatalogRepository
from ccare.catalog.schemas import (
    ItemCreate,
    ItemPublic,
    ItemUpdate,
    MiniProgramCreate,
    MiniProgramPublic,
    MiniProgramUpdate,
    PricedLine,
    Storefront,
    StorefrontVisited,
)
from ccare.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from ccare.core.outbox import emit
from ccare.core.tenancy import PLATFORM, Principal, PrincipalKind, Tenant
from ccare.core.time import utcnow
from ccare.merchants import service as merchants

MAX_QUANTITY = 999
# A consumer's visits to one storefront are counted once per this window.
VISIT_WINDOW = timedelta(minutes=30)


def _require_manager(actor: Principal) -> None:
    if not actor.can_manage() or actor.kind == PrincipalKind.CONSUMER:
        raise Forbidden("owners and managers only", code="staff.role_forbidden")


def _new_app_id(repo: CatalogRepository) -> str:
    while True:
        app_id = "2021" + "".join(secrets.choice("0123456789") for _ in range(12))
        if not repo.app_id_taken(app_id):
            return app_id


def _owning_merchant(actor: Principal, requested: int | None) -> int:
    if requested is not None:
        return requested
    if actor.merchant_id is not None:
        return actor.merchant_id
    if len(actor.tenant.merchant_ids) == 1:
        return next(iter(actor.tenant.merchant_ids))
    raise InvalidInput("say which merchant", code="mini_program.merchant_required")


# --- mini-programs -----------------------------------------------------------------------


def create_mini_program(db: Session, actor: Principal, data: MiniProgramCreate) -> MiniProgram:
    merchant = merchants.get_merchant(db, actor.tenant, _owning_merchant(actor, data.merchant_id))
    _require_manager(actor)
    repo = CatalogRepository(db, actor.tenant)
    mini_program = MiniProgram(
        merchant_id=merchant.id,
        app_id=_new_app_id(repo),
        name=data.name,
        description=data.description,
        category=data.category,
        city=merchant.city,
        status=data.status,
    )
    repo.add(mini_program)
    return mini_program


def list_mini_programs(
    db: Session, tenant: Tenant, *, merchant_id: int | None = None
) -> list[MiniProgram]:
    return CatalogRepository(db, tenant).mini_programs(merchant_id)


def get_mini_program(db: Session, tenant: Tenant, mini_program_id: int) -> MiniProgram:
    mini_program = CatalogRepository(db, tenant).mini_program(mini_program_id)
    if mini_program is None:
        raise NotFound(
            "no such mini-program", code="mini_program.not_found", mini_program_id=mini_program_id
        )
    return mini_program


def update_mini_program(
    db: Session, actor: Principal, mini_program_id: int, data: MiniProgramUpdate
) -> MiniProgram:
    mini_program = get_mini_program(db, actor.tenant, mini_program_id)
    _require_manager(actor)
    _apply(mini_program, data.model_dump(exclude_unset=True, exclude_none=True))
    db.flush()
    return mini_program


# --- items -------------------------------------------------------------------------------


def create_item(db: Session, actor: Principal, mini_program_id: int, data: ItemCreate) -> Item:
    mini_program = get_mini_program(db, actor.tenant, mini_program_id)
    _require_manager(actor)
    item = Item(
        merchant_id=mini_program.merchant_id, mini_program_id=mini_program.id, **data.model_dump()
    )
    item.sold_count = 0
    CatalogRepository(db, actor.tenant).add(item)
    return item


def list_items(
    db: Session, tenant: Tenant, mini_program_id: int, *, status: ItemStatus | None = None
) -> list[Item]:
    get_mini_program(db, tenant, mini_program_id)
    return CatalogRepository(db, tenant).items(mini_program_id, status)


def get_item(db: Session, tenant: Tenant, item_id: int) -> Item:
    item = CatalogRepository(db, tenant).item(item_id)
    if item is None:
        raise NotFound("no such item", code="catalog.item_not_found", item_id=item_id)
    return item


def update_item(db: Session, actor: Principal, item_id: int, data: ItemUpdate) -> Item:
    item = get_item(db, actor.tenant, item_id)
    _require_manager(actor)
    changes = data.model_dump(exclude_unset=True)
    # An explicit null stock means "unlimited"; other nulls mean "leave as is".
    _apply(item, {k: v for k, v in changes.items() if v is not None or k == "stock"})
    db.flush()
    return item


def _apply(obj: Any, changes: dict[str, Any]) -> None:
    for field, value in changes.items():
        setattr(obj, field, value)


# --- consumer app (no tenancy) -------------------------------------------------------------


def public_mini_programs(
    db: Session, *, city: str | None = None, q: str | None = None, limit: int = 50
) -> list[MiniProgramPublic]:
    rows = CatalogRepository(db, PLATFORM).online_mini_programs(city=city, q=q, limit=limit)
    active = merchants.active_merchant_ids(db, [m.merchant_id for m in rows])
    return [MiniProgramPublic.model_validate(m) for m in rows if m.merchant_id in active]


def _open_mini_program(db: Session, mini_program_id: int) -> MiniProgram:
    """Online and run by an active merchant, or "not found" to the public."""
    mini_program = CatalogRepository(db, PLATFORM).mini_program(mini_program_id)
    if (
        mini_program is None
        or mini_program.status != MiniProgramStatus.ONLINE
        or not merchants.active_merchant_ids(db, [mini_program.merchant_id])
    ):
        raise NotFound(
            "no such mini-program", code="mini_program.not_found", mini_program_id=mini_program_id
        )
    return mini_program


def storefront(db: Session, mini_program_id: int) -> Storefront:
    mini_program = _open_mini_program(db, mini_program_id)
    items = CatalogRepository(db, PLATFORM).items(mini_program.id, ItemStatus.ON_SALE)
    return Storefront(
        mini_program=MiniProgramPublic.model_validate(mini_program),
        items=[
            ItemPublic(
                id=i.id,
                kind=i.kind,
                name=i.name,
                description=i.description,
                price_fen=i.price_fen,
                sold_out=i.stock == 0,
            )
            for i in items
        ],
    )


def open_mini_programs(
    db: Session, mini_program_ids: Iterable[int]
) -> dict[int, MiniProgramPublic]:
    """Those of `mini_program_ids` the public may see now (online, merchant active), by id."""
    rows = CatalogRepository(db, PLATFORM).mini_programs_by_id(sorted(set(mini_program_ids)))
    online = [m for m in rows if m.status == MiniProgramStatus.ONLINE]
    active = merchants.active_merchant_ids(db, [m.merchant_id for m in online])
    return {m.id: MiniProgramPublic.model_validate(m) for m in online if m.merchant_id in active}


def record_visit(
    db: Session,
    consumer_id: int,
    mini_program_id: int,
    channel: VisitChannel = VisitChannel.MINI_PROGRAM,
    *,
    now: datetime | None = None,
) -> bool:
    """A consumer opened a storefront: recorded and announced (`storefront.visited`)
    unless a visit was recorded within `VISIT_WINDOW`; True when recorded."""
    mini_program = _open_mini_program(db, mini_program_id)
    now = now or utcnow()
    repo = CatalogRepository(db, PLATFORM)
    if not repo.record_visit(consumer_id, mini_program, now, now - VISIT_WINDOW):
        return False
    emit(
        db,
        StorefrontVisited(
            merchant_id=mini_program.merchant_id,
            consumer_id=consumer_id,
            mini_program_id=mini_program.id,
            channel=channel.value,
            occurred_at=now,
        ),
    )
    return True


# --- orders ------------------------------------------------------------------------------


def price_lines(
    db: Session, mini_program_id: int, lines: Sequence[tuple[int, int]]
) -> list[PricedLine]:
    """Price an order's (item_id, quantity) lines at today's prices."""
    mini_program = _open_mini_program(db, mini_program_id)
    if not lines:
        raise InvalidInput("an order needs at least one line", code="catalog.invalid_quantity")
    items = CatalogRepository(db, PLATFORM).items_by_id(sorted({i for i, _ in lines}))
    priced = []
    for item_id, quantity in lines:
        item = items.get(item_id)
        if item is None or item.mini_program_id != mini_program.id:
            raise NotFound(
                "no such item in this mini-program", code="catalog.item_not_found", item_id=item_id
            )
        if item.status != ItemStatus.ON_SALE:
            raise Conflict(
                "this item is not on sale", code="catalog.item_off_sale", item_id=item_id
            )
        if not 1 <= quantity <= MAX_QUANTITY:
            raise InvalidInput(
                f"quantity must be 1-{MAX_QUANTITY}",
                code="catalog.invalid_quantity",
                item_id=item_id,
                quantity=quantity,
            )
        priced.append(
            PricedLine(
                item_id=item.id,
                merchant_id=item.merchant_id,
                name=item.name,
                unit_price_fen=item.price_fen,
                quantity=quantity,
                amount_fen=item.price_fen * quantity,
            )
        )
    return priced


def reserve_stock(db: Session, lines: Iterable[tuple[int, int]]) -> None:
    """Take stock for every line or for none (Conflict `catalog.out_of_stock`)."""
    repo = CatalogRepository(db, PLATFORM)
    taken: list[tuple[int, int]] = []
    # A fixed order of row locks keeps two multi-item orders from deadlocking on PostgreSQL.
    for item_id, quantity in sorted(lines):
        if quantity < 1:
            raise InvalidInput("quantity must be positive", code="catalog.invalid_quantity")
        if not repo.take_stock(item_id, quantity):
            for done_id, done_qty in taken:
                repo.put_back_stock(done_id, done_qty)
            raise Conflict("out of stock", code="catalog.out_of_stock", item_id=item_id)
        taken.append((item_id, quantity))


def release_stock(db: Session, lines: Iterable[tuple[int, int]]) -> None:
    repo = CatalogRepository(db, PLATFORM)
    for item_id, quantity in sorted(lines):
        if quantity > 0:
            repo.put_back_stock(item_id, quantity)


def record_sales(db: Session, lines: Iterable[tuple[int, int]]) -> None:
    repo = CatalogRepository(db, PLATFORM)
    for item_id, quantity in sorted(lines):
        repo.add_sales(item_id, quantity)
