from __future__ import annotations

import threading
from types import SimpleNamespace

import pytest

from ccare.catalog import service
from ccare.catalog.models import ItemStatus, MiniProgramStatus
from ccare.catalog.schemas import ItemUpdate, MiniProgramCreate, MiniProgramUpdate
from ccare.catalog.tasks import count_sales
from ccare.core.db import Database
from ccare.core.errors import Conflict, DomainError, InvalidInput, NotFound
from ccare.core.tenancy import PLATFORM, Tenant
from ccare.merchants import service as merchants
from ccare.merchants.models import MerchantStatus
from tests.factories import FACTORY_OPERATOR, make_item, make_merchant, make_mini_program


@pytest.fixture
def shop(db: Database) -> SimpleNamespace:
    m = make_merchant(db, city="Hangzhou")
    mp = make_mini_program(db, m.merchant_id, name="Breakfast")
    return SimpleNamespace(merchant=m, mp=mp)


def _stock(db: Database, item_id: int) -> int | None:
    with db.transaction() as s:
        return service.get_item(s, PLATFORM, item_id).stock


def test_mini_program_gets_app_id_and_merchant_city(db: Database, shop: SimpleNamespace) -> None:
    with db.transaction() as s:
        mp = service.get_mini_program(s, PLATFORM, shop.mp)
        assert mp.app_id.startswith("2021") and len(mp.app_id) == 16 and mp.app_id.isdigit()
        assert (mp.merchant_id, mp.city, mp.status) == (
            shop.merchant.merchant_id,
            "Hangzhou",
            MiniProgramStatus.ONLINE,
        )
        other = Tenant(frozenset({shop.merchant.merchant_id + 1}))
        with pytest.raises(NotFound) as exc:
            service.get_mini_program(s, other, shop.mp)
        assert exc.value.code == "mini_program.not_found"


def test_operator_must_name_the_merchant(db: Database) -> None:
    with db.transaction() as s, pytest.raises(InvalidInput) as exc:
        service.create_mini_program(s, FACTORY_OPERATOR, MiniProgramCreate(name="X", category="y"))
    assert exc.value.code == "mini_program.merchant_required"


def test_storefront_hides_off_sale_items(db: Database, shop: SimpleNamespace) -> None:
    mid = shop.merchant.merchant_id
    bun = make_item(db, mid, shop.mp, name="Bun", price_fen=250, stock=0)
    soup = make_item(db, mid, shop.mp, name="Soup", price_fen=800)
    tea = make_item(db, mid, shop.mp, name="Tea", price_fen=300)
    with db.transaction() as s:
        service.update_item(s, FACTORY_OPERATOR, tea, ItemUpdate(status=ItemStatus.OFF_SALE))
    with db.transaction() as s:
        front = service.storefront(s, shop.mp)
        assert front.mini_program.name == "Breakfast"
        assert [(i.id, i.name, i.price_fen, i.sold_out) for i in front.items] == [
            (bun, "Bun", 250, True),
            (soup, "Soup", 800, False),
        ]


def test_offline_or_suspended_is_not_public(db: Database, shop: SimpleNamespace) -> None:
    other = make_merchant(db, name="Flowers", city="Shanghai")
    flowers = make_mini_program(db, other.merchant_id, name="Flower shop")
    with db.transaction() as s:
        assert [m.id for m in service.public_mini_programs(s)] == [shop.mp, flowers]
        assert [m.id for m in service.public_mini_programs(s, city="Shanghai")] == [flowers]
        assert [m.id for m in service.public_mini_programs(s, q="flower")] == [flowers]
        service.update_mini_program(
            s, FACTORY_OPERATOR, shop.mp, MiniProgramUpdate(status=MiniProgramStatus.OFFLINE)
        )
        merchants.set_merchant_status(
            s, FACTORY_OPERATOR, other.merchant_id, MerchantStatus.SUSPENDED
        )
    with db.transaction() as s:
        assert service.public_mini_programs(s) == []
        for mp in (shop.mp, flowers):
            with pytest.raises(NotFound) as exc:
                service.storefront(s, mp)
            assert exc.value.code == "mini_program.not_found"


def test_price_lines(db: Database, shop: SimpleNamespace) -> None:
    mid = shop.merchant.merchant_id
    bun = make_item(db, mid, shop.mp, name="Bun", price_fen=250)
    off = make_item(db, mid, shop.mp, name="Off", price_fen=100)
    elsewhere = make_item(db, mid, make_mini_program(db, mid, name="Other"), price_fen=100)
    with db.transaction() as s:
        service.update_item(s, FACTORY_OPERATOR, off, ItemUpdate(status=ItemStatus.OFF_SALE))
        [line] = service.price_lines(s, shop.mp, [(bun, 3)])
        assert (line.item_id, line.merchant_id, line.name) == (bun, mid, "Bun")
        assert (line.unit_price_fen, line.quantity, line.amount_fen) == (250, 3, 750)
        cases = [
            ([(elsewhere, 1)], "catalog.item_not_found"),
            ([(999_999, 1)], "catalog.item_not_found"),
            ([(off, 1)], "catalog.item_off_sale"),
            ([(bun, 0)], "catalog.invalid_quantity"),
            ([(bun, 1000)], "catalog.invalid_quantity"),
        ]
        for lines, code in cases:
            with pytest.raises(DomainError) as exc:
                service.price_lines(s, shop.mp, lines)
            assert exc.value.code == code, lines
        with pytest.raises(NotFound) as nf:
            service.price_lines(s, 999_999, [(bun, 1)])
        assert nf.value.code == "mini_program.not_found"


def test_reserve_is_all_or_nothing(db: Database, shop: SimpleNamespace) -> None:
    mid = shop.merchant.merchant_id
    a = make_item(db, mid, shop.mp, stock=5)
    b = make_item(db, mid, shop.mp, stock=1)
    unlimited = make_item(db, mid, shop.mp, stock=None)
    with db.transaction() as s:
        with pytest.raises(Conflict) as exc:
            service.reserve_stock(s, [(a, 2), (b, 2)])
        assert (exc.value.code, exc.value.details) == ("catalog.out_of_stock", {"item_id": b})
        assert service.get_item(s, PLATFORM, a).stock == 5
        service.reserve_stock(s, [(a, 2), (unlimited, 50)])
        assert service.get_item(s, PLATFORM, a).stock == 3
    assert (_stock(db, a), _stock(db, unlimited)) == (3, None)
    with db.transaction() as s:
        service.release_stock(s, [(a, 2), (unlimited, 50)])
    assert (_stock(db, a), _stock(db, unlimited)) == (5, None)


def test_concurrent_reservations_never_oversell(db: Database, shop: SimpleNamespace) -> None:
    item = make_item(db, shop.merchant.merchant_id, shop.mp, stock=5)
    outcomes: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(20)

    def buy() -> None:
        start.wait()
        try:
            with db.transaction() as s:
                service.reserve_stock(s, [(item, 1)])
            result = "ok"
        except Conflict as exc:
            result = exc.code
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=buy) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes).count("ok") == 5
    assert sorted(outcomes).count("catalog.out_of_stock") == 15
    assert _stock(db, item) == 0


def test_count_sales_subscriber(db: Database, shop: SimpleNamespace) -> None:
    mid = shop.merchant.merchant_id
    a = make_item(db, mid, shop.mp)
    b = make_item(db, mid, shop.mp)
    event = SimpleNamespace(items=[{"item_id": a, "quantity": 2}, {"item_id": b, "quantity": 1}])
    with db.transaction() as s:
        count_sales(s, event)
        count_sales(s, SimpleNamespace(items=[SimpleNamespace(item_id=a, quantity=3)]))
    with db.transaction() as s:
        assert service.get_item(s, PLATFORM, a).sold_count == 5
        assert service.get_item(s, PLATFORM, b).sold_count == 1


def test_update_item_null_stock_means_unlimited(db: Database, shop: SimpleNamespace) -> None:
    item = make_item(db, shop.merchant.merchant_id, shop.mp, stock=3, price_fen=100)
    with db.transaction() as s:
        service.update_item(s, FACTORY_OPERATOR, item, ItemUpdate(price_fen=120))
    assert _stock(db, item) == 3
    with db.transaction() as s:
        updated = service.update_item(s, FACTORY_OPERATOR, item, ItemUpdate(stock=None))
        assert (updated.stock, updated.price_fen) == (None, 120)
