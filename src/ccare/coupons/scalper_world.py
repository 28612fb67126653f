"""A seeded synthetic world for judging the anti-cheating filter (`antifraud.decide`).

One home-services merchant in Hangzhou drops `daily_stock` coupons at 10:00 on each of
`days` days; a consumer may claim once a day. Genuine consumers (old accounts, own
phones, some families sharing a tablet, office and carrier IPs shared with others, a few
travellers and coupon hoarders, a few brand-new accounts) claim over the day and mostly
use their coupons later. Scalper rings claim in the first minutes and hand their coupons
to a few redeeming accounts. Everyone also claims other merchants' coupons on the
platform in the 27 days before and during the activity, which is what the risk data
remembers.

`replay` runs the claim stream in time order for one strictness: the features of each
claim come from `RiskData`, which sees only what the platform sees (attempts, issued
coupons, redemptions, account facts, blacklists), never the labels; a refused claim takes
no stock and leaves no coupon to redeem, so later features follow the filter's decisions.
`measure` scores the decisions against the labels.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from ccare.coupons.antifraud import ClaimFeatures, Decision, Outcome, Strictness, decide

DAY = 1440.0  # minutes
HOUR = 60.0
DROP_MINUTE = 10 * HOUR  # the daily drop opens at 10:00
HISTORY_DAYS = 27  # the world starts 27 days before the activity, inside every 30-day window
DEVICE_LOOKBACK = 7 * DAY
FACE_VALUE_FEN = 500
HOME = "Hangzhou"
GENUINE = "genuine"

CITIES: dict[str, tuple[float, float]] = {
    "Hangzhou": (30.27, 120.16),
    "Shanghai": (31.23, 121.47),
    "Nanjing": (32.06, 118.80),
    "Hefei": (31.82, 117.23),
    "Wuhan": (30.59, 114.31),
    "Beijing": (39.90, 116.40),
    "Guangzhou": (23.13, 113.26),
    "Shenzhen": (22.54, 114.06),
    "Chengdu": (30.57, 104.07),
    "Xi'an": (34.34, 108.94),
    "Chongqing": (29.56, 106.55),
    "Xiamen": (24.48, 118.09),
}
AWAY = tuple(c for c in CITIES if c != HOME)


def km_between(a: str, b: str) -> float:
    (lat1, lon1), (lat2, lon2) = CITIES[a], CITIES[b]
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


@dataclass(frozen=True)
class Account:
    id: int
    created: float  # minute, relative to 00:00 of the activity's first day
    real_name: bool


@dataclass(frozen=True)
class Attempt:
    """A claim attempt and what its claimer would do with the coupon if it were issued."""

    at: float
    account: int
    device: str
    ip: str
    city: str
    target: bool  # on the merchant's activity (decided and measured), else another merchant's
    redeemer: int | None = None  # who redeems the coupon; None: nobody does
    use_after: float = 0.0
    solves_challenge: bool = False


@dataclass(frozen=True)
class RingSpec:
    name: str
    accounts: int
    accounts_per_device: int
    ips: int  # shared by the ring; 0: each member claims from its own home line
    age_days: tuple[float, float]
    real_name_share: float
    history_claims: tuple[int, int]
    own_use_share: float  # of history coupons, used by the claimer itself
    hubs: int
    spread_minutes: float  # how long after the drop its claims arrive
    solves_challenge: float
    history_share: float = 1.0  # accounts with a claim history at all
    fresh_device_daily: bool = False
    hops: bool = False  # claims through proxies in other cities minutes apart
    blacklisted_devices: float = 0.0
    blacklisted_accounts: float = 0.0
    blacklisted_ips: int = 0
    participation: float = 0.9


# Columns: name, accounts, accounts per device, shared IPs, age in days, real-name share,
# history claims, own-use share, redeeming hubs, minutes after the drop, challenge solved.
RINGS: tuple[RingSpec, ...] = (
    RingSpec(
        "device-farm", 220, 12, 4, (0.0, 5.0), 0.2, (0, 3), 0.0, 2, 4.0, 0.05,
    ),
    RingSpec(
        "proxy-hoppers", 160, 1, 10, (3.0, 25.0), 0.5, (2, 8), 0.1, 2, 10.0, 0.1,
        fresh_device_daily=True, hops=True,
    ),
    RingSpec(
        "aged-accounts", 180, 4, 12, (60.0, 600.0), 1.0, (8, 25), 0.05, 3, 15.0, 0.3,
    ),
    # Part-timers from a task platform on their own old accounts, phones and home lines,
    # handing their coupons to two redeemers; two in five are new to it, with no history.
    RingSpec(
        "crowd-workers", 150, 1, 0, (200.0, 2500.0), 1.0, (2, 8), 0.4, 2, 40.0, 0.8,
        history_share=0.6,
    ),
    RingSpec(
        "blacklisted-repeat", 60, 3, 6, (10.0, 200.0), 0.3, (3, 10), 0.0, 1, 3.0, 0.1,
        blacklisted_devices=1.0, blacklisted_accounts=0.2, blacklisted_ips=2,
    ),
    # Old verified accounts on their own phones behind residential proxies, selling each
    # coupon to a different buyer: the hardest to tell from a genuine hoarder.
    RingSpec(
        "resellers", 80, 1, 40, (100.0, 1500.0), 0.9, (3, 12), 0.3, 200, 30.0, 0.7,
    ),
)  # fmt: skip


@dataclass(frozen=True)
class Scenario:
    seed: int = 7
    genuine: int = 2000
    ring_scale: float = 1.0
    days: int = 3
    daily_stock: int = 800
    rings: tuple[RingSpec, ...] = RINGS


@dataclass
class World:
    scenario: Scenario
    accounts: dict[int, Account]
    attempts: list[Attempt]  # in time order
    labels: dict[int, str]  # account -> GENUINE or the ring's name; for scoring only
    blacklisted_devices: frozenset[str]
    blacklisted_accounts: frozenset[int]
    blacklisted_ips: frozenset[str]

    @property
    def stock(self) -> int:
        return self.scenario.daily_stock * self.scenario.days


# --- generation ------------------------------------------------------------------------------


@dataclass
class _Builder:
    rng: random.Random
    scenario: Scenario
    accounts: dict[int, Account] = field(default_factory=dict)
    attempts: list[Attempt] = field(default_factory=list)
    labels: dict[int, str] = field(default_factory=dict)
    bad_devices: set[str] = field(default_factory=set)
    bad_accounts: set[int] = field(default_factory=set)
    bad_ips: set[str] = field(default_factory=set)

    @property
    def end(self) -> float:
        return self.scenario.days * DAY

    def new_account(self, label: str, created: float, real_name: bool) -> int:
        account_id = len(self.accounts) + 1
        self.accounts[account_id] = Account(account_id, created, real_name)
        self.labels[account_id] = label
        return account_id

    def daytime(self, start: float, end: float) -> float | None:
        """A time in [start, end) between 08:00 and 23:00, or None if there is none."""
        if start >= end:
            return None
        for _ in range(20):
            t = self.rng.uniform(start, end)
            if 8 * HOUR <= t % DAY < 23 * HOUR:
                return t
        return None

    def drop_days(self, share: float) -> list[int]:
        return [d for d in range(self.scenario.days) if self.rng.random() < share]


def _carrier_ip_number(city: str, k: int) -> str:
    return f"carrier:{city}:{k}"


def _carrier_ip(city: str, rng: random.Random) -> str:
    return _carrier_ip_number(city, rng.randrange(40))


@dataclass
class _Consumer:
    id: int
    home_ip: str
    phone: str
    shared_device: str | None
    office_ip: str | None
    use_share: float
    redeemer: int  # a family's coupons are often redeemed by one member
    trip: tuple[float, float, str] | None


def _genuine_place(b: _Builder, c: _Consumer, t: float) -> tuple[str, str, str]:
    """Device, IP and city of a genuine claim at minute t."""
    rng = b.rng
    if c.trip is not None and c.trip[0] <= t < c.trip[1]:
        return c.phone, _carrier_ip(c.trip[2], rng), c.trip[2]
    device = c.shared_device if c.shared_device and rng.random() < 0.6 else c.phone
    hour = (t % DAY) / HOUR
    if c.office_ip and 9 <= hour < 18 and int(t // DAY) % 7 < 5 and rng.random() < 0.8:
        return device, c.office_ip, HOME
    ip = c.home_ip if rng.random() < 0.55 else _carrier_ip(HOME, rng)
    return device, ip, HOME


def _genuine_use(b: _Builder, c: _Consumer) -> tuple[int | None, float]:
    if b.rng.random() >= c.use_share:
        return None, 0.0
    redeemer = c.redeemer if c.redeemer != c.id and b.rng.random() < 0.5 else c.id
    return redeemer, b.rng.uniform(HOUR, 7 * DAY)


def _genuine_age(rng: random.Random) -> tuple[float, float]:
    """Account age in days at the first claim, and the share with a verified real name."""
    r = rng.random()
    if r < 0.02:
        return rng.uniform(0.005, 0.9), 0.4  # opened for this coupon
    if r < 0.05:
        return rng.uniform(1.0, 30.0), 0.7
    return rng.uniform(30.0, 3000.0), 0.95


def _add_genuine(b: _Builder) -> None:
    rng = b.rng
    n = b.scenario.genuine
    offices = [f"office:{k}" for k in range(2)]
    # Scalpers once used this carrier address; the consumers behind it now share the ban.
    b.bad_ips.add(_carrier_ip_number(HOME, 0))
    made = 0
    while made < n:
        size = min(1 if rng.random() < 0.85 else rng.randint(2, 4), n - made)
        tablet = f"tablet:{made}" if size > 1 else None
        home_ip = f"home:{made}"
        head = len(b.accounts) + 1
        for _ in range(size):
            _new_consumer(b, head, home_ip, tablet, offices)
        made += size


def _new_consumer(
    b: _Builder, head: int, home_ip: str, tablet: str | None, offices: list[str]
) -> _Consumer:
    rng = b.rng
    day = rng.randrange(b.scenario.days)
    first = day * DAY + _genuine_minute(rng)
    age, real_name_share = _genuine_age(rng)
    account = b.new_account(GENUINE, first - age * DAY, rng.random() < real_name_share)
    trip = None
    if rng.random() < 0.06:
        start = rng.uniform(-HISTORY_DAYS * DAY, b.end)
        trip = (start, start + rng.uniform(1, 4) * DAY, rng.choice(AWAY))
    office = rng.choice(offices) if rng.random() < 0.12 else None
    hoarder = rng.random() < 0.1
    consumer = _Consumer(
        id=account,
        home_ip=home_ip,
        phone=f"phone:{account}",
        shared_device=tablet,
        office_ip=office,
        use_share=0.15 if hoarder else 0.85,
        redeemer=head,
        trip=trip,
    )
    _genuine_history(b, consumer, 15 if hoarder else 6)
    b.attempts.append(_genuine_attempt(b, consumer, first))
    if b.scenario.days > 1 and rng.random() < 0.15:  # back on another day of the activity
        other = (day + rng.randint(1, b.scenario.days - 1)) % b.scenario.days
        again = other * DAY + _genuine_minute(rng)
        if again > b.accounts[account].created:
            b.attempts.append(_genuine_attempt(b, consumer, again))
    return consumer


def _genuine_minute(rng: random.Random) -> float:
    if rng.random() < 0.35:  # the reminder crowd right at the drop
        return DROP_MINUTE + min(rng.expovariate(1 / 12), HOUR)
    return rng.uniform(DROP_MINUTE, 22 * HOUR)


def _genuine_attempt(b: _Builder, c: _Consumer, t: float, target: bool = True) -> Attempt:
    device, ip, city = _genuine_place(b, c, t)
    redeemer, after = _genuine_use(b, c)
    solves = b.rng.random() < 0.9
    return Attempt(t, c.id, device, ip, city, target, redeemer, after, solves)


def _genuine_history(b: _Builder, c: _Consumer, most: int) -> None:
    created = b.accounts[c.id].created
    start = max(created, -HISTORY_DAYS * DAY)
    for _ in range(b.rng.randint(0, most)):
        t = b.daytime(start, b.end)
        if t is not None:
            b.attempts.append(_genuine_attempt(b, c, t, target=False))
    if c.trip is not None and b.rng.random() < 0.3:
        _airport_claims(b, c)


def _airport_claims(b: _Builder, c: _Consumer) -> None:
    """A claim at the departure gate and one on landing, a flight apart."""
    assert c.trip is not None
    leave, _, city = c.trip
    flight = b.rng.uniform(2.0, 4.0) * HOUR
    if leave < b.accounts[c.id].created or leave + flight >= b.end:
        return
    for t, place in ((leave - 1.0, HOME), (leave + flight, city)):
        redeemer, after = _genuine_use(b, c)
        b.attempts.append(
            Attempt(t, c.id, c.phone, _carrier_ip(place, b.rng), place, False, redeemer, after)
        )


# --- rings -----------------------------------------------------------------------------------


@dataclass
class _Ring:
    spec: RingSpec
    members: list[int]
    devices: dict[int, str]
    ips: list[str]
    hubs: list[int]


def _add_ring(b: _Builder, spec: RingSpec) -> None:
    rng = b.rng
    size = max(1, round(spec.accounts * b.scenario.ring_scale))
    hub_count = max(1, round(spec.hubs * b.scenario.ring_scale))
    hubs = [b.new_account(spec.name, -HISTORY_DAYS * DAY, True) for _ in range(hub_count)]
    shared = max(1, round(spec.ips * b.scenario.ring_scale)) if spec.ips else size
    ips = [f"{spec.name}:ip:{k}" for k in range(shared)]
    b.bad_ips.update(ips[: spec.blacklisted_ips])
    members, devices = [], {}
    for k in range(size):
        age = rng.uniform(*spec.age_days)
        account = b.new_account(
            spec.name, DROP_MINUTE - age * DAY, rng.random() < spec.real_name_share
        )
        members.append(account)
        devices[account] = f"{spec.name}:dev:{k // spec.accounts_per_device}"
        if rng.random() < spec.blacklisted_accounts:
            b.bad_accounts.add(account)
    for device in set(devices.values()):
        if rng.random() < spec.blacklisted_devices:
            b.bad_devices.add(device)
    ring = _Ring(spec, members, devices, ips, hubs)
    for k, account in enumerate(members):
        ip = None if spec.ips else ips[k]
        _ring_history(b, ring, account, ip)
        _ring_claims(b, ring, account, ip)


def _ring_use(b: _Builder, ring: _Ring, account: int, own_share: float) -> tuple[int | None, float]:
    rng = b.rng
    if rng.random() < own_share:
        return account, rng.uniform(HOUR, 3 * DAY)
    if rng.random() < 0.95:
        return rng.choice(ring.hubs), rng.uniform(20.0, 180.0)
    return None, 0.0


def _ring_attempt(
    b: _Builder, ring: _Ring, account: int, t: float, ip: str | None, target: bool, own: float
) -> list[Attempt]:
    rng = b.rng
    spec = ring.spec
    device = ring.devices[account]
    if spec.fresh_device_daily:
        device = f"{device}:day{math.floor(t / DAY)}"
    redeemer, after = _ring_use(b, ring, account, own)
    solves = rng.random() < spec.solves_challenge
    chosen_ip = ip or rng.choice(ring.ips)
    claim = Attempt(t, account, device, chosen_ip, HOME, target, redeemer, after, solves)
    if not spec.hops:
        return [claim]
    hops = []
    for offset, city in zip(
        (-rng.uniform(8, 15), -rng.uniform(2, 7), rng.uniform(2, 10)),
        rng.sample(AWAY, 3),
        strict=True,
    ):
        r, a = _ring_use(b, ring, account, own)
        proxy = f"{spec.name}:proxy:{city}:{rng.randrange(10)}"
        hops.append(Attempt(t + offset, account, device, proxy, city, False, r, a))
    return [claim, *hops]


def _ring_history(b: _Builder, ring: _Ring, account: int, ip: str | None) -> None:
    spec = ring.spec
    if b.rng.random() >= spec.history_share:
        return
    start = max(b.accounts[account].created, -HISTORY_DAYS * DAY)
    for _ in range(b.rng.randint(*spec.history_claims)):
        t = b.daytime(start, 0.0)
        if t is not None:
            b.attempts.extend(_ring_attempt(b, ring, account, t, ip, False, spec.own_use_share))


def _ring_claims(b: _Builder, ring: _Ring, account: int, ip: str | None) -> None:
    spec = ring.spec
    for day in b.drop_days(spec.participation):
        t = day * DAY + DROP_MINUTE + b.rng.uniform(0.0, spec.spread_minutes)
        b.attempts.extend(_ring_attempt(b, ring, account, t, ip, True, 0.0))


def generate(scenario: Scenario) -> World:
    b = _Builder(random.Random(scenario.seed), scenario)
    _add_genuine(b)
    for spec in scenario.rings:
        _add_ring(b, spec)
    start = -HISTORY_DAYS * DAY
    attempts = sorted(
        (a for a in b.attempts if start <= a.at < b.end and a.at >= b.accounts[a.account].created),
        key=lambda a: (a.at, a.account),
    )
    return World(
        scenario, b.accounts, attempts, b.labels,
        frozenset(b.bad_devices), frozenset(b.bad_accounts), frozenset(b.bad_ips),
    )  # fmt: skip


# --- the platform's risk data ----------------------------------------------------------------


class RiskData:
    """What the platform knows at each moment: attempts, issued coupons, redemptions."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.device_accounts: dict[str, dict[int, float]] = defaultdict(dict)
        self.ip_times: dict[str, deque[float]] = defaultdict(deque)
        self.recent: dict[int, deque[tuple[float, str]]] = defaultdict(deque)
        self.claims: dict[int, int] = defaultdict(int)
        self.uses: dict[int, int] = defaultdict(int)
        self.redeemers_of: dict[int, set[int]] = defaultdict(set)
        self.claimers_of: dict[int, set[int]] = defaultdict(set)

    def features(self, a: Attempt) -> ClaimFeatures:
        w = self.world
        seen = self.device_accounts[a.device]
        on_device = {acc for acc, t in seen.items() if t >= a.at - DEVICE_LOOKBACK} | {a.account}
        ip_times = self.ip_times[a.ip]
        while ip_times and ip_times[0] < a.at - HOUR:
            ip_times.popleft()
        recent = self.recent[a.account]
        while recent and recent[0][0] < a.at - DAY:
            recent.popleft()
        last = recent[-1] if recent else None
        feeds = max((len(self.claimers_of[r]) for r in self.redeemers_of[a.account]), default=0)
        return ClaimFeatures(
            account_age_days=(a.at - w.accounts[a.account].created) / DAY,
            accounts_on_device=len(on_device),
            claims_from_ip_last_hour=len(ip_times),
            distinct_cities_last_day=len({c for _, c in recent} | {a.city}),
            km_from_last_claim=None if last is None else km_between(last[1], a.city),
            minutes_since_last_claim=None if last is None else a.at - last[0],
            claims_last_30d=self.claims[a.account],
            uses_last_30d=self.uses[a.account],
            feeds_redeemer=feeds,
            device_blacklisted=a.device in w.blacklisted_devices,
            account_blacklisted=a.account in w.blacklisted_accounts,
            ip_blacklisted=a.ip in w.blacklisted_ips,
            has_real_name=w.accounts[a.account].real_name,
        )

    def record_attempt(self, a: Attempt) -> None:
        self.device_accounts[a.device][a.account] = a.at
        self.ip_times[a.ip].append(a.at)
        self.recent[a.account].append((a.at, a.city))

    def record_issue(self, a: Attempt) -> None:
        self.claims[a.account] += 1

    def record_use(self, claimer: int, redeemer: int) -> None:
        if redeemer == claimer:
            self.uses[claimer] += 1
        self.redeemers_of[claimer].add(redeemer)
        self.claimers_of[redeemer].add(claimer)


# --- replay and measures ---------------------------------------------------------------------


@dataclass(frozen=True)
class Judged:
    attempt: Attempt
    decision: Decision
    issued: bool


def replay(world: World, strictness: Strictness) -> list[Judged]:
    """Every claim on the activity in time order, decided, then issued if stock allows."""
    risk = RiskData(world)
    stock = [world.scenario.daily_stock] * world.scenario.days
    queue: list[tuple[float, int, Attempt | None, tuple[int, int] | None]] = [
        (a.at, k, a, None) for k, a in enumerate(world.attempts)
    ]
    heapq.heapify(queue)
    seq = len(queue)
    judged: list[Judged] = []
    while queue:
        at, _, attempt, use = heapq.heappop(queue)
        if use is not None:
            risk.record_use(*use)
            continue
        assert attempt is not None
        issued = True
        if attempt.target:
            decision = decide(risk.features(attempt), strictness)
            day = int(attempt.at // DAY)
            allowed = decision.outcome is Outcome.PASS or (
                decision.outcome is Outcome.CHALLENGE and attempt.solves_challenge
            )
            issued = allowed and stock[day] > 0
            stock[day] -= issued
            judged.append(Judged(attempt, decision, issued))
        risk.record_attempt(attempt)
        if issued:
            risk.record_issue(attempt)
            if attempt.redeemer is not None:
                seq += 1
                when = at + attempt.use_after
                heapq.heappush(queue, (when, seq, None, (attempt.account, attempt.redeemer)))
    return judged


@dataclass(frozen=True)
class Figures:
    strictness: Strictness
    genuine_claims: int
    scalper_claims: int
    blocked_true: int  # scalper claims challenged or rejected
    blocked_false: int  # genuine claims challenged or rejected
    rejected_true: int
    rejected_false: int
    genuine_users: int
    genuine_users_blocked: int
    genuine_users_rejected: int
    scalper_coupons: int
    genuine_coupons: int
    genuine_users_served: int
    stock: int
    recall_by_ring: dict[str, float]

    @property
    def precision(self) -> float | None:
        return _ratio(self.blocked_true, self.blocked_true + self.blocked_false)

    @property
    def recall(self) -> float:
        return self.blocked_true / self.scalper_claims

    @property
    def reject_precision(self) -> float | None:
        return _ratio(self.rejected_true, self.rejected_true + self.rejected_false)

    @property
    def reject_recall(self) -> float:
        return self.rejected_true / self.scalper_claims

    @property
    def genuine_inconvenienced(self) -> float:
        return self.genuine_users_blocked / self.genuine_users

    @property
    def scalper_share_of_stock(self) -> float:
        return self.scalper_coupons / self.stock


def _ratio(a: int, b: int) -> float | None:
    return a / b if b else None


def measure(world: World, judged: Iterable[Judged], strictness: Strictness) -> Figures:
    counts: dict[str, int] = defaultdict(int)
    users: dict[str, set[int]] = defaultdict(set)
    ring_claims: dict[str, int] = defaultdict(int)
    ring_blocked: dict[str, int] = defaultdict(int)
    for j in judged:
        label = world.labels[j.attempt.account]
        side = "g" if label == GENUINE else "s"
        counts[side] += 1
        counts[side + "_blocked"] += j.decision.blocked
        counts[side + "_rejected"] += j.decision.outcome is Outcome.REJECT
        counts[side + "_coupons"] += j.issued
        if side == "g":
            users["all"].add(j.attempt.account)
            if j.decision.blocked:
                users["blocked"].add(j.attempt.account)
            if j.decision.outcome is Outcome.REJECT:
                users["rejected"].add(j.attempt.account)
            if j.issued:
                users["served"].add(j.attempt.account)
        else:
            ring_claims[label] += 1
            ring_blocked[label] += j.decision.blocked
    return Figures(
        strictness=strictness,
        genuine_claims=counts["g"],
        scalper_claims=counts["s"],
        blocked_true=counts["s_blocked"],
        blocked_false=counts["g_blocked"],
        rejected_true=counts["s_rejected"],
        rejected_false=counts["g_rejected"],
        genuine_users=len(users["all"]),
        genuine_users_blocked=len(users["blocked"]),
        genuine_users_rejected=len(users["rejected"]),
        scalper_coupons=counts["s_coupons"],
        genuine_coupons=counts["g_coupons"],
        genuine_users_served=len(users["served"]),
        stock=world.stock,
        recall_by_ring={r: ring_blocked[r] / n for r, n in sorted(ring_claims.items())},
    )


def evaluate(world: World, strictness: Strictness) -> Figures:
    return measure(world, replay(world, strictness), strictness)
