"""Ad decisions: placement + user + context → ranked ads with signed tokens.

Brand placements serve their bookings (品牌宝). Every other placement runs the auction over
the serving index's candidates: a shortlist by cached eCPM, scored by the pCTR (and pCVR)
models, then the generalised second-price auction (`auction.py`). Slots the auction leaves
empty, and now and then the last one, go to free exposure paid with incentive points
(繁星). A decision writes nothing; the impression token carries what the impression
endpoint records and charges.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from ccare.core.errors import InvalidInput
from ccare.core.time import as_utc, local_date, local_time, utcnow
from ccare.promotion import auction, keywords, prediction, tokens, viewers
from ccare.promotion.keywords import ReservedTerms
from ccare.promotion.pacing import slot_of
from ccare.promotion.placements import BY_KEY, Placement
from ccare.promotion.prediction import Model
from ccare.promotion.repository import ServingRepository
from ccare.promotion.serving import (
    BID_OCPC,
    BID_ROI,
    Candidate,
    Context,
    ServingAd,
    ServingCreative,
    ServingIndex,
)

SEARCH = "search_results"
INDEX_TTL_SECONDS = 15.0
CTR_WINDOW = timedelta(days=7)
# Beta(1, 49): a group with no history is assumed to get 2% clicks.
CTR_PRIOR = (1.0, 49.0)
CVR_PRIOR_MEAN = 0.05
DEFAULT_ORDER_VALUE_FEN = 5_000  # target-ROI bids until the group has conversions of its own
SHORTLIST = 12  # candidates scored by the model, per slot beyond the first
INCENTIVE_SHARE = 0.1  # how often free exposure takes the last slot of a full page
MAX_CLICK_BID_FACTOR = 3  # oCPC / target ROI may bid up to 3 × the group's bid
# Creative rotation and free exposure draw from here unless a caller brings its own; a
# simulation may seed it to replay a day.
CHOICES = random.Random()


@dataclass(frozen=True, slots=True)
class ServedAd:
    slot: int
    kind: str  # auction, booking, free
    merchant_id: int
    creative: ServingCreative
    group_id: int | None
    plan_id: int | None
    charge_type: str  # cpc, cpm, booked, free
    price_millifen: int
    keyword: str | None
    impression_token: str
    click_token: str


@dataclass(frozen=True, slots=True)
class Decision:
    decision_id: str
    placement: str
    ads: list[ServedAd]


@dataclass
class _Server:
    index: ServingIndex
    built_at: float
    ctr_model: Model | None
    cvr_model: Model | None
    grants: dict[int, list[int]]  # group -> open grant ids (繁星)
    terms: ReservedTerms  # brand direct-zone terms
    stale: bool = False


_SERVERS: dict[int, _Server] = {}
_LOCK = threading.Lock()


def invalidate(db: Session) -> None:
    """Rebuild the index at the next decision: a plan, group or creative changed here."""
    server = _SERVERS.get(id(db.get_bind()))
    if server is not None:
        server.stale = True


def _creative(c: Any) -> ServingCreative:
    return ServingCreative(
        c.id, c.title, c.description, c.mini_program_id, c.page, c.coupon_activity_id
    )


def load_ads(db: Session) -> list[ServingAd]:
    rows = ServingRepository(db).servable()
    creatives: dict[int, list[ServingCreative]] = {}
    heads: dict[int, tuple[Any, Any]] = {}
    for plan, group, creative in rows:
        creatives.setdefault(group.id, []).append(_creative(creative))
        heads[group.id] = (plan, group)
    ads = []
    for group_id, (plan, group) in heads.items():
        t = group.targeting
        ads.append(
            ServingAd(
                group_id=group_id,
                plan_id=plan.id,
                merchant_id=plan.merchant_id,
                per_click=plan.charge_type == "cpc",
                bid_type=str(group.bid_type),
                bid_fen=group.bid_fen,
                target_cpa_fen=group.target_cpa_fen,
                target_roi_bp=group.target_roi_bp,
                placements=tuple(t.get("placements", ())),
                creatives=tuple(creatives[group_id]),
                hours=plan.hours,
                daily_budget_fen=plan.daily_budget_fen,
                total_budget_fen=plan.total_budget_fen,
                cities=frozenset(t.get("cities", ())),
                member_levels=frozenset(t.get("member_levels", ())),
                segments_include=frozenset(t.get("segments_include", ())),
                segments_exclude=frozenset(t.get("segments_exclude", ())),
                search_words=tuple(
                    (w, str(m)) for w, m in map(keywords.split_word, t.get("search_words", ()))
                ),
                exclude_converted=bool(t.get("exclude_converted", False)),
                frequency_per_day=group.frequency_per_day,
            )
        )
    return ads


def build_index(db: Session, now: datetime) -> ServingIndex:
    from ccare.ledger import service as ledger
    from ccare.promotion.repository import SpendRepository

    ads = load_ads(db)
    spend = SpendRepository(db)
    day = local_date(now)
    a, b = CTR_PRIOR
    ctr = {
        g: (clicks + a) / (shown + a + b)
        for g, (shown, clicks) in ServingRepository(db).group_ctr_counts(now - CTR_WINDOW).items()
    }
    merchants = {ad.merchant_id for ad in ads}
    return ServingIndex(
        ads,
        day=day,
        spent_today=spend.spent_on(day),
        spent_total=spend.spent_totals(),
        balances={m: ledger.advertiser_balance(db, m) for m in merchants},
        ctr_prior=ctr,
        default_ctr=a / (a + b),
    )


def _load_model(db: Session, kind: str) -> Model | None:
    state = ServingRepository(db).model(kind)
    return None if state is None else Model.from_bytes(state.blob)


def _open_grants(db: Session) -> dict[int, list[int]]:
    from ccare.star_points import service as star_points

    grants: dict[int, list[int]] = {}
    for grant in star_points.open_grants(db):
        grants.setdefault(grant.group_id, []).append(grant.grant_id)
    return grants


def server_for(db: Session, now: datetime) -> _Server:
    from ccare.promotion import brand_terms

    key = id(db.get_bind())
    server = _SERVERS.get(key)
    day = local_date(now)
    fresh = (
        server is not None
        and not server.stale
        and server.index.day == day
        and time.monotonic() - server.built_at < INDEX_TTL_SECONDS
    )
    if fresh:
        assert server is not None
        return server
    with _LOCK:
        latest = _SERVERS.get(key)
        if latest is not None and latest is not server and not latest.stale:
            return latest  # another thread rebuilt it while this one waited
        index = build_index(db, now)
        if server is not None:
            index.adopt_pacing(server.index)
        server = _Server(
            index=index,
            built_at=time.monotonic(),
            ctr_model=_load_model(db, "ctr"),
            cvr_model=_load_model(db, "cvr"),
            grants=_open_grants(db),
            terms=brand_terms.table(db),
        )
        _SERVERS[key] = server
    return server


def note_spend(db: Session, plan_id: int, merchant_id: int, cost_millifen: int, fen: int) -> None:
    """What billing just charged, so this process's throttle and stops follow at once."""
    server = _SERVERS.get(id(db.get_bind()))
    if server is not None:
        server.index.note_spend(plan_id, merchant_id, cost_millifen, fen)


def forget(bind: object) -> None:
    """Drop the index kept for this engine (tests wipe the database under it)."""
    _SERVERS.pop(id(bind), None)
    viewers.forget(bind)


# --- one request ------------------------------------------------------------------------


def placement_of(key: str) -> Placement:
    placement = BY_KEY.get(key)
    if placement is None:
        raise InvalidInput(
            f"unknown placement {key!r}", code="promotion.placement_unknown", placement=key
        )
    return placement


def user_context(
    db: Session,
    placement: str,
    now: datetime,
    *,
    consumer_id: int | None,
    city: str | None,
    query: str | None,
) -> Context:
    local = local_time(now)
    level = None
    segs: frozenset[int] = frozenset()
    seen: dict[int, int] = {}
    converted: frozenset[int] = frozenset()
    if consumer_id is not None:
        viewer = viewers.viewer(db, consumer_id, now)
        city = city or viewer.city
        level = viewer.member_level
        segs = viewer.segments
        seen, converted = viewer.counts()
    return Context(
        placement=placement,
        hour_of_week=prediction.hour_of_week(local),
        slot=slot_of(local),
        city=city,
        member_level=level,
        segments=segs,
        impressions_today=seen,
        converted_plans=converted,
        query=query,
    )


def _features(
    c: Candidate, ctx: Context, creative: ServingCreative, terms: list[str]
) -> dict[str, Any]:
    return prediction.features(
        placement=ctx.placement,
        ad_group=c.ad.group_id,
        advertiser=c.ad.merchant_id,
        creative=creative.creative_id,
        hour_of_week=ctx.hour_of_week,
        city=ctx.city,
        member_level=ctx.member_level,
        query_terms=terms,
    )


def _click_bid(ad: ServingAd, pcvr: float) -> int:
    """Per-click bid in milli-fen: the manual bid, or what a conversion is worth to the
    advertiser times its probability (oCPC, target ROI), within 3 × the group's bid."""
    manual = ad.bid_fen * 1000
    if ad.bid_type == "ocpc" and ad.target_cpa_fen:
        value = ad.target_cpa_fen * 1000 * pcvr
    elif ad.bid_type == "target_roi" and ad.target_roi_bp:
        value = DEFAULT_ORDER_VALUE_FEN * 1000 * pcvr * 10_000 / ad.target_roi_bp
    else:
        return manual
    return int(min(value, manual * MAX_CLICK_BID_FACTOR))


def _auction(
    server: _Server, ctx: Context, placement: Placement, rng: random.Random
) -> list[tuple[Candidate, ServingCreative, auction.Win]]:
    index = server.index
    chosen, why = index.eligible(ctx)
    if ctx.query and placement.key == SEARCH and server.terms:
        owner = server.terms.owner_of(ctx.query)
        if owner is not None:  # a brand's direct zone: only the brand's own ads
            chosen = chosen[index.merchant_of_plan[index.plan_of[chosen]] == owner[1]]
    shortlist = index.shortlist(chosen, why, SHORTLIST + 4 * (placement.slots - 1))
    if not shortlist:
        return []
    creatives = [c.ad.creatives[rng.randrange(len(c.ad.creatives))] for c in shortlist]
    terms = prediction.query_terms(ctx.query)
    rows = [_features(c, ctx, cr, terms) for c, cr in zip(shortlist, creatives, strict=True)]
    if server.ctr_model is not None:
        pctr = server.ctr_model.predict_many(rows)
    else:
        pctr = [float(index.ctr[c.pos]) for c in shortlist]
    needs_cvr = [i for i, c in enumerate(shortlist) if index.bid_type[c.pos] in (BID_OCPC, BID_ROI)]
    pcvr = [CVR_PRIOR_MEAN] * len(shortlist)
    if needs_cvr and server.cvr_model is not None:
        scored = server.cvr_model.predict_many([rows[i] for i in needs_cvr])
        for i, p in zip(needs_cvr, scored, strict=True):
            pcvr[i] = p
    bids = [
        auction.Bid(
            key=i,
            per_click=c.ad.per_click,
            # A CPM bid (fen per mille) is already milli-fen per impression.
            bid_millifen=_click_bid(c.ad, pcvr[i]) if c.ad.per_click else c.ad.bid_fen,
            pctr=pctr[i],
            quality=c.quality,
        )
        for i, c in enumerate(shortlist)
    ]
    wins = auction.run(
        bids, placement.slots, placement.reserve_cpc_fen * 1000, placement.reserve_cpm_fen
    )
    return [(shortlist[w.key], creatives[w.key], w) for w in wins]


def _free_candidates(server: _Server, ctx: Context, taken: set[int]) -> list[Candidate]:
    if not server.grants:
        return []
    index = server.index
    positions = np.array(
        [index.pos_of[g] for g in server.grants if g in index.pos_of], dtype=np.int64
    )
    found = index.candidates(ctx, paid=False, only=positions)
    return [c for c in found if c.ad.group_id not in taken]


def decide(
    db: Session,
    secret: str,
    *,
    placement: str,
    consumer_id: int | None = None,
    city: str | None = None,
    query: str | None = None,
    now: datetime | None = None,
    rng: random.Random | None = None,
) -> Decision:
    spot = placement_of(placement)
    now = now or utcnow()
    rng = rng or CHOICES
    if spot.auctioned:
        ctx = user_context(db, placement, now, consumer_id=consumer_id, city=city, query=query)
    else:  # bookings target no one: nothing of the consumer to read
        ctx = Context(placement=placement, hour_of_week=0, slot=0, city=city, query=query)
    decision_id = uuid.uuid4().hex
    base = {
        "d": decision_id,
        "p": placement,
        "u": consumer_id,
        "t": int(as_utc(now).timestamp()),
        "ci": ctx.city,
        "lv": ctx.member_level,
        "q": query,
    }
    picks: list[dict[str, Any]] = []
    if not spot.auctioned:
        picks += _booked(db, placement, now, rng)
    else:
        server = server_for(db, now)
        won = _auction(server, ctx, spot, rng)
        for cand, creative, win in won:
            picks.append(
                {
                    "kind": "auction",
                    "ad": cand.ad,
                    "creative": creative,
                    "charge": "cpc" if cand.ad.per_click else "cpm",
                    "price": win.price_millifen,
                    "keyword": cand.keyword,
                }
            )
        picks += _free(server, ctx, spot, rng, picks)
    ads = [_served(secret, base, slot, pick) for slot, pick in enumerate(picks, start=1)]
    return Decision(decision_id, placement, ads)


def _free(
    server: _Server, ctx: Context, spot: Placement, rng: random.Random, picks: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Free exposure (繁星) fills the slots the auction left empty and, now and then, takes
    the last slot of a full page from the lowest paid ad."""
    empty = spot.slots - len(picks)
    if empty <= 0 and (not picks or rng.random() >= INCENTIVE_SHARE):
        return []
    taken = {p["ad"].group_id for p in picks}
    free = _free_candidates(server, ctx, taken)
    if not free:
        return []
    if empty <= 0:
        picks.pop()
        empty = 1
    rng.shuffle(free)
    out = []
    for cand in free[:empty]:
        grant_ids = server.grants[cand.ad.group_id]
        out.append(
            {
                "kind": "free",
                "ad": cand.ad,
                "creative": cand.ad.creatives[rng.randrange(len(cand.ad.creatives))],
                "charge": "free",
                "price": 0,
                "keyword": cand.keyword,
                "grant": grant_ids[rng.randrange(len(grant_ids))],
            }
        )
    return out


def _booked(db: Session, placement: str, now: datetime, rng: random.Random) -> list[dict[str, Any]]:
    from ccare.brand_bookings import service as bookings
    from ccare.promotion.repository import PromotionRepository

    booked = bookings.choose(db, placement, now, rng.random())
    if booked is None:
        return []
    creative = PromotionRepository(db).creative(booked.creative_id)
    if creative is None:
        return []
    return [
        {
            "kind": "booking",
            "ad": None,
            "merchant": booked.merchant_id,
            "creative": _creative(creative),
            "charge": "booked",
            "price": booked.cpm_fen,  # per impression in milli-fen; prepaid with the booking
            "keyword": None,
            "booking": booked.booking_id,
        }
    ]


def _served(secret: str, base: dict[str, Any], slot: int, pick: dict[str, Any]) -> ServedAd:
    ad: ServingAd | None = pick["ad"]
    creative: ServingCreative = pick["creative"]
    merchant_id = ad.merchant_id if ad else pick["merchant"]
    payload = {
        **base,
        "s": slot,
        "m": merchant_id,
        "g": ad.group_id if ad else None,
        "pl": ad.plan_id if ad else None,
        "c": creative.creative_id,
        "k": pick["charge"],
        "pr": pick["price"],
        "b": pick.get("booking"),
        "gr": pick.get("grant"),
    }
    return ServedAd(
        slot=slot,
        kind=pick["kind"],
        merchant_id=merchant_id,
        creative=creative,
        group_id=payload["g"],
        plan_id=payload["pl"],
        charge_type=pick["charge"],
        price_millifen=pick["price"],
        keyword=pick["keyword"],
        impression_token=tokens.sign(secret, "impression", payload),
        click_token=tokens.sign(secret, "click", {"d": base["d"], "s": slot}),
    )
