"""The sandbox world (docs/adr/0008): a second database with the same schema.

A developer signed in to the live consoles is, in the sandbox, the owner of a twin
merchant (and, for an ISV, the staff of a twin ISV) provisioned on first use with a
mini-program, goods, a store and buyers holding test money. Nothing here ever touches
the live database: the live principal only names which twin to use.
"""

from __future__ import annotations

import secrets

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ccare.core.errors import Forbidden, InvalidInput
from ccare.core.tenancy import PLATFORM, SYSTEM, Principal, PrincipalKind, StaffRole, Tenant
from ccare.openplatform.models import AppMode, OwnerKind, SandboxAccount
from ccare.openplatform.repository import OpenPlatformRepository
from ccare.openplatform.schemas import AuthCodeOut, AuthorizeApp, SandboxAccountOut, SandboxBuyer
from ccare.openplatform.service import _owner, authorize_app, world_of

BUYERS = 3
TEST_MONEY_FEN = 1_000_000  # 10,000 yuan per buyer
GOODS = (("Sandbox latte", 1_800), ("Sandbox bagel", 1_200), ("Sandbox gift card", 10_000))


def require_sandbox(db: Session) -> None:
    if world_of(db) != AppMode.SANDBOX:
        raise InvalidInput("this exists only in the sandbox (/sandbox/...)", code="sandbox.only")


def account(db: Session, live: Principal) -> SandboxAccount:
    """The twin of the live developer account, provisioned on first use."""
    require_sandbox(db)
    owner_kind, owner_id = _owner(live)
    repo = OpenPlatformRepository(db)
    existing = repo.sandbox_account(owner_kind, owner_id)
    if existing is not None:
        return existing
    try:
        # Two first requests at once: the unique owner decides, the loser reads the winner's.
        with db.begin_nested():
            return _provision(db, owner_kind, owner_id, live.name)
    except IntegrityError:
        found = repo.sandbox_account(owner_kind, owner_id)
        assert found is not None
        return found


def _provision(db: Session, owner_kind: OwnerKind, owner_id: int, name: str) -> SandboxAccount:
    from ccare.catalog import service as catalog
    from ccare.catalog.schemas import ItemCreate, MiniProgramCreate
    from ccare.consumers import service as consumers
    from ccare.consumers.schemas import ConsumerCreate
    from ccare.isvs import service as isvs
    from ccare.isvs.schemas import IsvCreate
    from ccare.ledger import service as ledger
    from ccare.merchants import service as merchants
    from ccare.merchants.models import Industry
    from ccare.merchants.schemas import MerchantCreate, StoreCreate

    tag = f"{owner_kind.value}-{owner_id}"
    label = f"Sandbox · {name}"[:100]
    merchant = merchants.create_merchant(
        db,
        SYSTEM,
        MerchantCreate(
            name=label,
            industry=Industry.CATERING,
            city="Hangzhou",
            owner_name="Sandbox owner",
            owner_email=f"owner-{tag}@sandbox.ccare.test",
            owner_password=secrets.token_urlsafe(18),
        ),
    )
    owner_staff = merchants.list_staff(db, PLATFORM, merchant.id)[0]
    merchants.create_store(
        db,
        SYSTEM,
        merchant.id,
        StoreCreate(name="Sandbox store", city="Hangzhou", address="1 Test Road"),
    )
    mini_program = catalog.create_mini_program(
        db, SYSTEM, MiniProgramCreate(merchant_id=merchant.id, name="Sandbox shop", category="food")
    )
    for item_name, price in GOODS:
        catalog.create_item(
            db, SYSTEM, mini_program.id, ItemCreate(name=item_name, price_fen=price)
        )
    buyer_ids = []
    for n in range(BUYERS):
        kind_digit = "1" if owner_kind == OwnerKind.ISV else "0"
        buyer = consumers.create_consumer(
            db,
            SYSTEM,
            ConsumerCreate(
                name=f"Sandbox buyer {n + 1}",
                phone=f"19{n}{kind_digit}{owner_id:07d}",
                city="Hangzhou",
            ),
        )
        ledger.top_up(db, buyer.id, TEST_MONEY_FEN, f"sandbox:{tag}:{buyer.id}")
        buyer_ids.append(buyer.id)
    isv_id = isv_staff_id = None
    if owner_kind == OwnerKind.ISV:
        isv = isvs.create_isv(
            db,
            SYSTEM,
            IsvCreate(
                name=label,
                contact_email=f"isv-{tag}@sandbox.ccare.test",
                staff_name="Sandbox developer",
                staff_email=f"isv-{tag}@sandbox.ccare.test",
                staff_password=secrets.token_urlsafe(18),
            ),
        )
        isv_id, isv_staff_id = isv.id, isvs.list_isv_staff(db, isv.id)[0].id
    account = SandboxAccount(
        owner_kind=owner_kind,
        owner_id=owner_id,
        merchant_id=merchant.id,
        owner_staff_id=owner_staff.id,
        mini_program_id=mini_program.id,
        isv_id=isv_id,
        isv_staff_id=isv_staff_id,
        buyer_ids=buyer_ids,
    )
    OpenPlatformRepository(db).add(account)
    return account


def twin_principal(db: Session, live: Principal) -> Principal:
    """Who a live developer is in the sandbox: its twin merchant's owner, or twin ISV."""
    if live.kind not in (PrincipalKind.MERCHANT_STAFF, PrincipalKind.ISV_STAFF):
        raise Forbidden(
            "the sandbox is for merchants' and ISVs' developers", code="sandbox.developer_only"
        )
    twin = account(db, live)
    if live.kind == PrincipalKind.ISV_STAFF and twin.isv_id is not None:
        from ccare.isvs import service as isvs

        return Principal(
            kind=PrincipalKind.ISV_STAFF,
            id=twin.isv_staff_id or 0,
            name=live.name,
            isv_id=twin.isv_id,
            tenant=Tenant(isvs.granted_merchant_ids(db, twin.isv_id)),
        )
    return Principal(
        kind=PrincipalKind.MERCHANT_STAFF,
        id=twin.owner_staff_id,
        name=live.name,
        merchant_id=twin.merchant_id,
        role=StaffRole.OWNER,
        tenant=Tenant(frozenset({twin.merchant_id})),
    )


def _twin_owner(twin: SandboxAccount) -> Principal:
    return Principal(
        kind=PrincipalKind.MERCHANT_STAFF,
        id=twin.owner_staff_id,
        name="Sandbox owner",
        merchant_id=twin.merchant_id,
        role=StaffRole.OWNER,
        tenant=Tenant(frozenset({twin.merchant_id})),
    )


def _twin_of(db: Session, actor: Principal) -> SandboxAccount:
    require_sandbox(db)
    repo = OpenPlatformRepository(db)
    twin = None
    if actor.kind == PrincipalKind.ISV_STAFF and actor.isv_id is not None:
        twin = repo.sandbox_account_of(isv_id=actor.isv_id)
    elif actor.kind == PrincipalKind.MERCHANT_STAFF and actor.merchant_id is not None:
        twin = repo.sandbox_account_of(merchant_id=actor.merchant_id)
    if twin is None:
        raise Forbidden("no sandbox account for this caller", code="sandbox.developer_only")
    return twin


def describe(db: Session, actor: Principal) -> SandboxAccountOut:
    from ccare.ledger import service as ledger

    twin = _twin_of(db, actor)
    return SandboxAccountOut(
        merchant_id=twin.merchant_id,
        mini_program_id=twin.mini_program_id,
        isv_id=twin.isv_id,
        buyers=[
            SandboxBuyer(
                consumer_id=buyer,
                buyer_id=f"20880{buyer:011d}",
                balance_fen=ledger.wallet_balance(db, buyer),
            )
            for buyer in twin.buyer_ids
        ],
    )


def authorize_own_app(db: Session, actor: Principal, data: AuthorizeApp) -> AuthCodeOut:
    """An ISV developer's twin merchant authorises the ISV's sandbox app, in one call."""
    twin = _twin_of(db, actor)
    if twin.isv_id is None:
        raise Forbidden("only ISV developers authorise apps this way", code="sandbox.isv_only")
    return authorize_app(db, _twin_owner(twin), data)
