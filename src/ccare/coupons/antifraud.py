"""The anti-cheating filter on coupon claims: a transparent rule table over risk features.

`decide` turns a claim's `ClaimFeatures` (plain values computed elsewhere from the
platform's risk data) into a `Decision`: pass, challenge or reject, a score from 0 to 100
and the reasons behind it. Every rule is a row of `RULES`: a measure of the features, a
direction and weighted tiers, the heaviest tier that matches counts. The score is the sum
of the matched weights, capped at 100; each strictness sets the score at which a claim is
challenged and the score at which it is rejected. A hit on any blacklist rejects unless the
filter is off; `off` always passes but still reports the score and the reasons, so a
merchant can see what the filter would have done before switching it on.

Pure and deterministic: no database, no clock, no randomness.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any, Literal

RULES_VERSION = 1
MAX_SCORE = 100
MIN_CLAIMS_FOR_USE_RATIO = 5  # fewer claims say nothing about a habit
MIN_TRAVEL_KM = 100.0  # shorter jumps are within the error of locating an IP
MIN_TRAVEL_MINUTES = 1.0  # two claims in the same minute count as one minute apart


class Strictness(StrEnum):
    OFF = "off"
    LENIENT = "lenient"
    STANDARD = "standard"
    STRICT = "strict"


class Outcome(StrEnum):
    PASS = "pass"
    CHALLENGE = "challenge"
    REJECT = "reject"


@dataclass(frozen=True)
class ClaimFeatures:
    """What the risk data says about one claim, as seen at the moment of the claim."""

    account_age_days: float
    accounts_on_device: int = 1  # distinct accounts that claimed on this device, this one included
    claims_from_ip_last_hour: int = 0  # earlier claims from the same IP in the last 60 minutes
    distinct_cities_last_day: int = 1  # cities of the account's claims in 24 h, this one included
    km_from_last_claim: float | None = None
    minutes_since_last_claim: float | None = None
    claims_last_30d: int = 0  # the account's earlier claims, on any merchant
    uses_last_30d: int = 0  # of those, coupons the account used itself
    feeds_redeemer: int = 0  # claimers whose coupons the account's redeemer has redeemed
    device_blacklisted: bool = False
    account_blacklisted: bool = False
    ip_blacklisted: bool = False
    has_real_name: bool = True


Direction = Literal["at_least", "above", "below"]


@dataclass(frozen=True)
class Rule:
    """One row of the table: `measure` of the features against `tiers`, heaviest first."""

    code: str
    measure: str
    direction: Direction
    tiers: tuple[tuple[float, int], ...]  # (threshold, weight)
    unit: str
    summary: str


RULES: tuple[Rule, ...] = (
    Rule(
        "risk.device_shared",
        "accounts_on_device",
        "at_least",
        ((10, 40), (5, 25), (3, 10)),
        "accounts",
        "Many accounts claiming on one device in the last 7 days: a device farm. "
        "Two accounts, a couple sharing a phone, cost nothing.",
    ),
    Rule(
        "risk.new_account",
        "account_age_days",
        "below",
        ((1, 25), (7, 15), (30, 5)),
        "days",
        "An account opened shortly before the claim.",
    ),
    Rule(
        "risk.ip_velocity",
        "claims_from_ip_last_hour",
        "at_least",
        ((100, 30), (30, 20), (10, 10)),
        "claims",
        "Claims from the same IP in the last hour; offices and campuses share one too, "
        "so this weighs little alone.",
    ),
    Rule(
        "risk.geo_velocity",
        "travel_km_per_hour",
        "above",
        ((1000, 25), (400, 15)),
        "km/h",
        "Speed implied by the distance and time since the account's last claim, over "
        f"{MIN_TRAVEL_KM:g} km or more: faster than a train, then faster than a plane.",
    ),
    Rule(
        "risk.city_hopping",
        "distinct_cities_last_day",
        "at_least",
        ((5, 20), (3, 10)),
        "cities",
        "Cities the account claimed from in the last 24 hours.",
    ),
    Rule(
        "risk.claim_without_use",
        "unused_percent",
        "at_least",
        ((95, 25), (80, 15)),
        "%",
        "Share of the account's claims in 30 days it never used itself, once it has "
        f"{MIN_CLAIMS_FOR_USE_RATIO} or more.",
    ),
    Rule(
        "risk.feeds_redeemer",
        "feeds_redeemer",
        "at_least",
        ((25, 45), (10, 35), (5, 20)),
        "claimers",
        "The account's coupons were redeemed by an account that redeems the coupons of "
        "many claimers; a family has two to four.",
    ),
    Rule(
        "risk.blacklisted",
        "blacklists_hit",
        "at_least",
        ((1, 50),),
        "lists",
        "Device, account or IP on the platform's blacklist; rejects unless the filter is off.",
    ),
    Rule(
        "risk.no_real_name",
        "without_real_name",
        "at_least",
        ((1, 10),),
        "",
        "The account has not verified a real name.",
    ),
)


@dataclass(frozen=True)
class Thresholds:
    challenge: int  # a score at or above this is challenged
    reject: int  # a score at or above this is rejected


THRESHOLDS: dict[Strictness, Thresholds | None] = {
    Strictness.OFF: None,
    Strictness.LENIENT: Thresholds(challenge=60, reject=90),
    Strictness.STANDARD: Thresholds(challenge=40, reject=70),
    Strictness.STRICT: Thresholds(challenge=25, reject=50),
}


def _travel_km_per_hour(f: ClaimFeatures) -> float | None:
    if f.km_from_last_claim is None or f.minutes_since_last_claim is None:
        return None
    if f.km_from_last_claim < MIN_TRAVEL_KM:
        return None
    minutes = max(f.minutes_since_last_claim, MIN_TRAVEL_MINUTES)
    return f.km_from_last_claim * 60.0 / minutes


def _unused_percent(f: ClaimFeatures) -> float | None:
    if f.claims_last_30d < MIN_CLAIMS_FOR_USE_RATIO:
        return None
    unused = max(f.claims_last_30d - f.uses_last_30d, 0)
    return unused * 100 // f.claims_last_30d


def _blacklists_hit(f: ClaimFeatures) -> float:
    return float(f.device_blacklisted + f.account_blacklisted + f.ip_blacklisted)


MEASURES: dict[str, Callable[[ClaimFeatures], float | None]] = {
    "accounts_on_device": lambda f: f.accounts_on_device,
    "account_age_days": lambda f: f.account_age_days,
    "claims_from_ip_last_hour": lambda f: f.claims_from_ip_last_hour,
    "travel_km_per_hour": _travel_km_per_hour,
    "distinct_cities_last_day": lambda f: f.distinct_cities_last_day,
    "unused_percent": _unused_percent,
    "feeds_redeemer": lambda f: f.feeds_redeemer,
    "blacklists_hit": _blacklists_hit,
    "without_real_name": lambda f: 0.0 if f.has_real_name else 1.0,
}


@dataclass(frozen=True)
class Reason:
    code: str
    weight: int
    detail: str


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    score: int
    reasons: tuple[Reason, ...]
    strictness: Strictness
    raw_score: int  # before the cap
    blacklisted: bool
    features: ClaimFeatures

    @property
    def blocked(self) -> bool:
        return self.outcome is not Outcome.PASS

    def explanation(self) -> dict[str, Any]:
        """What is stored with the decision: enough to show and re-check it later."""
        thresholds = THRESHOLDS[self.strictness]
        return {
            "rules_version": RULES_VERSION,
            "outcome": self.outcome.value,
            "score": self.score,
            "raw_score": self.raw_score,
            "strictness": self.strictness.value,
            "thresholds": None if thresholds is None else asdict(thresholds),
            "blacklisted": self.blacklisted,
            "reasons": [asdict(r) for r in self.reasons],
            "features": asdict(self.features),
        }


def _matches(direction: Direction, value: float, threshold: float) -> bool:
    if direction == "at_least":
        return value >= threshold
    if direction == "above":
        return value > threshold
    return value < threshold


def _format(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def evaluate(rule: Rule, features: ClaimFeatures) -> Reason | None:
    """The reason `rule` gives for these features, or None when no tier matches."""
    value = MEASURES[rule.measure](features)
    if value is None:
        return None
    for threshold, weight in rule.tiers:
        if _matches(rule.direction, value, threshold):
            op = {"at_least": ">=", "above": ">", "below": "<"}[rule.direction]
            unit = f" {rule.unit}" if rule.unit else ""
            detail = f"{rule.measure} = {_format(value)}{unit} ({op} {_format(threshold)})"
            return Reason(rule.code, weight, detail)
    return None


def _outcome(score: int, blacklisted: bool, strictness: Strictness) -> Outcome:
    thresholds = THRESHOLDS[strictness]
    if thresholds is None:
        return Outcome.PASS
    if blacklisted or score >= thresholds.reject:
        return Outcome.REJECT
    if score >= thresholds.challenge:
        return Outcome.CHALLENGE
    return Outcome.PASS


def decide(features: ClaimFeatures, strictness: Strictness) -> Decision:
    reasons = tuple(r for rule in RULES if (r := evaluate(rule, features)) is not None)
    raw = sum(r.weight for r in reasons)
    score = min(raw, MAX_SCORE)
    blacklisted = _blacklists_hit(features) > 0
    return Decision(
        outcome=_outcome(score, blacklisted, strictness),
        score=score,
        reasons=reasons,
        strictness=strictness,
        raw_score=raw,
        blacklisted=blacklisted,
        features=features,
    )


def rule_table() -> list[dict[str, Any]]:
    """The rules and thresholds as plain data, for the console."""
    return [
        {
            "code": rule.code,
            "measure": rule.measure,
            "direction": rule.direction,
            "tiers": [{"threshold": t, "weight": w} for t, w in rule.tiers],
            "unit": rule.unit,
            "summary": rule.summary,
        }
        for rule in RULES
    ]
