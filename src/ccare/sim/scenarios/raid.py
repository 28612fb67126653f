"""A scalper raid on a merchant's coupon drop, with the anti-cheating filter off or on.

A breakfast shop drops 100 coupons (¥5 off ¥20, one each) at 10:00 on a Monday. Its
customers opened their accounts weeks ago and claimed and used other shops' coupons since,
on their own phones (families share a tablet and a home line; some claim at the office);
a few opened theirs that morning, a few hoard coupons. A third come within the hour, the
rest over the day. Scalper rings open dozens of accounts the night before, on two phones
and one line per ring, claim in the first minute and never use the coupons (they sell
them). The shop's risk report says what the filter blocked and the budget it kept; the
claimers' own coupons say who got the stock.

Through the API only, on a platform whose clock the caller moves (weeks pass before the
drop) and whose worker it runs between days (used coupons count as used). Each claimer
sends its own address (`Actor.ip`, as `X-Forwarded-For`): the platform must trust the
simulator as its proxy (`forwarded_allow_ips`). Each strictness needs a fresh platform:
the filter's evidence (accounts on a device, claims from an address, a person's habit on
every shop) is platform-wide, so a second drop would see the first raid's traces.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from itertools import product
from typing import Any

from ccare.sim import world
from ccare.sim.api import Actor, Api, CallFailed
from ccare.sim.cast import Cast, ItemSpec, MerchantSpec

DAY, HOUR = 86_400, 3_600
DROP_AT = 35 * DAY + 10 * HOUR  # day 0 is a Monday: the drop is five Mondays later, 10:00
HABIT_DAYS = 28  # past claims fall inside the filter's 30-day habit window
FACE_FEN, WALLET_FEN = 500, 100_000  # the drop's coupon; what a customer tops up
FILTER_CODES = ("coupon.claim_challenge", "coupon.claim_reject")
Staff = tuple[str, str]  # email, password
SHOPS = tuple(  # the shop of the drop, and two where its customers claimed before
    MerchantSpec(i, f"Sim {c.title()} {i}", c, "Hangzhou", (ItemSpec(f"{c} set", 2_400),), False)
    for i, c in enumerate(("breakfast", "coffee", "noodles"))
)


@dataclass(frozen=True)
class Plan:
    genuine: int = 60
    rings: int = 2
    ring_size: int = 40
    ring_devices: int = 2
    stock: int = 100
    claim_share: float = 0.8  # of genuine consumers who want the drop's coupon
    newcomer_share: float = 0.05  # opened their account on the morning of the drop
    recent_share: float = 0.2  # opened it one to four weeks before
    hoarder_share: float = 0.1  # claim many coupons, use few
    family_share: float = 0.15  # 2-4 people sharing a tablet and a home line
    office_share: float = 0.15  # claim from a shared office line on weekday hours


@dataclass(frozen=True)
class Claimer:
    index: int
    ring: int | None
    opened: int  # second the account is opened
    phone: str  # its own device (a ring's: one of its few)
    tablet: str | None  # a family's shared device
    home_ip: str
    office_ip: str | None
    habit: tuple[tuple[int, int, int | None], ...]  # (claimed at, shop 1 or 2, used at)
    drop_claim: int | None  # second it claims the drop; None: it does not


def draw(seed: int, plan: Plan) -> list[Claimer]:
    rng = random.Random(f"raid:{seed}")
    people: list[Claimer] = []
    while len(people) < plan.genuine:
        size = rng.randint(2, 4) if rng.random() < plan.family_share else 1
        head = len(people)
        tablet = f"tablet-{head}" if size > 1 else None
        home = f"100.64.{head // 250}.{head % 250 + 1}"
        for _ in range(min(size, plan.genuine - head)):
            people.append(_genuine(rng, plan, len(people), tablet, home))
    for r, k in product(range(plan.rings), range(plan.ring_size)):
        opened, at = DROP_AT - rng.randrange(2 * HOUR, 20 * HOUR), DROP_AT + rng.randrange(60)
        phone = f"ring{r}-dev{k % plan.ring_devices}"
        people.append(Claimer(len(people), r, opened, phone, None, f"183.2.{r}.9", None, (), at))
    return people


def _genuine(rng: random.Random, plan: Plan, i: int, tablet: str | None, home: str) -> Claimer:
    kind, opened = rng.random(), 0
    if kind < plan.newcomer_share:
        opened = DROP_AT - rng.randrange(HOUR, 10 * HOUR)
    elif kind < plan.newcomer_share + plan.recent_share:
        opened = DROP_AT - rng.randrange(7 * DAY, HABIT_DAYS * DAY)
    hoarder, habit = rng.random() < plan.hoarder_share, []
    start = max(opened, DROP_AT - HABIT_DAYS * DAY)
    for _ in range(rng.randint(5, 8) if hoarder else rng.randint(1, 4)):
        if opened > DROP_AT - DAY:
            break  # a newcomer has no past
        at = start + rng.randrange(DROP_AT - HOUR - start)
        used, shop = at + rng.randrange(HOUR, 3 * DAY), rng.choice((1, 2))
        habit.append((at, shop, used if rng.random() < (0.15 if hoarder else 0.85) else None))
    wants, soon = rng.random() < plan.claim_share, rng.random() < 0.35  # soon: reminded
    wait = min(int(rng.expovariate(1 / 720)), HOUR - 1) if soon else rng.randrange(12 * HOUR)
    office = f"58.33.0.{rng.randrange(2)}" if rng.random() < plan.office_share else None
    drop_claim = DROP_AT + wait if wants else None
    return Claimer(i, None, opened, f"phone-{i}", tablet, home, office, tuple(habit), drop_claim)


@dataclass(frozen=True)
class Outcome:
    log: tuple[tuple[int, int, str], ...]  # (second, claimer, coupon id or refusal code)
    taken: tuple[int, int]  # (rings, genuine): coupons given, as the simulator saw
    held: tuple[int, int]  # (rings, genuine): the drop's coupons in the claimers' own lists
    blocked: tuple[int, int]  # (rings, genuine) claims refused by the filter
    sold_out: int  # genuine claims that found no stock left
    issued: int  # the activity's own counts
    remaining: int
    decisions: dict[str, int]  # the risk report: claims per outcome
    budget_saved_fen: int
    reported_genuine_blocked: int | None  # blocked genuine claims in the report, if complete


@dataclass
class Raid:
    """One play of the scenario, on a fresh platform: `Raid(...).play("standard")`."""

    api: Api
    seed: int
    plan: Plan
    operator: Staff
    origin: datetime  # day 0, a Monday at local midnight, on the platform's clock
    move_to: Callable[[datetime], object]  # moves the platform's clock
    advance: Callable[[], object]  # runs the platform's worker until it is idle
    people: list[Claimer] = field(default_factory=list)
    rng: random.Random = field(default_factory=random.Random)  # where each claim is made from
    shops: list[world.Shop] = field(default_factory=list)
    owners: list[Staff] = field(default_factory=list)
    ids: dict[int, int] = field(default_factory=dict)  # claimer -> consumer id
    actors: dict[int | str, Actor] = field(default_factory=dict)  # claimer or email -> session
    coupons: dict[tuple[int, int], int] = field(default_factory=dict)  # habit claim -> coupon
    log: list[tuple[int, int, str]] = field(default_factory=list)

    def play(self, strictness: str) -> Outcome:
        """Build the world at day 0 and play it to the evening of the drop."""
        self.people, self.rng = draw(self.seed, self.plan), random.Random(self.seed)
        self.move_to(self.origin)
        cast = Cast(self.seed, SHOPS, (), rings=0)
        self.shops = world.build(self.api, cast, *self.operator, top_up=False).shops
        self.owners = [(shop.owner.name, world.PASSWORD) for shop in self.shops]
        settings = {"strictness": strictness}
        self._call(self.owners[0], "PUT /coupon-settings", "coupons.settings", settings)
        for shop in (1, 2):
            self._activity(shop, self.origin, timedelta(days=40))
        day = 0
        for at, _, kind, who, n in sorted(_events(self.people)):
            self.move_to(self.origin + timedelta(seconds=at))
            if at // DAY != day or kind == "drop":
                self.advance()  # the payments so far mark their coupons used
                day = at // DAY
            self._step(at, kind, self.people[who], n)
        self.advance()
        return self._measure()

    def _step(self, at: int, kind: str, p: Claimer, n: int) -> None:
        if kind == "open":
            phone = f"137{self.seed % 1000:03d}{p.index:06d}"
            who = {"name": f"Sim Consumer {p.index}", "phone": phone, "city": "Hangzhou"}
            made = self._call(self.operator, "POST /consumers", "consumers.create", who)
            self.ids[p.index] = made["id"]
            if p.ring is None:
                money = {"amount_fen": WALLET_FEN}
                self._call(p, "POST /wallet/top-ups", "wallet.top_up", money, idempotent=True)
        elif kind == "drop":
            self._activity(0, self.origin + timedelta(seconds=at), timedelta(hours=14))
        elif kind == "claim":
            self.log.append((at, p.index, self._claim(p, at, self.shops[0].activity_ids[0], n)))
        elif kind == "habit":
            answer = self._claim(p, at, self.shops[p.habit[n][1]].activity_ids[0], n)
            if answer.isdigit():
                self.coupons[(p.index, n)] = int(answer)
        elif (p.index, n) in self.coupons:  # use: an order with the coupon, paid from the wallet
            shop = self.shops[p.habit[n][1]]
            lines = [{"item_id": shop.items[0][0], "quantity": 1}]
            coupons = [self.coupons[(p.index, n)]]
            order = {"mini_program_id": shop.mini_program_id, "lines": lines, "coupon_ids": coupons}
            made = self._call(p, "POST /orders", "orders.create", order, idempotent=True)
            self._call(p, f"POST /orders/{made['id']}/pay", "orders.pay", idempotent=True)

    def _call(
        self, who: Claimer | Staff, route: str, name: str, body: Any = None, **kw: Any
    ) -> Any:
        """`route` ("POST /orders") as a claimer (from `ip`) or a member of staff, signed in
        again once the platform's session has expired: weeks pass between two claims."""
        method, path = route.split(" ", 1)
        key, ip = (who.index if isinstance(who, Claimer) else who[0]), kw.pop("ip", None)
        for again in (False, True):
            if again or key not in self.actors:
                self.actors[key] = (
                    self.api.consumer(self.ids[who.index])
                    if isinstance(who, Claimer)
                    else self.api.staff(*who)
                )
            try:
                actor = replace(self.actors[key], ip=ip)
                return self.api.call(actor, method, f"/api/v1{path}", name, json=body, **kw)
            except CallFailed as failed:
                if failed.status != 401 or again:
                    raise
        raise AssertionError("unreachable")

    def _activity(self, shop: int, begin: datetime, length: timedelta) -> None:
        """Shop 0's drop, or the everyday coupon of shop 1 or 2."""
        drop = shop == 0
        name, stock, off = ("drop", self.plan.stock, FACE_FEN) if drop else ("habit", 100_000, 300)
        body = {
            "out_biz_no": f"raid-{name}",
            "name": f"{name} ¥{off // 100} off",
            "kind": "fixed",
            "amount_fen": off,
            "floor_fen": 4 * off if drop else 0,
            "quantity": stock,
            "user_limits": {"lifetime": 1} if drop else {},
            "claim_begin": begin.isoformat(),
            "claim_end": (begin + length).isoformat(),
            "validity": {"days_after_claim": 7},
            "activate": True,
        }
        made = self._call(self.owners[shop], "POST /coupon-activities", "coupons.create", body)
        self.shops[shop].activity_ids.append(int(made["id"]))

    def _claim(self, p: Claimer, at: int, activity_id: int, n: int) -> str:
        """The coupon's id, or the refusal's code. A ring claims from its own phones and
        line; a person from their phone or the family tablet, at home, work or on the go."""
        device, ip = p.phone, p.home_ip
        if p.ring is None:
            device = p.tablet if p.tablet and self.rng.random() < 0.6 else p.phone
            office_hours = (at // DAY) % 7 < 5 and 9 <= (at % DAY) // HOUR < 18
            if p.office_ip and office_hours and self.rng.random() < 0.8:
                ip = p.office_ip
            elif self.rng.random() >= 0.55:
                ip = f"117.136.0.{self.rng.randrange(40)}"  # the mobile carrier's pool
        body = {"channel": "coupon_venue", "claim_key": f"{p.index}-{n}", "device_id": device}
        route = f"POST /coupon-activities/{activity_id}/claim"
        try:
            return str(self._call(p, route, "coupons.claim", body, ip=ip)["id"])
        except CallFailed as refused:
            if refused.status >= 500 or refused.status == 0:
                raise
            return refused.code or str(refused.status)

    def _measure(self) -> Outcome:
        """What the platform reports, beside what the simulator saw."""
        activity_id = self.shops[0].activity_ids[0]
        seen: Counter[tuple[bool, str]] = Counter()  # (ring?, taken, blocked or another code)
        held: Counter[bool] = Counter()
        for _, who, answer in self.log:
            p = self.people[who]
            what = "taken" if answer.isdigit() else "blocked" if answer in FILTER_CODES else answer
            seen[(p.ring is not None, what)] += 1
            mine = self._call(p, "GET /me/coupons", "coupons.mine")
            held[p.ring is not None] += sum(c["activity_id"] == activity_id for c in mine)
        stock = self._call(self.owners[0], f"GET /coupon-activities/{activity_id}", "coupons.get")
        risk = self._call(self.owners[0], f"GET /coupon-activities/{activity_id}/risk", "risk")
        decisions = {outcome: total["claims"] for outcome, total in risk["totals"].items()}
        genuine = {self.ids[p.index] for p in self.people if p.ring is None and p.index in self.ids}
        complete = len(risk["blocked"]) == decisions["challenge"] + decisions["reject"]
        reported = sum(d["consumer_id"] in genuine for d in risk["blocked"])

        return Outcome(
            tuple(self.log),
            taken=(seen[(True, "taken")], seen[(False, "taken")]),
            held=(held[True], held[False]),
            blocked=(seen[(True, "blocked")], seen[(False, "blocked")]),
            sold_out=seen[(False, "coupon.stock_exhausted")],
            issued=stock["issued"],
            remaining=stock["remaining"],
            decisions=decisions,
            budget_saved_fen=risk["budget_saved_fen"],
            reported_genuine_blocked=reported if complete else None,
        )


def _events(people: list[Claimer]) -> list[tuple[int, int, str, int, int]]:
    """(second, order among equals, kind, claimer, habit claim)"""
    out = [(DROP_AT, 0, "drop", 0, 0)]
    for p in people:
        out.append((p.opened, 1, "open", p.index, 0))
        if p.drop_claim is not None:
            out.append((p.drop_claim, 2, "claim", p.index, 0))
        for n, (at, _, used) in enumerate(p.habit):
            out.append((at, 2, "habit", p.index, n))
            if used is not None:
                out.append((used, 3, "use", p.index, n))
    return out
