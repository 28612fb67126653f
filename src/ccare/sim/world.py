"""Building a simulated world on a running platform, through its API only: the operator
opens the merchants (each owner then signs in and publishes a mini-program with items)
and registers the consumers, who sign in and top up their wallets."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from ccare.sim.api import ANONYMOUS, Actor, Api, real_now

if TYPE_CHECKING:
    from ccare.sim.isv import Isv

from ccare.sim.cast import CATEGORIES, INDUSTRY, Cast, ConsumerSpec, ItemSpec, MerchantSpec, draw

PASSWORD = "sim-pass-1"
WALLET_FEN = 500_000


@dataclass
class Shop:
    spec: MerchantSpec
    merchant_id: int
    owner: Actor  # ANONYMOUS for a shop found on the platform: it takes no merchant actions
    mini_program_id: int
    items: list[tuple[int, int]]  # (item id, price in fen)
    activity_ids: list[int] = field(default_factory=list)  # coupon drops, newest last
    ad_plan_id: int | None = None
    recall_template_id: int | None = None  # the recall its favoriters are asked to allow


@dataclass
class Person:
    spec: ConsumerSpec
    consumer_id: int
    actor: Actor


@dataclass
class World:
    cast: Cast
    operator: Actor
    shops: list[Shop]
    people: list[Person]
    isv: Isv | None = None  # the ISV operating the shops with `isv_operated`
    # The platform's time, for what agents date (a drop's claim window), and how an agent
    # lets time pass (reading an ad before tapping it): the real clock, or the simulated
    # clock an in-process platform runs on.
    now: Callable[[], datetime] = real_now
    wait: Callable[[float], None] = time.sleep

    def recalling(self) -> bool:
        return any(s.recall_template_id is not None for s in self.shops)

    def operated(self) -> list[Shop]:
        return [s for s in self.shops if s.spec.isv_operated]

    def shop_of(self, merchant_id: int) -> Shop | None:
        return next((s for s in self.shops if s.merchant_id == merchant_id), None)


def build(
    api: Api,
    cast: Cast,
    operator_email: str,
    operator_password: str,
    *,
    top_up: bool = True,
    strategies: bool = True,
) -> World:
    """`top_up=False`: wallets start empty (a scenario tops up only the buyers);
    `strategies=False`: no ads, recalls or ISV (a scenario sets up its own)."""
    from ccare.sim import isv
    from ccare.sim import strategies as strategy

    operator = api.staff(operator_email, operator_password)
    shops = [_shop(api, operator, spec, cast.seed) for spec in cast.merchants]
    people = [_person(api, operator, spec, cast.seed, top_up) for spec in cast.consumers]
    for shop in shops if strategies else []:
        if shop.spec.advertises:
            strategy.advertise(api, operator, shop, cast.seed)
        if shop.spec.recalls:
            strategy.recall(api, shop, cast.seed)
    built = World(cast, operator, shops, people)
    if strategies and built.operated():
        built.isv = isv.open_isv(api, operator, built.operated(), cast.seed)
    return built


def _shop(api: Api, operator: Actor, spec: MerchantSpec, seed: int) -> Shop:
    merchant = api.call(
        operator,
        "POST",
        "/api/v1/merchants",
        "merchants.create",
        json={
            "name": spec.name,
            "slug": f"{spec.slug}-{seed}",
            "industry": INDUSTRY[spec.category],
            "city": spec.city,
            "owner_name": f"Owner {spec.index}",
            "owner_email": _email(spec, seed),
            "owner_password": PASSWORD,
        },
    )
    owner = api.staff(_email(spec, seed), PASSWORD)
    mp = api.call(
        owner,
        "POST",
        "/api/v1/mini-programs",
        "mini_programs.create",
        json={"name": spec.name, "category": spec.category},
    )
    items = []
    for item in spec.items:
        made = api.call(
            owner,
            "POST",
            f"/api/v1/mini-programs/{mp['id']}/items",
            "items.create",
            json={"name": item.name, "price_fen": item.price_fen},
        )
        items.append((made["id"], item.price_fen))
    return Shop(spec, merchant["id"], owner, mp["id"], items)


def _person(api: Api, operator: Actor, spec: ConsumerSpec, seed: int, top_up: bool) -> Person:
    made = api.call(
        operator,
        "POST",
        "/api/v1/consumers",
        "consumers.create",
        json={
            "name": spec.name,
            "phone": _phone(spec, seed),
            "city": spec.city,
            "member_level": spec.member_level,
        },
    )
    actor = api.consumer(made["id"])
    if top_up:
        api.call(
            actor,
            "POST",
            "/api/v1/wallet/top-ups",
            "wallet.top_up",
            json={"amount_fen": WALLET_FEN},
            idempotent=True,
        )
    return Person(spec, made["id"], actor)


def _email(spec: MerchantSpec, seed: int) -> str:
    # The seed in the address: worlds of other seeds can share one platform.
    return f"owner{spec.index}.s{seed}@{spec.slug}.sim.test"


def _phone(spec: ConsumerSpec, seed: int) -> str:
    return f"{spec.phone}{seed % 10_000:04d}"


def discover(
    api: Api,
    seed: int,
    operator_email: str,
    operator_password: str,
    *,
    limit: int = 200,
) -> World:
    """A world of what is already on the platform (the demo's shops and consumers): its
    online mini-programs with their items, and its consumers, each given a rhythm and
    tastes drawn from the seed. Shops found this way take no merchant actions."""
    operator = api.staff(operator_email, operator_password)
    listed = api.call(
        ANONYMOUS,
        "GET",
        "/api/v1/public/mini-programs",
        "mini_programs.directory",
        params={"limit": limit},
    )
    shops = []
    for index, mp in enumerate(listed):
        front = api.call(
            ANONYMOUS, "GET", f"/api/v1/public/mini-programs/{mp['id']}", "storefront.open"
        )
        items = [(i["id"], i["price_fen"]) for i in front["items"] if not i["sold_out"]]
        if not items:
            continue
        category = mp["category"] if mp["category"] in CATEGORIES else CATEGORIES[0]
        spec = MerchantSpec(
            index=index,
            name=mp["name"],
            category=category,
            city=mp["city"],
            items=tuple(ItemSpec(str(i), p) for i, p in items),
            drops_coupons=False,
        )
        shops.append(Shop(spec, mp["merchant_id"], ANONYMOUS, mp["id"], items))
    found = api.call(
        operator, "GET", "/api/v1/consumers", "consumers.list", params={"limit": limit}
    )
    habits = draw(seed, merchants=1, consumers=max(len(found), 5), rings=0).consumers
    people = []
    for consumer, habit in zip(found, habits, strict=False):
        person = ConsumerSpec(
            index=habit.index,
            name=consumer["name"],
            phone=consumer["phone"],
            city=consumer["city"],
            devices=habit.devices,
            tastes=_tastes_for(habit, shops),
            price_sensitivity=habit.price_sensitivity,
            rhythm=habit.rhythm,
            sessions_per_day=habit.sessions_per_day,
        )
        people.append(Person(person, consumer["id"], api.consumer(consumer["id"])))
    cast = Cast(seed, tuple(s.spec for s in shops), tuple(p.spec for p in people), rings=0)
    return World(cast, operator, shops, people)


def _tastes_for(habit: ConsumerSpec, shops: list[Shop]) -> tuple[tuple[str, float], ...]:
    """The drawn tastes over the categories these shops sell (some taste for each)."""
    present = sorted({s.spec.category for s in shops}) or list(CATEGORIES)
    weights = [habit.taste(c) + 0.1 for c in present]
    total = sum(weights)
    return tuple((c, w / total) for c, w in zip(present, weights, strict=True))
