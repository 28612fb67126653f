"""An advertiser's day: is a daily budget spent along the day's traffic, or gone by the
morning rush?

Two shops advertise on the home feed, paying per 1,000 impressions. One ("open") has a
budget the day cannot exhaust; the other ("paced") a daily budget that would be gone by
mid-morning if it were shown on every feed it could be. Both fit in the feed's three
slots, so the open plan is shown on every feed opened: its impressions are the day's
traffic, the baseline the paced plan is judged against. Consumers open the app through
the day by their own rhythms (early risers, office hours, night owls), on the platform's
clock, which the caller moves to each visit (`clock`).

What the merchant would ask, answered from the platform's ad report and from the hours
the simulator saw each ad: how much of the budget was spent; when an unpaced plan with
that budget would have run dry (the traffic's cumulative cost reaching the budget); when
the paced plan's last ad of the day ran; and how far its hour-by-hour delivery strayed
from the traffic (the largest gap between the two cumulative curves: 0 is spending
exactly along the traffic, 1 is all of it in one hour the traffic barely had).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from itertools import accumulate

from ccare.sim import cast, runner, strategies, world
from ccare.sim.api import Actor, Api

HOURS = 24
MIN_BUDGET_FEN = 1_000  # the platform's smallest daily budget


@dataclass(frozen=True)
class Day:
    budget_fen: int
    spent_fen: int  # the paced plan's spend, as the ad report says
    open_spent_fen: int
    paced: tuple[int, ...]  # the paced plan's impressions per local hour
    traffic: tuple[int, ...]  # the open plan's: feeds opened per local hour
    unpaced: tuple[int, ...]  # what an unpaced plan with the budget would have had per hour
    dry_minute: int | None  # when an unpaced plan with the budget would have run dry
    last_minute: int | None  # the paced plan's last impression of the day
    calls: int

    @property
    def spent_share(self) -> float:
        return self.spent_fen / self.budget_fen

    @property
    def gap(self) -> float:
        """The largest distance between the cumulative shares of the paced plan's
        impressions and of the traffic, over the hours of the day."""
        return _gap(self.paced, self.traffic)

    @property
    def unpaced_gap(self) -> float:
        """The same for an unpaced plan: the baseline."""
        return _gap(self.unpaced, self.traffic)


def _gap(delivered: tuple[int, ...], traffic: tuple[int, ...]) -> float:
    pairs = zip(_shares(delivered), _shares(traffic), strict=True)
    return max(abs(d - t) for d, t in pairs)


def _shares(per_hour: tuple[int, ...]) -> list[float]:
    total = sum(per_hour) or 1
    return [c / total for c in accumulate(per_hour)]


def ads_day(
    api: Api,
    operator_login: tuple[str, str],
    *,
    seed: int,
    consumers: int,
    clock: Callable[[int], None],
    advance: Callable[[], object],
    budget_share: float = 0.3,
    cpm_fen: int = 12_000,
) -> Day:
    """`cpm_fen`: the open plan's bid per 1,000 impressions, which the paced plan (bidding
    twice as much, so ranked first) pays in the second-price auction; `budget_share`: the
    paced budget as a share of what the day's traffic would cost it at that price (never
    below the platform's minimum daily budget); `advance` runs the platform's worker (the
    report reads the analytics events), a no-op against a live server."""
    drawn = cast.draw(seed, merchants=2, consumers=consumers, rings=0)
    built = world.build(api, drawn, *operator_login, top_up=False, strategies=False)
    visits = [e for e in runner.schedule(built, 1) if e.kind == "visit"]
    per_impression = cpm_fen / 1_000
    budget = max(MIN_BUDGET_FEN, round(budget_share * len(visits) * per_impression))
    paced_shop, open_shop = built.shops
    strategies.advertise(
        api, built.operator, paced_shop, seed, charge_type="cpm", bid_fen=2 * cpm_fen,
        daily_budget_fen=budget, everywhere=True,
    )  # fmt: skip
    strategies.advertise(
        api, built.operator, open_shop, seed, charge_type="cpm", bid_fen=cpm_fen,
        daily_budget_fen=10 * len(visits) * cpm_fen, everywhere=True,
    )  # fmt: skip
    paced, traffic = [0] * HOURS, [0] * HOURS
    last, open_minutes = None, []
    for visit in visits:
        clock(visit.at)
        person = built.people[visit.who]
        shown = _open_feed(api, person.actor)
        hour = visit.at // 3_600
        if paced_shop.merchant_id in shown:
            paced[hour] += 1
            last = visit.at // 60
        if open_shop.merchant_id in shown:
            traffic[hour] += 1
            open_minutes.append(visit.at // 60)
    advance()
    needed = math.ceil(budget / per_impression)
    unpaced = [0] * HOURS
    for minute in open_minutes[:needed]:
        unpaced[minute // 60] += 1
    spent, open_spent = (_spent(api, shop.owner) for shop in (paced_shop, open_shop))
    return Day(
        budget_fen=budget,
        spent_fen=spent,
        open_spent_fen=open_spent,
        paced=tuple(paced),
        traffic=tuple(traffic),
        unpaced=tuple(unpaced),
        dry_minute=open_minutes[needed - 1] if needed <= len(open_minutes) else None,
        last_minute=last,
        calls=api.stats.total(),
    )


def _open_feed(api: Api, actor: Actor) -> set[int]:
    """The merchants whose ads the home feed showed (each impression posted)."""
    decision = api.call(
        actor, "POST", "/api/v1/ad-decisions", "ads.decide", json={"placement": "home_feed"}
    )
    for ad in decision["ads"]:
        api.call(
            actor,
            "POST",
            "/api/v1/ad-events/impressions",
            "ads.impression",
            json={"token": ad["impression_token"]},
        )
    return {int(ad["merchant_id"]) for ad in decision["ads"]}


def _spent(api: Api, owner: Actor) -> int:
    report = api.call(owner, "GET", "/api/v1/ad-reports", "ads.report", params={"by": "plan"})
    return int(report["total"]["spend_fen"])
