"""The generalised second-price auction.

Every candidate is ranked by its expected value per thousand impressions (eCPM, in
milli-fen per impression): a CPM bid as it is, a click bid × pCTR, an oCPC target cost per
conversion × pCTR × pCVR. Search ads multiply by their quality score. Each winner pays the
least it could have bid and kept its rank, never less than the placement's reserve and
never more than its own bid, rounded up to a whole milli-fen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from math import ceil


@dataclass(frozen=True, slots=True)
class Bid:
    key: int  # the caller's candidate index
    per_click: bool  # priced per click (CPC, oCPC) or per impression (CPM)
    bid_millifen: int  # per click, or per impression (= fen per mille)
    pctr: float
    quality: float = 1.0  # search quality score; 1 elsewhere

    @property
    def ecpm(self) -> float:
        """Expected milli-fen per impression, times quality: the rank score."""
        value = self.bid_millifen * self.pctr if self.per_click else float(self.bid_millifen)
        return value * self.quality

    def price_for(self, score: float) -> int:
        """The bid (in this bid's own unit) whose rank score equals `score`."""
        per_unit = self.pctr * self.quality if self.per_click else self.quality
        return ceil(score / per_unit - 1e-9)


@dataclass(frozen=True, slots=True)
class Win:
    key: int
    rank: int  # 1 = first slot
    price_millifen: int  # per click or per impression, as the bid
    ecpm: float


def run(
    bids: Sequence[Bid],
    slots: int,
    reserve_click_millifen: int,
    reserve_impression_millifen: int,
) -> list[Win]:
    """Winners for up to `slots` positions, best first. A bid below the reserve of its unit
    does not take part; ties go to the lower key (the earlier ad group)."""

    def reserve(b: Bid) -> int:
        return reserve_click_millifen if b.per_click else reserve_impression_millifen

    eligible = [b for b in bids if b.bid_millifen >= reserve(b) and b.ecpm > 0]
    eligible.sort(key=lambda b: (-b.ecpm, b.key))
    wins: list[Win] = []
    for rank, bid in enumerate(eligible[:slots], start=1):
        below = eligible[rank] if rank < len(eligible) else None
        price = reserve(bid)
        if below is not None:
            price = max(price, bid.price_for(below.ecpm))
        wins.append(Win(bid.key, rank, min(price, bid.bid_millifen), bid.ecpm))
    return wins
