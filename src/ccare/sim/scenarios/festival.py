"""A jeweller's 520 Members' Day. Day 0 is ordinary: people open the shop when their
rhythm brings them; one in ten buys a piece. Some followers are platform members (gold and
up); most followers subscribe to its news. On the eve (20:00) the merchant makes a segment
of its members who follow or bought, a members-only coupon (¥200 off ¥1,500, festival day
only, not in the coupon venue) and a campaign that holds half the segment out and at
midnight gives the rest the coupon and the invitation. On festival day the invited come
more often, buy more often and add a second piece more often (the planted effect). The
figures are the platform's, through its API. `clock(second)` moves the platform's clock
(seconds since day 0's midnight; also `api.now`, by which sessions renew); `advance()`
runs its worker until idle.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from ccare.sim import effects, world
from ccare.sim.api import ANONYMOUS, Actor, Api
from ccare.sim.cast import RHYTHMS, draw
from ccare.sim.runner import poisson

DAY, EVE = 86_400, 20 * 3_600
LEVELS = ["gold", "platinum", "diamond"]
PIECES = (("Silver 520 pendant", 52_000), ("Gold ring", 152_000), ("Diamond necklace", 520_000))
TASTE = (6, 3, 1)  # how often each piece is the one chosen
TITLE, FESTIVAL = "Members' news", "520 Members' Day"
MEMBERS = {  # members who follow the shop or bought from it
    "all": [
        {"profile": {"field": "member_level", "op": "in", "value": LEVELS}},
        {"any": [{"favorited": {}}, {"event": {"type": "order.paid", "within_days": 90}}]},
    ]
}
FLOOR_FEN = 150_000
COUPON = {"name": FESTIVAL, "kind": "fixed", "amount_fen": 20_000, "floor_fen": FLOOR_FEN}
# favoriters_only keeps it out of the coupon venue: only the campaign gives it.
COUPON |= {"quantity": 10_000, "favoriters_only": True, "activate": True}
CAMPAIGN = {"name": FESTIVAL, "conversion_days": 1, "start": True}
CAMPAIGN |= {"variables": {"event": FESTIVAL, "offer": "200 off 1500, today only"}}
SETTINGS, PROFILES = "/api/v1/message-settings", "/api/v1/customer-profiles"
ACTIVITIES, CAMPAIGNS = "/api/v1/coupon-activities", "/api/v1/campaigns"


@dataclass(frozen=True)
class Plan:
    base: float = 0.1  # the chance that a person buys a piece on any day
    effect: float = 0.3  # what the invitation adds to it on festival day
    visit_boost: float = 1.6  # the invited come this much more often (seed: +60% frequency)
    second_piece: float = 0.55  # and add a second piece this often (seed: +55% order value)
    browsing: float = 0.5  # share of a person's app sessions that open the jeweller
    follow: tuple[float, float] = (0.6, 0.2)  # a member, anyone else, follows the shop
    subscribe: float = 0.85  # a follower subscribes to the members' news
    holdout_percent: int = 50


@dataclass(frozen=True)
class Day:
    orders: int
    paid_fen: int  # the average order value is paid_fen / orders

    def __sub__(self, other: Day) -> Day:
        return Day(self.orders - other.orders, self.paid_fen - other.paid_fen)


@dataclass(frozen=True)
class Outcome:
    days: tuple[Day, Day]  # the dashboard's day 0 and festival day
    members: tuple[Day, Day]  # the same days in the customer profiles at member levels
    others: tuple[Day, Day]  # and in the other customer profiles
    made: tuple[Day, Day]  # what the simulator paid
    visits: tuple[int, int]  # storefront opens the simulator made
    segment: int
    coupons: tuple[int, int]  # issued (the activity), used (customer profiles)
    received: int  # treated who found the invitation in their inbox
    results: dict[str, Any]  # the campaign's results, as the platform answers
    arms_made: tuple[Day, Day]  # what the simulator paid on festival day, per arm
    effect: float  # planted

    @property
    def truth(self) -> float:
        """The uplift caused in the treatment arm: the effect on the share that received."""
        treated = self.results["treatment"]["members"]
        return self.effect * self.received / treated if treated else 0.0

    @property
    def covered(self) -> bool:
        low, high = self.results["uplift_low"], self.results["uplift_high"]
        return low is not None and high is not None and low <= self.truth <= high


def members_day(
    api: Api,
    operator: tuple[str, str],
    advance: Callable[[], object],
    clock: Callable[[int], None],
    *,
    seed: int,
    consumers: int,
    plan: Plan | None = None,
) -> Outcome:
    """Stage the festival on a platform standing at day 0's midnight; `operator`: the
    operator's email and password."""
    return _Festival(api, operator, advance, clock, seed, plan or Plan()).run(consumers)


@dataclass
class _Festival:
    api: Api
    login: tuple[str, str]  # the operator's
    advance: Callable[[], object]
    clock: Callable[[int], None]
    seed: int
    plan: Plan
    paid: tuple[dict[int, int], ...] = field(default_factory=lambda: ({}, {}))  # id -> fen
    visits: list[int] = field(default_factory=lambda: [0, 0])

    def run(self, consumers: int) -> Outcome:
        cast = draw(self.seed, merchants=0, consumers=consumers, rings=0)
        built = world.build(self.api, cast, *self.login, top_up=False, strategies=False)
        self.people, self.operator = built.people, built.operator
        self._open_shop()
        rules = self._as(self.operator, "GET", SETTINGS, "msg.settings")
        # Quiet hours would hold the midnight invitation until after the morning's visits.
        self._as(self.operator, "PUT", SETTINGS, "msg.set", rules | effects.NO_QUIET_HOURS)
        try:
            subscribers = [p for p in self.people if self._follow(p)]
            self._play(0, set())
            self.clock(DAY)
            self.advance()  # the campaign's round: coupons and invitations go out at midnight
            self.before = self._profiles()
            received = {p.consumer_id for p in subscribers if self._invited(p)}
        finally:
            self._as(self.operator, "PUT", SETTINGS, "msg.set", rules)
        self._play(1, received)
        self.clock(2 * DAY)
        self.advance()
        return self._measure(len(received))

    def _as(self, who: Actor, method: str, path: str, name: str, body: Any = None, **q: Any) -> Any:
        return self.api.call(who, method, path, name, json=body, params=q or None)

    def _open_shop(self) -> None:
        name, email = f"Sim Jeweller {self.seed}", f"owner.s{self.seed}@jeweller.sim.test"
        shop = {"name": name, "slug": f"jeweller-{self.seed}", "industry": "jewelry"}
        shop |= {"city": "Hangzhou", "owner_name": "Owner", "owner_email": email}
        shop |= {"owner_password": world.PASSWORD}
        self.merchant_id = self._as(self.operator, "POST", "/api/v1/merchants", "shop", shop)["id"]
        self.owner = self.api.staff(email, world.PASSWORD)
        mp = {"name": name, "category": "jewelry"}
        self.mp = self._as(self.owner, "POST", "/api/v1/mini-programs", "mp", mp)["id"]
        path = f"/api/v1/mini-programs/{self.mp}/items"
        self.items = [
            (self._as(self.owner, "POST", path, "item", {"name": n, "price_fen": f})["id"], f)
            for n, f in PIECES
        ]
        news = {"name": TITLE, "category": "marketing", "title": TITLE, "body": "{event}: {offer}"}
        template = self._as(self.owner, "POST", "/api/v1/message-templates", "template", news)
        self.template = template["id"]
        made = datetime.fromisoformat(template["created_at"])  # the platform's day 0, midnight
        self.day_zero = made if made.tzinfo else made.replace(tzinfo=UTC)

    def _follow(self, person: world.Person) -> bool:
        """Follow the shop (members more often); maybe subscribe to its members' news."""
        rng = random.Random(f"follow:{self.seed}:{person.spec.index}")
        if rng.random() >= self.plan.follow[person.spec.member_level not in LEVELS]:
            return False
        self.api.call(person.actor, "PUT", f"/api/v1/me/favorites/{self.mp}", "favorite.add")
        if rng.random() >= self.plan.subscribe:
            return False
        consent = {"template_id": self.template, "kind": "long_term"}
        self._as(person.actor, "POST", "/api/v1/me/message-consents", "msg.consent", consent)
        return True

    def _play(self, day: int, invited: set[int]) -> None:
        for at, i, buys in self._schedule(day, invited):
            self.clock(at)
            if i < 0:  # the eve
                self._prepare()
                continue
            self.api.call(ANONYMOUS, "GET", f"/api/v1/public/mini-programs/{self.mp}", "open")
            self.visits[day] += 1
            if buys:
                self._buy(day, self.people[i], invited)

    def _schedule(self, day: int, invited: set[int]) -> list[tuple[int, int, bool]]:
        """Visits at hours of each person's rhythm; a buyer buys at one (or comes once)."""
        events: list[tuple[int, int, bool]] = [(EVE, -1, False)] if day == 0 else []
        for i, person in enumerate(self.people):
            p, boost = person.spec, person.consumer_id in invited
            rng = random.Random(f"day:{self.seed}:{day}:{p.index}")
            rate = p.sessions_per_day * self.plan.browsing * (self.plan.visit_boost if boost else 1)
            visits = poisson(rng, rate)
            buys = rng.random() < self.plan.base + (self.plan.effect if boost else 0.0)
            hours = rng.choices(range(24), RHYTHMS[p.rhythm], k=max(visits, int(buys)))
            buy_at = rng.randrange(len(hours)) if buys else -1
            times = [day * DAY + h * 3_600 + rng.randrange(3_600) for h in hours]
            events.extend((t, i, k == buy_at) for k, t in enumerate(times))
        return sorted(events)

    def _buy(self, day: int, person: world.Person, invited: set[int]) -> None:
        rng = random.Random(f"basket:{self.seed}:{day}:{person.spec.index}")
        picks = [rng.choices(range(len(PIECES)), TASTE)[0]]
        if person.consumer_id in invited and rng.random() < self.plan.second_piece:
            rest = [k for k in range(len(PIECES)) if k != picks[0]]
            picks.append(rng.choices(rest, [TASTE[k] for k in rest])[0])
        me, call = person.actor, self.api.call
        lines = [{"item_id": self.items[k][0], "quantity": 1} for k in picks]
        body: dict[str, Any] = {"mini_program_id": self.mp, "lines": lines}
        if day == 1 and sum(self.items[k][1] for k in picks) >= FLOOR_FEN:
            mine = call(me, "GET", "/api/v1/me/coupons", "coupons.mine")
            festive = [c for c in mine if c["activity_id"] == self.activity]
            body["coupon_ids"] = [c["id"] for c in festive if c["status"] == "available"][:1]
        order = call(me, "POST", "/api/v1/orders", "orders.create", json=body, idempotent=True)
        top_up = {"amount_fen": order["payable_fen"]}
        call(me, "POST", "/api/v1/wallet/top-ups", "wallet.top_up", json=top_up, idempotent=True)
        call(me, "POST", f"/api/v1/orders/{order['id']}/pay", "orders.pay", idempotent=True)
        self.paid[day][person.consumer_id] = int(order["payable_fen"])  # one a day at most
        self.advance()  # a live worker keeps up: it dates the coupon's use when it sees the pay

    def _prepare(self) -> None:
        """The eve: the members' segment and coupon, the campaign to send them at midnight."""
        self.advance()  # the day's favorites and orders reach analytics, where segments read
        opens, closes = (self.day_zero + timedelta(days=d) for d in (1, 2))
        tag = f"festival-{self.seed}"
        members = {"name": "Members", "out_request_no": tag, "rule": MEMBERS}
        segment = self._as(self.owner, "POST", "/api/v1/segments", "segment", members)
        self.segment = int(segment["size"])
        coupon = COUPON | {
            "out_biz_no": tag,
            "claim_begin": (self.day_zero + timedelta(seconds=EVE)).isoformat(),
            "claim_end": closes.isoformat(),
            "validity": {"begin": opens.isoformat(), "end": closes.isoformat()},
        }
        self.activity = self._as(self.owner, "POST", ACTIVITIES, "coupons", coupon)["id"]
        campaign = CAMPAIGN | {
            "out_request_no": tag,
            "segment_id": segment["id"],
            "template_id": self.template,
            "activity_id": self.activity,
            "holdout_percent": self.plan.holdout_percent,
            "start_at": opens.isoformat(),
        }
        self.campaign = self._as(self.owner, "POST", CAMPAIGNS, "campaign", campaign)["id"]

    def _invited(self, person: world.Person) -> bool:
        inbox = self.api.call(person.actor, "GET", "/api/v1/me/messages", "msg.inbox")
        return any(m["merchant_id"] == self.merchant_id and m["title"] == TITLE for m in inbox)

    def _measure(self, received: int) -> Outcome:
        owner, paid = self.owner, self.paid[1]
        board = self._as(owner, "GET", "/api/v1/dashboard/ccare", "dashboard", days=7)
        daily = {d["day"]: Day(d["paid_orders"], d["paid_fen"]) for d in board["worth"]["daily"]}
        today = date.fromisoformat(board["period"]["last_day"])
        results = self._as(owner, "GET", f"{CAMPAIGNS}/{self.campaign}/results", "results")
        coupons = self._as(owner, "GET", f"{ACTIVITIES}/{self.activity}", "coupons")
        after, arms = self._profiles(), self._arms()
        treated, held = ({c for c, a in arms.items() if a == x} for x in ("treatment", "holdout"))
        return Outcome(
            days=(daily[str(today - timedelta(days=2))], daily[str(today - timedelta(days=1))]),
            members=(self.before[0], after[0] - self.before[0]),
            others=(self.before[1], after[1] - self.before[1]),
            made=(_day(self.paid[0]), _day(paid)),
            visits=(self.visits[0], self.visits[1]),
            segment=self.segment,
            coupons=(coupons["issued"], after[2] - self.before[2]),
            received=received,
            results=results,
            arms_made=(_day(paid, treated), _day(paid, held)),
            effect=self.plan.effect,
        )

    def _profiles(self) -> tuple[Day, Day, int]:
        """Paid orders and GMV to date of members and of everyone else; coupons used."""
        totals, used, offset, total = [[0, 0], [0, 0]], 0, 0, 1
        while offset < total:
            page = self._as(self.owner, "GET", PROFILES, "profiles", limit=200, offset=offset)
            for row in page["items"]:
                group = totals[row["member_level"] not in LEVELS]
                group[0] += row["orders"]
                group[1] += row["gmv_fen"]
                used += row["coupons_used"]
            offset, total = offset + len(page["items"]), page["total"] if page["items"] else 0
        return Day(*totals[0]), Day(*totals[1]), used

    def _arms(self) -> dict[int, str]:
        arms: dict[int, str] = {}
        path, after = f"{CAMPAIGNS}/{self.campaign}/members", 0
        while page := self._as(self.owner, "GET", path, "members", after=after, limit=1000):
            arms.update((m["consumer_id"], m["arm"]) for m in page)
            after = page[-1]["consumer_id"]
        return arms


def _day(paid: dict[int, int], who: set[int] | None = None) -> Day:
    fen = [f for c, f in paid.items() if who is None or c in who]
    return Day(len(fen), sum(fen))
