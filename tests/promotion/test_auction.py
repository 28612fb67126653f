"""The generalised second-price auction: rank by eCPM × quality, pay the next one's score
in your own unit, never below the reserve or above your bid."""

from __future__ import annotations

from ccare.promotion.auction import Bid, Win, run

RESERVE_CLICK = 20_000  # 20 fen a click
RESERVE_IMPRESSION = 800  # 8 yuan per mille


def test_each_winner_pays_what_keeps_its_rank() -> None:
    bids = [
        Bid(key=0, per_click=True, bid_millifen=60_000, pctr=0.02),
        Bid(key=1, per_click=True, bid_millifen=50_000, pctr=0.03),
        Bid(key=2, per_click=True, bid_millifen=40_000, pctr=0.02),
    ]
    wins = run(bids, 2, RESERVE_CLICK, RESERVE_IMPRESSION)
    # eCPM: 1 → 1500, 0 → 1200, 2 → 800 (milli-fen per impression)
    assert wins == [
        Win(key=1, rank=1, price_millifen=40_000, ecpm=1500.0),  # 1200 / 0.03
        Win(key=0, rank=2, price_millifen=40_000, ecpm=1200.0),  # 800 / 0.02
    ]


def test_the_last_winner_pays_the_reserve_and_below_reserve_bids_stay_out() -> None:
    bids = [
        Bid(key=0, per_click=True, bid_millifen=60_000, pctr=0.02),
        Bid(key=1, per_click=True, bid_millifen=19_999, pctr=0.5),
    ]
    assert run(bids, 3, RESERVE_CLICK, RESERVE_IMPRESSION) == [
        Win(key=0, rank=1, price_millifen=20_000, ecpm=1200.0)
    ]


def test_cpm_and_cpc_compete_on_ecpm_each_paying_in_its_own_unit() -> None:
    bids = [
        Bid(key=0, per_click=False, bid_millifen=2_000, pctr=0.01),  # 20 yuan per mille
        Bid(key=1, per_click=True, bid_millifen=50_000, pctr=0.03),  # eCPM 1500
        Bid(key=2, per_click=False, bid_millifen=900, pctr=0.01),
    ]
    wins = run(bids, 2, RESERVE_CLICK, RESERVE_IMPRESSION)
    assert wins == [
        Win(key=0, rank=1, price_millifen=1_500, ecpm=2000.0),
        Win(key=1, rank=2, price_millifen=30_000, ecpm=1500.0),  # 900 / 0.03
    ]


def test_quality_score_moves_rank_and_lowers_the_price() -> None:
    bids = [
        Bid(key=0, per_click=True, bid_millifen=80_000, pctr=0.02, quality=0.5),  # 800
        Bid(key=1, per_click=True, bid_millifen=50_000, pctr=0.02, quality=1.0),  # 1000
    ]
    wins = run(bids, 2, RESERVE_CLICK, RESERVE_IMPRESSION)
    assert [(w.key, w.price_millifen) for w in wins] == [(1, 40_000), (0, 20_000)]


def test_ties_go_to_the_earlier_group_and_price_never_exceeds_the_bid() -> None:
    bids = [
        Bid(key=5, per_click=True, bid_millifen=30_000, pctr=0.02),
        Bid(key=3, per_click=True, bid_millifen=30_000, pctr=0.02),
    ]
    wins = run(bids, 1, RESERVE_CLICK, RESERVE_IMPRESSION)
    assert wins == [Win(key=3, rank=1, price_millifen=30_000, ecpm=600.0)]
