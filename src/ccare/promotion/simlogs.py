"""Seeded simulator of ad logs (impressions → clicks → conversions) for the prediction model.

Every ad group has a hidden true click-through rate that depends on the placement, the hour
of the week, the user's city and member level and, on search results, on whether the query
shares a term with the ad group's keywords. A click converts with a hidden per-ad-group rate
that depends on the member level. The same seed gives the same logs.

The features of each impression are those `ccare.promotion.prediction` accepts, so logs can
be fed to `Model.learn` directly; the true rates are kept for evaluation only.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

PLACEMENTS: tuple[str, ...] = (
    "home_feed",
    "search_results",
    "payment_success",
    "coupon_venue",
    "car_life",
    "citizen_services",
    "medical",
    "iot",
)
CITIES: tuple[str, ...] = (
    "310100",  # Shanghai
    "110100",  # Beijing
    "330100",  # Hangzhou
    "440100",  # Guangzhou
    "440300",  # Shenzhen
    "510100",  # Chengdu
    "420100",  # Wuhan
    "320100",  # Nanjing
)
MEMBER_LEVELS: tuple[str, ...] = ("none", "silver", "gold", "platinum")
TERMS: tuple[str, ...] = (
    "咖啡",
    "奶茶",
    "火锅",
    "洗车",
    "加油",
    "挂号",
    "体检",
    "电影",
    "外卖",
    "超市",
    "健身",
    "理发",
)
HOURS_PER_WEEK = 168


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


@dataclass(frozen=True, slots=True)
class AdGroup:
    id: int
    advertiser: int
    creatives: tuple[int, ...]
    keywords: tuple[str, ...]
    base_logit: float
    cvr: float
    placement_effect: dict[str, float] = field(hash=False)
    city_effect: dict[str, float] = field(hash=False)


@dataclass(frozen=True, slots=True)
class LogRecord:
    """One logged impression: its features, the outcome and the hidden true rates."""

    ts: int  # seconds since the start of the simulated week
    features: dict[str, Any]
    clicked: bool
    converted: bool
    true_ctr: float
    true_cvr: float


class LogSimulator:
    """Ad groups with hidden rates; `impressions(n)` yields seeded log records in time order."""

    def __init__(
        self,
        *,
        seed: int = 7,
        n_ad_groups: int = 300,
        n_advertisers: int = 60,
        n_users: int = 20_000,
        mean_ctr: float = 0.03,
        signal: float = 1.0,
    ) -> None:
        if n_ad_groups < 1 or n_advertisers < 1 or n_users < 1:
            raise ValueError("n_ad_groups, n_advertisers and n_users must be positive")
        if not 0.0 < mean_ctr < 0.5:
            raise ValueError("mean_ctr must be in (0, 0.5)")
        self.rng = random.Random(seed)
        rng = self.rng
        self.signal = signal
        base = math.log(mean_ctr / (1.0 - mean_ctr))
        self.placement_effect = {p: rng.gauss(0.0, 0.5) * signal for p in PLACEMENTS}
        self.city_effect = {c: rng.gauss(0.0, 0.2) * signal for c in CITIES}
        self.level_effect = {lvl: i * 0.15 * signal for i, lvl in enumerate(MEMBER_LEVELS)}
        self.ad_groups: list[AdGroup] = []
        creative_id = 1
        for gid in range(1, n_ad_groups + 1):
            n_creatives = rng.randint(1, 3)
            creatives = tuple(range(creative_id, creative_id + n_creatives))
            creative_id += n_creatives
            self.ad_groups.append(
                AdGroup(
                    id=gid,
                    advertiser=rng.randint(1, n_advertisers),
                    creatives=creatives,
                    keywords=tuple(rng.sample(TERMS, 2)),
                    base_logit=base + rng.gauss(0.0, 0.7) * signal,
                    cvr=min(0.6, max(0.01, rng.lognormvariate(math.log(0.08), 0.5))),
                    placement_effect={p: rng.gauss(0.0, 0.5) * signal for p in PLACEMENTS},
                    city_effect={c: rng.gauss(0.0, 0.3) * signal for c in CITIES},
                )
            )
        # Popularity is skewed: a few ad groups win most auctions, many are rarely shown.
        self._weights = [1.0 / (i + 1) ** 0.8 for i in range(n_ad_groups)]
        self._users = [
            (rng.choice(CITIES), rng.choices(MEMBER_LEVELS, weights=(5, 3, 2, 1))[0])
            for _ in range(n_users)
        ]
        self._ts = 0

    def hour_effect(self, hour_of_week: int) -> float:
        hour = hour_of_week % 24
        weekend = hour_of_week // 24 >= 5
        return self.signal * (
            0.4 * math.sin((hour - 8) / 24 * 2 * math.pi) + (0.15 if weekend else 0.0)
        )

    def true_ctr(
        self,
        group: AdGroup,
        placement: str,
        hour_of_week: int,
        city: str,
        level: str,
        query: tuple[str, ...] = (),
    ) -> float:
        logit = (
            group.base_logit
            + self.placement_effect[placement]
            + group.placement_effect[placement]
            + self.city_effect[city]
            + group.city_effect[city]
            + self.level_effect[level]
            + self.hour_effect(hour_of_week)
        )
        if query:
            logit += (1.2 if set(query) & set(group.keywords) else -0.8) * self.signal
        return _sigmoid(logit)

    def impressions(self, n: int) -> Iterator[LogRecord]:
        rng = self.rng
        for _ in range(n):
            self._ts += rng.randint(1, 30)
            hour_of_week = (self._ts // 3600) % HOURS_PER_WEEK
            group = rng.choices(self.ad_groups, weights=self._weights)[0]
            placement = rng.choice(PLACEMENTS)
            user = rng.randrange(len(self._users))
            city, level = self._users[user]
            query: tuple[str, ...] = ()
            if placement == "search_results":
                query = tuple(rng.sample(TERMS, rng.randint(1, 2)))
            ctr = self.true_ctr(group, placement, hour_of_week, city, level, query)
            cvr = min(0.95, group.cvr * (1.0 + 0.3 * MEMBER_LEVELS.index(level)))
            clicked = rng.random() < ctr
            converted = clicked and rng.random() < cvr
            features: dict[str, Any] = {
                "placement": placement,
                "ad_group": group.id,
                "advertiser": group.advertiser,
                "creative": rng.choice(group.creatives),
                "city": city,
                "hour_of_week": hour_of_week,
                "member_level": level,
            }
            if query:
                features["query_terms"] = list(query)
            yield LogRecord(self._ts, features, clicked, converted, ctr, cvr)


def simulate(n: int, *, seed: int = 7, **kwargs: Any) -> list[LogRecord]:
    """`n` seeded log records in time order (see `LogSimulator` for the knobs)."""
    return list(LogSimulator(seed=seed, **kwargs).impressions(n))
