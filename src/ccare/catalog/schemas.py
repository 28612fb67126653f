from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from ccare.catalog.models import MAX_PRICE_FEN, ItemKind, ItemStatus, MiniProgramStatus
from ccare.core.events import DomainEvent, domain_event
from ccare.core.schemas import Output, StrictInput

MAX_STOCK = 10_000_000

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]
ItemName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Category = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]
ItemDescription = Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)]
PriceFen = Annotated[int, Field(gt=0, le=MAX_PRICE_FEN, description="price in fen")]
Stock = Annotated[int, Field(ge=0, le=MAX_STOCK)]


class MiniProgramCreate(StrictInput):
    merchant_id: int | None = Field(
        default=None,
        gt=0,
        lt=2**62,
        description="required for operators and ISVs; staff default to their own merchant",
    )
    name: Name
    description: Description = ""
    category: Category
    status: MiniProgramStatus = MiniProgramStatus.ONLINE


class MiniProgramUpdate(StrictInput):
    name: Name | None = None
    description: Description | None = None
    category: Category | None = None
    status: MiniProgramStatus | None = None


class MiniProgramPublic(Output):
    id: int
    merchant_id: int
    app_id: str
    name: str
    description: str
    category: str
    city: str


class MiniProgramOut(MiniProgramPublic):
    status: MiniProgramStatus
    created_at: datetime


class ItemCreate(StrictInput):
    kind: ItemKind = ItemKind.GOODS
    name: ItemName
    description: ItemDescription = ""
    price_fen: PriceFen
    stock: Stock | None = Field(default=None, description="null = unlimited")
    status: ItemStatus = ItemStatus.ON_SALE


class ItemUpdate(StrictInput):
    name: ItemName | None = None
    description: ItemDescription | None = None
    price_fen: PriceFen | None = None
    stock: Stock | None = Field(default=None, description="null = unlimited")
    status: ItemStatus | None = None


class ItemOut(Output):
    id: int
    merchant_id: int
    mini_program_id: int
    kind: ItemKind
    name: str
    description: str
    price_fen: int
    stock: int | None
    status: ItemStatus
    sold_count: int
    created_at: datetime


class ItemPublic(Output):
    id: int
    kind: ItemKind
    name: str
    description: str
    price_fen: int
    sold_out: bool


class Storefront(BaseModel):
    mini_program: MiniProgramPublic
    items: list[ItemPublic]


@dataclass(frozen=True)
class PricedLine:
    item_id: int
    merchant_id: int
    name: str
    unit_price_fen: int
    quantity: int
    amount_fen: int


@domain_event("storefront.visited")
class StorefrontVisited(DomainEvent):
    """A signed-in consumer opened a storefront: one per consumer and mini-program per
    30 minutes."""

    mini_program_id: int
    channel: str
