from dataclasses import dataclass

import pytest

from ccare.core.db import Database
from ccare.core.tenancy import Principal, PrincipalKind, Tenant
from tests.factories import MerchantRef, make_consumer, make_item, make_merchant, make_mini_program


@dataclass(frozen=True)
class Shop:
    merchant: MerchantRef
    mini_program_id: int
    item_id: int  # 1000 fen, unlimited stock
    scarce_item_id: int  # 250 fen, 3 in stock
    consumer_id: int

    @property
    def consumer(self) -> Principal:
        return as_consumer(self.consumer_id)


def as_consumer(consumer_id: int) -> Principal:
    return Principal(kind=PrincipalKind.CONSUMER, id=consumer_id, tenant=Tenant())


def staff(db: Database, staff_id: int) -> Principal:
    from ccare.merchants.service import staff_principal

    with db.transaction() as s:
        principal = staff_principal(s, staff_id)
    assert principal is not None
    return principal


def open_shop(db: Database, name: str = "Breakfast") -> Shop:
    merchant = make_merchant(db, name=name)
    mini_program = make_mini_program(db, merchant.merchant_id)
    return Shop(
        merchant=merchant,
        mini_program_id=mini_program,
        item_id=make_item(db, merchant.merchant_id, mini_program, name="Soy milk"),
        scarce_item_id=make_item(
            db, merchant.merchant_id, mini_program, name="Fried dough", price_fen=250, stock=3
        ),
        consumer_id=make_consumer(db),
    )


@pytest.fixture
def shop(db: Database) -> Shop:
    return open_shop(db)
