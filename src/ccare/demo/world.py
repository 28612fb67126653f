"""Seed the demo world through the products' services, idempotently.

Each step looks its records up by natural key before creating them, so `ccare seed` (and
`ccare demo`) can run any number of times and leaves the same rows. Nothing here writes
SQL: every record is made by the service an operator, a merchant or a consumer would use.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from ccare.core.errors import Conflict
from ccare.core.tenancy import PLATFORM, Principal, PrincipalKind, StaffRole
from ccare.core.time import utcnow
from ccare.demo import data
from ccare.demo.data import ConsumerSpec, MerchantSpec

HISTORY_DAYS = 14

# Seeding acts as the platform, as `ccare create` does.
SEED_OPERATOR = Principal(kind=PrincipalKind.OPERATOR, id=0, name="demo seed", tenant=PLATFORM)

Progress = Callable[[str], None]


@dataclass
class MerchantRecord:
    slug: str
    merchant_id: int
    owner_staff_id: int
    mini_program_id: int
    store_ids: dict[str, int]  # city -> first store there
    items: list[tuple[int, int]]  # (item_id, price_fen)


@dataclass
class Summary:
    operator_id: int = 0
    merchants: dict[str, MerchantRecord] = field(default_factory=dict)
    isv_id: int = 0
    consumer_ids: dict[str, int] = field(default_factory=dict)  # phone -> id
    created: dict[str, int] = field(default_factory=dict)  # what this run added
    events_relayed: int = 0
    app_id: str = ""
    # The plugin app's private key and app auth tokens, written on the run that made them.
    app_key_path: str = ""

    def count(self, what: str, n: int = 1) -> None:
        self.created[what] = self.created.get(what, 0) + n


def step_count() -> int:
    """How many times `seed` calls `progress` (for a progress bar)."""
    from ccare.demo import ads, assets

    return 1 + len(data.MERCHANTS) + 1 + data.CONSUMER_COUNT * 2 + 1 + assets.STEPS + ads.STEPS + 1


def credentials() -> list[tuple[str, str, str, str]]:
    """(console, who, email, password) of every demo sign-in."""
    rows = [("operator", "平台运营 platform operator", data.OPERATOR_EMAIL, data.PASSWORD)]
    for spec in data.MERCHANTS:
        short = spec.name.split(" ")[0]
        rows.append(("merchant", f"{short} owner", spec.owner_email, data.PASSWORD))
        for role, _name in spec.staff:
            rows.append(("merchant", f"{short} {role}", spec.staff_email(role), data.PASSWORD))
    rows.append(("isv", f"{data.ISV.name.split(' ')[0]} ISV staff", data.ISV.email, data.PASSWORD))
    return rows


def seed(runtime: Any, progress: Progress | None = None) -> Summary:
    """Create whatever of the demo world is missing; relay its events to analytics."""
    from ccare.core.worker import InProcessTransport, RedisStreamTransport, Transport, drain
    from ccare.demo import ads, assets

    tick = progress or (lambda _label: None)
    db = runtime.db
    summary = Summary()

    with db.transaction() as session:
        summary.operator_id = _operator(session, summary)
    tick("operator")
    for spec in data.MERCHANTS:
        with db.transaction() as session:
            summary.merchants[spec.slug] = _merchant(session, spec, summary)
        tick(spec.slug)
    with db.transaction() as session:
        summary.isv_id = _isv(session, summary)
        _plugin_app(session, summary, Path(runtime.settings.data_dir) / "demo-keys")
    tick("isv and grants")
    for person in data.consumers():
        with db.transaction() as session:
            summary.consumer_ids[person.phone] = _consumer(session, person, summary)
        tick(f"consumer {person.phone}")
    for person in data.consumers():
        for order_no in range(data.ORDERS_PER_CONSUMER):
            with db.transaction() as session:
                _order(session, person, order_no, summary)
        tick(f"orders of {person.phone}")
    with db.transaction() as session:
        _coupons(session, summary)
    tick("coupons")
    assets.seed(db, summary, tick)
    ads.seed(db, runtime.analytics, runtime.settings.secret_key, summary, tick)

    transport: Transport = (
        RedisStreamTransport(runtime.settings.broker_url)
        if runtime.settings.broker_url
        else InProcessTransport(db, runtime.analytics)
    )
    summary.events_relayed = drain(db, transport)
    tick("events relayed")
    # Segments are computed on the analytics store, which has this run's events once the
    # in-process transport has delivered them. A broker's are the worker's to deliver,
    # so with a broker the segments wait for a run that finds nothing left to relay.
    delivered = isinstance(transport, InProcessTransport) or summary.events_relayed == 0
    assets.seed_segments(db, runtime.analytics if delivered else None, summary, tick)
    summary.events_relayed += drain(db, transport)
    return summary


def describe(summary: Summary) -> str:
    made = ", ".join(
        f"{n} {what[:-1] if n == 1 and what.endswith('s') else what}"
        for what, n in sorted(summary.created.items())
    )
    return (
        f"demo world: {len(summary.merchants)} merchants, 1 ISV, "
        f"{len(summary.consumer_ids)} consumers; this run added {made or 'nothing'}; "
        f"{summary.events_relayed} events relayed"
    )


# --------------------------------------------------------------------------- steps


def _operator(session: Session, summary: Summary) -> int:
    from ccare.identity.schemas import OperatorCreate
    from ccare.identity.service import ensure_operator, find_operator

    existed = find_operator(session, data.OPERATOR_EMAIL) is not None
    operator = ensure_operator(
        session,
        OperatorCreate(email=data.OPERATOR_EMAIL, name=data.OPERATOR_NAME, password=data.PASSWORD),
    )
    if not existed:
        summary.count("operators")
    return operator.id


def _all(fetch: Callable[[int, int], list[Any]], page: int = 200) -> Iterator[Any]:
    offset = 0
    while True:
        rows = fetch(page, offset)
        yield from rows
        if len(rows) < page:
            return
        offset += page


def _merchant(session: Session, spec: MerchantSpec, summary: Summary) -> MerchantRecord:
    from ccare.catalog import service as catalog
    from ccare.catalog.schemas import ItemCreate, MiniProgramCreate
    from ccare.merchants import service as merchants
    from ccare.merchants.schemas import MerchantCreate, StaffCreate, StoreCreate

    merchant = next(
        (
            m
            for m in _all(
                lambda limit, offset: merchants.list_merchants(
                    session, PLATFORM, limit=limit, offset=offset
                )
            )
            if m.slug == spec.slug
        ),
        None,
    )
    if merchant is None:
        merchant = merchants.create_merchant(
            session,
            SEED_OPERATOR,
            MerchantCreate.model_validate(
                {
                    "name": spec.name,
                    "slug": spec.slug,
                    "industry": spec.industry,
                    "city": spec.city,
                    "owner_name": spec.owner_name,
                    "owner_email": spec.owner_email,
                    "owner_password": data.PASSWORD,
                }
            ),
        )
        summary.count("merchants")
    staff = {s.email: s for s in merchants.list_staff(session, PLATFORM, merchant.id)}
    owner = staff.get(spec.owner_email)
    if owner is None:
        raise Conflict(
            f"merchant {spec.slug!r} exists without its demo owner {spec.owner_email}",
            code="demo.owner_missing",
        )
    for role, name in spec.staff:
        email = spec.staff_email(role)
        if email not in staff:
            merchants.create_staff(
                session,
                SEED_OPERATOR,
                merchant.id,
                StaffCreate(name=name, email=email, password=data.PASSWORD, role=StaffRole(role)),
            )
            summary.count("staff")

    stores = {s.name: s for s in merchants.list_stores(session, PLATFORM, merchant.id)}
    for store in spec.stores:
        if store.name not in stores:
            stores[store.name] = merchants.create_store(
                session,
                SEED_OPERATOR,
                merchant.id,
                StoreCreate(name=store.name, city=store.city, address=store.address),
            )
            summary.count("stores")
    store_ids: dict[str, int] = {}
    for store in spec.stores:
        store_ids.setdefault(store.city, stores[store.name].id)

    mini_program = next(
        (
            mp
            for mp in catalog.list_mini_programs(session, PLATFORM, merchant_id=merchant.id)
            if mp.name == spec.mini_program
        ),
        None,
    )
    if mini_program is None:
        mini_program = catalog.create_mini_program(
            session,
            SEED_OPERATOR,
            MiniProgramCreate(
                merchant_id=merchant.id,
                name=spec.mini_program,
                category=spec.category,
                description=spec.story,
            ),
        )
        summary.count("mini-programs")
    items = {i.name: i for i in catalog.list_items(session, PLATFORM, mini_program.id)}
    for item in spec.items:
        if item.name not in items:
            items[item.name] = catalog.create_item(
                session,
                SEED_OPERATOR,
                mini_program.id,
                ItemCreate.model_validate(
                    {
                        "name": item.name,
                        "kind": item.kind,
                        "price_fen": item.price_fen,
                        "description": item.description,
                        "stock": item.stock,
                    }
                ),
            )
            summary.count("items")
    return MerchantRecord(
        slug=spec.slug,
        merchant_id=merchant.id,
        owner_staff_id=owner.id,
        mini_program_id=mini_program.id,
        store_ids=store_ids,
        items=[(items[i.name].id, i.price_fen) for i in spec.items],
    )


def _owner(session: Session, record: MerchantRecord) -> Principal:
    from ccare.merchants import service as merchants

    principal = merchants.staff_principal(session, record.owner_staff_id)
    if principal is None:
        raise Conflict(f"the demo owner of {record.slug!r} is inactive", code="demo.owner_inactive")
    return principal


def _isv(session: Session, summary: Summary) -> int:
    from ccare.isvs import service as isvs
    from ccare.isvs.schemas import IsvCreate

    spec = data.ISV
    credentials = isvs.find_staff_credentials(session, spec.email)
    if credentials is None:
        isv_id = isvs.create_isv(
            session,
            SEED_OPERATOR,
            IsvCreate(
                name=spec.name,
                contact_email=spec.email,
                staff_name=spec.staff_name,
                staff_email=spec.email,
                staff_password=data.PASSWORD,
            ),
        ).id
        summary.count("ISVs")
    else:
        isv_id = credentials.isv_id
    for slug in spec.operates:
        owner = _owner(session, summary.merchants[slug])
        granted = any(
            g.isv_id == isv_id and g.status == "active" and sorted(g.scopes) == sorted(spec.scopes)
            for g in isvs.list_grants(session, owner)
        )
        if not granted:
            isvs.grant_isv(session, owner, isv_id, list(spec.scopes))
            summary.count("ISV grants")
    return isv_id


def _plugin_app(session: Session, summary: Summary, key_dir: Path) -> None:
    """The ISV's plugin app, authorised by each merchant it operates, with a fresh key.

    Its private key and tokens go to `key_dir` so a developer can sign calls at once
    (the console's API explorer, or `ccare.client`).
    """
    from ccare.core.signing import (
        SignAlgorithm,
        export_private_key,
        export_public_key,
        generate_private_key,
    )
    from ccare.isvs import service as isvs
    from ccare.openplatform import service as platform
    from ccare.openplatform.schemas import AppCreate, AuthorizeApp

    credentials = isvs.find_staff_credentials(session, data.ISV.email)
    staff = isvs.staff_principal(session, credentials.staff_id) if credentials else None
    if staff is None:
        raise Conflict("the demo ISV's staff is inactive", code="demo.isv_inactive")
    existing = [a for a in platform.list_apps(session, staff) if a.name == data.ISV_APP_NAME]
    if existing:
        summary.app_id = existing[0].app_id
        return
    key = generate_private_key(SignAlgorithm.ED25519)
    app = platform.create_app(
        session,
        staff,
        AppCreate(
            name=data.ISV_APP_NAME,
            scopes=list(data.ISV.scopes),
            public_key=export_public_key(key.public_key()),
        ),
    )
    as_app = Principal(kind=PrincipalKind.APP, id=app.id, name=app.name, app_id=app.app_id)
    tokens = {}
    for slug in data.ISV.operates:
        code = platform.authorize_app(
            session, _owner(session, summary.merchants[slug]), AuthorizeApp(app_id=app.app_id)
        )
        tokens[slug] = platform.exchange_code(session, as_app, code.app_auth_code).app_auth_token
    key_dir.mkdir(parents=True, exist_ok=True)
    path = key_dir / f"{app.app_id}.pem"
    path.write_text(export_private_key(key, "pkcs8"))
    path.chmod(0o600)
    lines = [f"{slug} app_auth_token={token}" for slug, token in tokens.items()]
    (key_dir / f"{app.app_id}.tokens").write_text("\n".join(lines) + "\n")
    summary.app_id, summary.app_key_path = app.app_id, str(path)
    summary.count("developer apps")


def _consumer(session: Session, spec: ConsumerSpec, summary: Summary) -> int:
    from ccare.consumers import service as consumers
    from ccare.consumers.models import DevicePlatform
    from ccare.consumers.schemas import ConsumerCreate
    from ccare.ledger import service as ledger

    if not summary.consumer_ids:
        summary.consumer_ids.update(
            (c.phone, c.id)
            for c in _all(
                lambda limit, offset: consumers.list_consumers(session, limit=limit, offset=offset)
            )
        )
    consumer_id = summary.consumer_ids.get(spec.phone)
    if consumer_id is None:
        consumer_id = consumers.create_consumer(
            session,
            SEED_OPERATOR,
            ConsumerCreate.model_validate(
                {
                    "name": spec.name,
                    "phone": spec.phone,
                    "city": spec.city,
                    "member_level": spec.level,
                    "credit_score": spec.credit_score,
                }
            ),
        ).id
        summary.count("consumers")
    consumers.register_device(session, consumer_id, spec.device_id, DevicePlatform(spec.platform))
    reference = f"demo:top-up:{spec.phone}"
    postings = ledger.recent_wallet_postings(session, consumer_id, limit=1000)
    if not any(p.reference == reference for p in postings):
        ledger.top_up(session, consumer_id, data.TOP_UP_FEN[spec.level], reference)
        summary.count("wallet top-ups")
    return consumer_id


def _order(session: Session, spec: ConsumerSpec, order_no: int, summary: Summary) -> None:
    from ccare.consumers import service as consumers
    from ccare.orders import service as orders
    from ccare.orders.schemas import LineIn, OrderCreate, RefundCreate

    out_trade_no = f"demo-{spec.index:04d}-{order_no}"
    consumer_id = summary.consumer_ids[spec.phone]
    existing = {o.out_trade_no: o for o in orders.consumer_orders(session, consumer_id, limit=1000)}
    if out_trade_no in existing:
        return
    rng = random.Random(out_trade_no)
    # Breakfast and groceries are everyday purchases; the rest are occasional.
    slug = rng.choice(
        ["laojie-breakfast"] * 4
        + ["xiandaojia-market"] * 4
        + ["ranli-fitness", "daojia-services", "jinlv-jewelry", "qiju-home"] * 1
    )
    record = summary.merchants[slug]
    budget = data.TOP_UP_FEN[spec.level] // (data.ORDERS_PER_CONSUMER + 1)
    affordable = [(item_id, price) for item_id, price in record.items if price <= budget]
    if not affordable:
        return
    lines: list[LineIn] = []
    total = 0
    for item_id, price in rng.sample(affordable, k=min(len(affordable), rng.randint(1, 3))):
        quantity = rng.randint(1, 2)
        if total + price * quantity > budget:
            continue
        lines.append(LineIn(item_id=item_id, quantity=quantity))
        total += price * quantity
    if not lines:
        return
    store_id = record.store_ids.get(spec.city) or next(iter(record.store_ids.values()))
    # Paid orders spread over the last two weeks so the consoles' charts have a history;
    # unpaid ones are placed now, or the overdue-order job would close them at once.
    placed_at = utcnow()
    if out_trade_no not in data.UNPAID_ORDERS:
        placed_at -= timedelta(days=rng.randint(0, HISTORY_DAYS - 1), minutes=rng.randint(5, 600))
    consumer = consumers.consumer_principal(session, consumer_id)
    assert consumer is not None
    order = orders.create_order(
        session,
        consumer,
        OrderCreate(
            mini_program_id=record.mini_program_id,
            lines=lines,
            out_trade_no=out_trade_no,
            store_id=store_id,
        ),
        now=placed_at,
    )
    summary.count("orders")
    if out_trade_no in data.UNPAID_ORDERS:
        return
    orders.pay_order(session, consumer, order.id, now=placed_at + timedelta(minutes=2))
    summary.count("payments")
    if out_trade_no in data.REFUNDED_ORDERS:
        amount = data.REFUNDED_ORDERS[out_trade_no] or order.payable_fen
        orders.refund_order(
            session,
            _owner(session, record),
            order.id,
            RefundCreate(amount_fen=amount, reason="demo refund", out_request_no="demo-refund-1"),
        )
        summary.count("refunds")


def _coupons(session: Session, summary: Summary) -> None:
    """Each coupon merchant's activity, and a few demo consumers holding its coupon."""
    from ccare.core.errors import RecordedRefusal
    from ccare.core.tenancy import Principal, PrincipalKind, Tenant
    from ccare.coupons import claims, risk
    from ccare.coupons import service as coupons
    from ccare.coupons.antifraud import Strictness
    from ccare.coupons.repository import CouponRepository
    from ccare.coupons.schemas import ActivityCreate, ClaimRequest

    repo = CouponRepository(session)
    people = list(summary.consumer_ids.values())
    for spec in data.COUPONS:
        merchant = summary.merchants[spec.merchant]
        risk.set_strictness(
            session, SEED_OPERATOR, merchant.merchant_id, Strictness(spec.strictness)
        )
        activity = repo.activity_by_out_biz_no(merchant.merchant_id, spec.out_biz_no)
        if activity is None:
            begin, end = data.COUPON_WINDOW
            body = {
                **spec.body,
                "merchant_id": merchant.merchant_id,
                "out_biz_no": spec.out_biz_no,
                "name": spec.name,
                "claim_begin": begin,
                "claim_end": end,
                "activate": True,
            }
            activity = coupons.create_activity(
                session, SEED_OPERATOR, ActivityCreate.model_validate(body)
            )
            summary.count("coupon activities")
        for consumer_id in people[: spec.claims]:
            # Every demo consumer is screened once per activity, granted or not.
            if repo.screened(activity.id, consumer_id):
                continue
            consumer = Principal(kind=PrincipalKind.CONSUMER, id=consumer_id, tenant=Tenant())
            request = ClaimRequest.model_validate({"channel": spec.channel, "claim_key": "demo"})
            try:
                claims.claim(session, consumer, activity.id, request)
                summary.count("coupons claimed")
            except RecordedRefusal:
                # Brand-new accounts on a strict merchant: the filter's record is the demo.
                summary.count("claims stopped by the anti-cheating filter")
