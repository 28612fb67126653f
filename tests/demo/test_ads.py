"""The demo world's advertising: three funded advertisers with reviewed ads, a week of
served traffic with exact figures, every fen charged accounted for by the ledger, the
jeweller's brand term and 五福 booking, and nothing added by a second run."""

from __future__ import annotations

from datetime import timedelta

from ccare.core.tenancy import PLATFORM
from ccare.core.time import local_date, utcnow
from ccare.demo import ads, world
from ccare.runtime import Runtime

AD_COUNTS = {
    "ad top-ups": 3,
    "ad plans": 3,
    "ad groups": 4,
    "ad creatives": 4,
    "reserved terms": 1,
    "ad impressions": 252,  # 7 days × 12 viewers × 3 home-feed slots
    "ad clicks": 28,
    "ad conversions": 4,
    "brand bookings": 1,
}


def test_the_demo_advertisers_their_week_of_traffic_and_their_money(runtime: Runtime) -> None:
    from ccare.brand_bookings import service as bookings
    from ccare.promotion import brand_terms
    from ccare.promotion import service as promotion

    summary = world.seed(runtime)
    assert {k: summary.created.get(k) for k in AD_COUNTS} == AD_COUNTS
    analytics = runtime.analytics
    assert analytics is not None
    assert analytics.count("ad.impression") == 252
    assert analytics.count("ad.click") == 28
    # The 4 uploaded leads, and 2 of the world's paid orders that followed a click on the
    # same shop's ad within 7 days (last-click attribution, once the orders' events relay).
    assert analytics.count("ad.conversion") == 6
    jeweller = summary.merchants["jinlv-jewelry"].merchant_id
    with runtime.db.transaction() as s:
        spent = {
            spec.merchant: ads.TOP_UP_FEN
            - promotion.ad_balance(s, PLATFORM, summary.merchants[spec.merchant].merchant_id)
            for spec in ads.ADVERTISERS
        }
        charged = _charged_by_merchant(analytics)
        booking = bookings.list_bookings(s, PLATFORM, jeweller)[0]
        assert spent == {
            spec.merchant: charged.get(summary.merchants[spec.merchant].merchant_id, 0)
            + (booking.amount_fen if spec.merchant == "jinlv-jewelry" else 0)
            for spec in ads.ADVERTISERS
        }
        assert all(fen > 0 for fen in spent.values())
        tomorrow = local_date(utcnow()) + timedelta(days=1)
        assert (booking.placement, booking.start_day, booking.guaranteed) == (
            "five_blessings",
            tomorrow,
            3_000,
        )
        terms = brand_terms.table(s)
        assert terms.owner_of("金缕 戒指") == ("金缕", jeweller)
    again = world.seed(runtime)
    assert again.created == {}


def _charged_by_merchant(analytics: object) -> dict[int, int]:
    t = analytics.events_table()  # type: ignore[attr-defined]
    charged = t.filter(t.type == "promotion.charged")
    rows = charged.group_by("merchant_id").aggregate(fen=charged.amount.sum()).to_pyarrow()
    return {int(r["merchant_id"]): int(r["fen"]) for r in rows.to_pylist()}
