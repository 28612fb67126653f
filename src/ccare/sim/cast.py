"""Who lives in a simulated world, drawn from one seed: merchants with a category, a city,
items and a strategy; consumers with a city, devices, tastes, price sensitivity and a
daily rhythm; scalper rings sharing a few devices. Nothing here talks to the platform."""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

CITIES = ("Hangzhou", "Shanghai")
CATEGORIES = ("breakfast", "coffee", "noodles", "groceries", "flowers", "fitness")
INDUSTRY = {
    "breakfast": "catering",
    "coffee": "catering",
    "noodles": "catering",
    "groceries": "supermarket",
    "flowers": "retail",
    "fitness": "fitness",
}
PRICES = {  # fen: what one item of the category costs, low to high
    "breakfast": (600, 1_800),
    "coffee": (1_500, 3_800),
    "noodles": (1_800, 4_500),
    "groceries": (900, 9_000),
    "flowers": (4_000, 19_900),
    "fitness": (9_900, 39_900),
}
# Share of a person's activity in each local hour, by habit.
RHYTHMS = {
    "early": (0, 0, 0, 0, 0, 1, 4, 9, 8, 4, 2, 3, 6, 3, 2, 2, 2, 3, 4, 3, 2, 1, 0, 0),
    "office": (0, 0, 0, 0, 0, 0, 1, 3, 6, 3, 2, 4, 9, 5, 2, 2, 2, 3, 6, 8, 6, 3, 1, 0),
    "night": (1, 1, 0, 0, 0, 0, 0, 1, 2, 2, 2, 3, 5, 3, 2, 2, 3, 3, 4, 6, 8, 9, 7, 3),
}


@dataclass(frozen=True)
class ItemSpec:
    name: str
    price_fen: int


@dataclass(frozen=True)
class MerchantSpec:
    index: int
    name: str
    category: str
    city: str
    items: tuple[ItemSpec, ...]
    drops_coupons: bool  # a daily coupon drop in the coupon venue
    advertises: bool = False  # a CPC plan with a daily budget on the home feed
    recalls: bool = False  # messages favoriters who have not bought (a trigger campaign)
    isv_operated: bool = False  # its ISV's app runs its coupons for it

    @property
    def slug(self) -> str:
        return f"sim-{self.category}-{self.index}"

    @property
    def owner_email(self) -> str:
        return f"owner{self.index}@{self.slug}.sim.test"


@dataclass(frozen=True)
class ConsumerSpec:
    index: int
    name: str
    phone: str
    city: str
    devices: tuple[str, ...]
    tastes: tuple[tuple[str, float], ...]  # category -> weight, summing to 1
    price_sensitivity: float  # 0: never minds a price; 1: claims every coupon it sees
    rhythm: str  # a key of RHYTHMS
    sessions_per_day: float
    ring: int | None = None  # the scalper ring it belongs to
    member_level: str = "public"  # the platform member level: public, gold, platinum, diamond

    def taste(self, category: str) -> float:
        return dict(self.tastes).get(category, 0.0)


@dataclass(frozen=True)
class Cast:
    seed: int
    merchants: tuple[MerchantSpec, ...]
    consumers: tuple[ConsumerSpec, ...]
    rings: int

    def ring_members(self, ring: int) -> list[ConsumerSpec]:
        return [c for c in self.consumers if c.ring == ring]


def draw(seed: int, *, merchants: int = 6, consumers: int = 60, rings: int = 1) -> Cast:
    rng = random.Random(seed)
    shops = tuple(_merchant(rng, i) for i in range(merchants))
    people = [_consumer(rng, i) for i in range(consumers)]
    ring_size = 4
    for r in range(rings):  # the last few people are scalpers, a ring of four sharing devices
        shared = tuple(f"ring{r}-dev{d}" for d in range(2))
        for k in range(ring_size):
            i = consumers - 1 - r * ring_size - k
            if i < 0:
                break
            p = people[i]
            people[i] = ConsumerSpec(
                p.index, p.name, p.phone, p.city, shared, p.tastes, 1.0, "night", 0.0, ring=r
            )
    return Cast(seed, shops, tuple(_with_level(seed, p) for p in people), rings)


# Share of consumers at each platform member level.
MEMBER_LEVELS: tuple[tuple[str, float], ...] = (
    ("public", 0.70),
    ("gold", 0.18),
    ("platinum", 0.09),
    ("diamond", 0.03),
)


def _with_level(seed: int, person: ConsumerSpec) -> ConsumerSpec:
    # A generator of its own: adding levels left every other draw of a seed unchanged.
    rng = random.Random(f"level:{seed}:{person.index}")
    levels = [level for level, _ in MEMBER_LEVELS]
    weights = [share for _, share in MEMBER_LEVELS]
    return replace(person, member_level=rng.choices(levels, weights)[0])


def _merchant(rng: random.Random, i: int) -> MerchantSpec:
    category = CATEGORIES[i % len(CATEGORIES)]
    low, high = PRICES[category]
    items = tuple(ItemSpec(f"{category} {n + 1}", rng.randrange(low, high, 100)) for n in range(3))
    return MerchantSpec(
        index=i,
        name=f"Sim {category.title()} {i}",
        category=category,
        city=CITIES[i % len(CITIES)],
        items=items,
        drops_coupons=i % 2 == 0,
        advertises=i % 3 == 1,
        recalls=i % 3 == 2,
        isv_operated=i % 4 == 3,
    )


def _consumer(rng: random.Random, i: int) -> ConsumerSpec:
    liked = rng.sample(CATEGORIES, 3)
    weights = [rng.random() + 0.2 for _ in liked]
    total = sum(weights)
    return ConsumerSpec(
        index=i,
        name=f"Sim Consumer {i}",
        phone=f"1390{i:07d}",
        city=CITIES[0] if rng.random() < 0.6 else CITIES[1],
        devices=tuple(f"c{i}-dev{d}" for d in range(1 + (rng.random() < 0.2))),
        tastes=tuple((c, w / total) for c, w in zip(liked, weights, strict=True)),
        price_sensitivity=round(rng.random(), 3),
        rhythm=rng.choice(tuple(RHYTHMS)),
        sessions_per_day=round(rng.uniform(0.3, 2.5), 2),
    )
