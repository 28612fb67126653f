"""The demo world's advertising (灯火): three advertisers with funded accounts, plans, ad
groups and reviewed creatives; a week of served traffic (decisions, impressions, clicks,
uploaded leads) so the reports and the dashboard have something to show; the jeweller's
brand term and a 五福 booking.

Each piece is looked up before it is made, so a second run adds nothing. The week of
traffic is served once, on the run that created the advertiser's plan.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from ccare.core.db import Database
from ccare.core.tenancy import PLATFORM
from ccare.core.time import local_date, local_day_start, utcnow
from ccare.demo import data
from ccare.demo.world import SEED_OPERATOR, Summary

Progress = Callable[[str], None]
STEPS = 2  # how many times `seed` calls progress
TOP_UP_FEN = 50_000
TRAFFIC_DAYS = 7
VIEWERS_PER_DAY = 12
CLICK_RATE = 0.12
LEAD_RATE = 0.4


@dataclass(frozen=True)
class GroupSpec:
    name: str
    bid_fen: int
    placements: tuple[str, ...]
    creatives: tuple[str, ...]
    search_words: tuple[str, ...] = ()
    bid_type: str = "manual"
    target_cpa_fen: int | None = None


@dataclass(frozen=True)
class AdvertiserSpec:
    merchant: str  # slug
    plan: str
    objective: str
    charge_type: str
    daily_budget_fen: int
    groups: tuple[GroupSpec, ...]
    leads: bool = False  # uploads a lead for some clicks
    brand_term: str | None = None


ADVERTISERS = (
    AdvertiserSpec(
        merchant="laojie-breakfast",
        plan="早餐上新 Breakfast launch",
        objective="transactions",
        charge_type="cpc",
        daily_budget_fen=20_000,
        groups=(
            GroupSpec("附近早餐 Nearby", 60, ("home_feed", "coupon_venue"), ("现磨豆浆 买一送一",)),
            GroupSpec(
                "搜索早餐 Search",
                80,
                ("search_results",),
                ("早餐 8 折 Breakfast 20% off",),
                search_words=("早餐", "豆浆油条"),
            ),
        ),
    ),
    AdvertiserSpec(
        merchant="jinlv-jewelry",
        plan="金缕婚嫁 Bridal",
        objective="brand",
        charge_type="cpm",
        daily_budget_fen=30_000,
        groups=(
            GroupSpec(
                "婚嫁人群 Bridal",
                1_500,
                ("home_feed", "payment_success"),
                ("金缕 婚嫁系列 Bridal collection",),
            ),
        ),
        brand_term="金缕",
    ),
    AdvertiserSpec(
        merchant="ranli-fitness",
        plan="体验课 Trial classes",
        objective="leads",
        charge_type="cpc",
        daily_budget_fen=15_000,
        groups=(
            GroupSpec(
                "新客体验 First visit",
                100,
                ("home_feed",),
                ("7 天体验课 7-day trial",),
                bid_type="ocpc",
                target_cpa_fen=3_000,
            ),
        ),
        leads=True,
    ),
)


def seed(db: Database, analytics: Any, secret: str, summary: Summary, tick: Progress) -> None:
    fresh: list[AdvertiserSpec] = []
    with db.transaction() as session:
        for spec in ADVERTISERS:
            if _advertiser(session, spec, summary):
                fresh.append(spec)
    tick("ad plans")
    if fresh:
        _traffic(db, secret, summary, fresh)
    with db.transaction() as session:
        _booking(session, analytics, summary)
    tick("ad traffic and bookings")


def _advertiser(session: Session, spec: AdvertiserSpec, summary: Summary) -> bool:
    """Plans, groups, reviewed creatives, money and the brand term; True for a new plan."""
    from ccare.promotion import brand_terms
    from ccare.promotion import service as promotion
    from ccare.promotion.schemas import CreativeCreate, GroupCreate, PlanCreate, ReviewRequest

    shop = summary.merchants[spec.merchant]
    if promotion.ad_balance(session, PLATFORM, shop.merchant_id) == 0:
        promotion.top_up(session, SEED_OPERATOR, shop.merchant_id, TOP_UP_FEN, "bank_transfer")
        summary.count("ad top-ups")
    plan, created = promotion.create_plan(
        session,
        SEED_OPERATOR,
        PlanCreate.model_validate(
            {
                "merchant_id": shop.merchant_id,
                "out_request_no": f"demo-{spec.merchant}",
                "name": spec.plan,
                "objective": spec.objective,
                "charge_type": spec.charge_type,
                "daily_budget_fen": spec.daily_budget_fen,
            }
        ),
    )
    if created:
        summary.count("ad plans")
    existing = {g.name: g for g in promotion.list_groups(session, PLATFORM, plan.id)}
    for g in spec.groups:
        group = existing.get(g.name)
        if group is None:
            targeting: dict[str, Any] = {"placements": list(g.placements)}
            if g.search_words:
                targeting["search_words"] = list(g.search_words)
            group = promotion.create_group(
                session,
                SEED_OPERATOR,
                GroupCreate.model_validate(
                    {
                        "plan_id": plan.id,
                        "name": g.name,
                        "bid_type": g.bid_type,
                        "bid_fen": g.bid_fen,
                        "target_cpa_fen": g.target_cpa_fen,
                        "targeting": targeting,
                    }
                ),
            )
            summary.count("ad groups")
        titles = {c.title for c in promotion.list_creatives(session, PLATFORM, group_id=group.id)}
        for title in g.creatives:
            if title in titles:
                continue
            creative = promotion.create_creative(
                session,
                SEED_OPERATOR,
                CreativeCreate(
                    group_id=group.id,
                    title=title,
                    mini_program_id=shop.mini_program_id,
                    page="pages/index/index",
                ),
            )
            promotion.review_creative(
                session, SEED_OPERATOR, creative.id, ReviewRequest(decision="approved")
            )
            summary.count("ad creatives")
    if spec.brand_term:
        _term, new = brand_terms.reserve(session, SEED_OPERATOR, spec.brand_term, shop.merchant_id)
        if new:
            summary.count("reserved terms")
    return created


def _traffic(db: Database, secret: str, summary: Summary, specs: list[AdvertiserSpec]) -> None:
    """A week of home-feed decisions for ordinary consumers; the shown ads report their
    impressions, some are tapped seconds later, and the gym uploads leads for some taps."""
    from ccare.core.tenancy import Principal, PrincipalKind
    from ccare.promotion import decisions, tracking

    rng = random.Random(2026)
    people = [
        summary.consumer_ids[p.phone] for p in data.consumers() if p.phone in summary.consumer_ids
    ][: data.CONSUMER_COUNT - 5]  # the scalpers at the end browse no ads
    lead_merchants = {summary.merchants[s.merchant].merchant_id for s in specs if s.leads}
    served = {summary.merchants[s.merchant].merchant_id for s in specs}
    today = local_date(utcnow())
    for back in range(TRAFFIC_DAYS, 0, -1):
        start = local_day_start(today - timedelta(days=back))
        with db.transaction() as session:
            for n, consumer_id in enumerate(rng.sample(people, VIEWERS_PER_DAY)):
                at = start + timedelta(hours=7, minutes=n * 23 + rng.randrange(20))
                viewer = Principal(kind=PrincipalKind.CONSUMER, id=consumer_id, name="demo")
                decision = decisions.decide(
                    session, secret, placement="home_feed", consumer_id=consumer_id, now=at, rng=rng
                )
                for ad in decision.ads:
                    if ad.merchant_id not in served:
                        continue
                    tracking.record_impression(session, secret, ad.impression_token, viewer, at)
                    summary.count("ad impressions")
                    if rng.random() >= CLICK_RATE:
                        continue
                    tapped = at + timedelta(seconds=4 + rng.randrange(30))
                    outcome = tracking.record_click(
                        session, secret, ad.click_token, viewer, f"10.8.{n}.{back}", tapped
                    )
                    summary.count("ad clicks")
                    if ad.merchant_id in lead_merchants and rng.random() < LEAD_RATE:
                        _lead(session, ad.merchant_id, outcome.click.id, tapped, summary)


def _lead(
    session: Session, merchant_id: int, click_id: int, at: datetime, summary: Summary
) -> None:
    from ccare.promotion import tracking

    tracking.upload_conversion(
        session,
        SEED_OPERATOR,
        merchant_id=merchant_id,
        click_id=click_id,
        out_conversion_no=f"demo-lead-{click_id}",
        kind="lead",
        value_fen=0,
        occurred_at=at + timedelta(minutes=10),
    )
    summary.count("ad conversions")


def _booking(session: Session, analytics: Any, summary: Summary) -> None:
    """The jeweller books 五福 from tomorrow for three days, once."""
    from ccare.brand_bookings import service as bookings
    from ccare.brand_bookings.schemas import BookingCreate
    from ccare.promotion import service as promotion

    shop = summary.merchants["jinlv-jewelry"]
    if bookings.list_bookings(session, PLATFORM, shop.merchant_id):
        return
    (plan, *_) = promotion.list_plans(session, PLATFORM, shop.merchant_id)
    (group, *_) = promotion.list_groups(session, PLATFORM, plan.id)
    (creative, *_) = promotion.list_creatives(session, PLATFORM, group_id=group.id)
    start = local_date(utcnow()) + timedelta(days=1)
    bookings.reserve(
        session,
        SEED_OPERATOR,
        analytics,
        BookingCreate(
            merchant_id=shop.merchant_id,
            out_request_no=f"demo-five-blessings-{start.isoformat()}",
            placement="five_blessings",
            creative_id=creative.id,
            start_day=start,
            end_day=start + timedelta(days=2),
            guaranteed=3_000,
        ),
    )
    summary.count("brand bookings")
