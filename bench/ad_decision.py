"""In-process ad decision latency at 10k, 100k and 1M ad groups.

    python bench/ad_decision.py
    python bench/ad_decision.py --sizes 10000 100000 --requests 3000

For each size, a seeded market of ad groups (1–3 of the 8 auctioned feed and vertical
placements each, 30% limited to some of 60 cities, 10% including segments, 15% excluding
one, 20% limited to member levels, 30% with a daily frequency cap, CPC and CPM, manual,
oCPC and target-ROI bidding) is put in a `ServingIndex`; a pCTR and a pCVR model learned
on 50k simulated impressions score the shortlist. Each request draws a random placement,
city, member level, hour and a few segments, then runs what `decisions.decide` runs after
its database reads: candidates through the postings, the masks, pacing, the shortlist,
the models, the auction. Prints p50/p99 per size against a same-run baseline that applies
the same masks to every ad group of the placement (a vectorised full scan, no postings).
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from datetime import date

import numpy as np

from ccare.promotion import decisions
from ccare.promotion.placements import BY_KEY
from ccare.promotion.prediction import Model
from ccare.promotion.serving import Context, ServingAd, ServingCreative, ServingIndex

PLACES = (
    "home_feed",
    "payment_success",
    "coupon_venue",
    "car_life",
    "citizen_services",
    "medical",
    "iot_devices",
)
CITIES = tuple(f"city{i:02d}" for i in range(60))
LEVELS = ("public", "gold", "platinum", "diamond")
DAY = date(2026, 11, 25)


def market(n: int, seed: int) -> list[ServingAd]:
    rng = random.Random(seed)
    ads = []
    for g in range(1, n + 1):
        per_click = rng.random() < 0.8
        bid_type = (
            rng.choices(("manual", "ocpc", "target_roi"), (0.7, 0.2, 0.1))[0]
            if per_click
            else "manual"
        )
        ads.append(
            ServingAd(
                group_id=g,
                plan_id=(g + 1) // 2,
                merchant_id=1 + g // 20,
                per_click=per_click,
                bid_type=bid_type,
                bid_fen=rng.randint(25, 200) if per_click else rng.randint(1_200, 5_000),
                target_cpa_fen=rng.randint(500, 3_000) if bid_type == "ocpc" else None,
                target_roi_bp=rng.randint(15_000, 40_000) if bid_type == "target_roi" else None,
                placements=tuple(rng.sample(PLACES, rng.randint(1, 3))),
                creatives=(ServingCreative(g, "早餐", "", 1, "pages/index", None),),
                hours="1" * 168,
                daily_budget_fen=rng.randint(5_000, 500_000),
                cities=frozenset(rng.sample(CITIES, rng.randint(1, 5)))
                if rng.random() < 0.3
                else frozenset(),
                member_levels=frozenset(rng.sample(LEVELS, 2))
                if rng.random() < 0.2
                else frozenset(),
                segments_include=frozenset({rng.randrange(500)})
                if rng.random() < 0.1
                else frozenset(),
                segments_exclude=frozenset({rng.randrange(500)})
                if rng.random() < 0.15
                else frozenset(),
                frequency_per_day=rng.randint(1, 5) if rng.random() < 0.3 else None,
            )
        )
    return ads


def models(seed: int) -> tuple[Model, Model]:
    rng = random.Random(seed)
    ctr, cvr = Model(seed=seed), Model(prior_mean=0.05, seed=seed)
    rows = [
        {
            "placement": rng.choice(PLACES),
            "ad_group": rng.randint(1, 10_000),
            "advertiser": rng.randint(1, 500),
            "creative": rng.randint(1, 10_000),
            "city": rng.choice(CITIES),
            "hour_of_week": rng.randrange(168),
            "member_level": rng.choice(LEVELS),
        }
        for _ in range(50_000)
    ]
    ctr.learn_many(rows, [rng.random() < 0.03 for _ in rows])
    cvr.learn_many(rows, [rng.random() < 0.06 for _ in rows])
    return ctr, cvr


def contexts(count: int, seed: int) -> list[Context]:
    rng = random.Random(seed)
    out = []
    # requests arrive in time order over one day: 10:00 to 22:00 on the Wednesday
    hours = sorted(2 * 24 + 10 + rng.randrange(12) for _ in range(count))
    for hour in hours:
        out.append(
            Context(
                placement=rng.choice(PLACES),
                hour_of_week=hour,
                slot=(hour % 24) * 12,
                city=rng.choice(CITIES),
                member_level=rng.choice(LEVELS),
                segments=frozenset(rng.sample(range(500), 3)),
                impressions_today={rng.randint(1, 1000): 3},
            )
        )
    return out


def full_scan(index: ServingIndex, everyone: np.ndarray, ctx: Context) -> int:
    """The baseline: the same checks on every group of the placement, no postings."""
    plans = index.plan_of[everyone]
    keep = index.live[everyone] & index.funded[plans]
    keep &= index.hour_ok[index.hours_of_plan[plans], ctx.hour_of_week]
    cities = [ad.cities for ad in (index.ads[i] for i in everyone.tolist())]
    keep &= np.array([not c or ctx.city in c for c in cities], dtype=bool)
    incl = [index.ads[i].segments_include for i in everyone.tolist()]
    keep &= np.array([not s or bool(s & ctx.segments) for s in incl], dtype=bool)
    return int(keep.sum())


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000


def run(size: int, requests: int, scans: int, ctr: Model, cvr: Model) -> dict[str, float]:
    built = time.perf_counter()
    ads = market(size, seed=size)
    index = ServingIndex(
        ads, day=DAY, balances={ad.merchant_id: 10**9 for ad in ads}, default_ctr=0.02
    )
    build_s = time.perf_counter() - built
    server = decisions._Server(index, time.monotonic(), ctr, cvr, grants={})
    rng = random.Random(1)
    reqs = contexts(requests, seed=2)
    latencies, filled = [], 0
    for ctx in reqs[: min(200, requests)]:  # warm-up
        decisions._auction(server, ctx, BY_KEY[ctx.placement], rng)
    for ctx in reqs:
        began = time.perf_counter()
        won = decisions._auction(server, ctx, BY_KEY[ctx.placement], rng)
        latencies.append(time.perf_counter() - began)
        filled += bool(won)
    by_placement = {p: np.flatnonzero([p in ad.placements for ad in index.ads]) for p in PLACES}
    scan_times = []
    for ctx in reqs[:scans]:
        began = time.perf_counter()
        full_scan(index, by_placement[ctx.placement], ctx)
        scan_times.append(time.perf_counter() - began)
    return {
        "size": size,
        "build_s": build_s,
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
        "mean_ms": statistics.fmean(latencies) * 1000,
        "filled": filled / len(reqs),
        "scan_p50_ms": percentile(scan_times, 50),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--requests", type=int, default=5_000)
    parser.add_argument("--scans", type=int, default=50, help="baseline requests per size")
    args = parser.parse_args()
    ctr, cvr = models(seed=3)
    head = ("groups", "build s", "p50 ms", "p99 ms", "mean ms", "filled", "scan p50", "scan/p50")
    print("".join(f"{h:>10}" for h in head))
    for size in args.sizes:
        r = run(size, args.requests, args.scans, ctr, cvr)
        cells = [f"{size:,}", f"{r['build_s']:.1f}"]
        cells += [f"{r[k]:.3f}" for k in ("p50_ms", "p99_ms", "mean_ms")]
        cells += [f"{r['filled']:.2f}", f"{r['scan_p50_ms']:.3f}"]
        cells.append(f"{r['scan_p50_ms'] / r['p50_ms']:.1f}")
        print("".join(f"{c:>10}" for c in cells))


if __name__ == "__main__":
    main()
