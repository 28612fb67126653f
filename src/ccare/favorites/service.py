"""Business rules of this product; no HTTP, never commits.

Favoriting is idempotent: the state changes (and `favorite.added` / `favorite.removed` is
emitted) only when it was the other way round. A consumer's first favorite of a
mini-program may carry a gift coupon, claimed once ever through the coupon product; a
refused gift leaves the favorite in place and keeps the reason. Exclusive benefits are
coupon activities shown to, and claimable by, current favoriters only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from ccare.catalog import service as catalog
from ccare.core.errors import Conflict, DomainError, Forbidden, NotFound
from ccare.core.outbox import emit
from ccare.core.tenancy import PLATFORM, Principal, PrincipalKind
from ccare.core.time import utcnow
from ccare.coupons import claims as coupon_claims
from ccare.coupons import service as coupons
from ccare.coupons.gate import ClaimGate
from ccare.coupons.schemas import ClaimRequest
from ccare.favorites.models import Favorite, FavoriteChannel, GiftOutcome
from ccare.favorites.repository import FavoritesRepository
from ccare.favorites.schemas import (
    ActivityBrief,
    BenefitClaimIn,
    BenefitOut,
    FavoriteAdded,
    FavoriteOut,
    FavoriteRemoved,
    FavoriteState,
    GiftOut,
    MyFavorite,
)

CLAIM_CHANNEL = "favorites_gift"
ENDED = frozenset({"stopped", "expired"})
MY_FAVORITES_LIMIT = 100


def gift_claim_key(mini_program_id: int) -> str:
    """One gift per consumer and mini-program: the coupon product returns the same
    coupon for the same key, whatever happens to the favorite afterwards."""
    return f"favorite-gift:{mini_program_id}"


def _require_consumer(actor: Principal) -> None:
    if actor.kind != PrincipalKind.CONSUMER:
        raise Forbidden("consumers only", code="auth.consumer_only")


def _closed(mini_program_id: int) -> Conflict:
    return Conflict(
        "this mini-program is closed",
        code="favorite.mini_program_closed",
        mini_program_id=mini_program_id,
    )


def _gift_out(row: Favorite) -> GiftOut:
    return GiftOut(
        outcome=row.gift,
        activity_id=row.gift_activity_id,
        coupon_id=row.gift_coupon_id,
        refusal_code=row.gift_refusal,
    )


def _out(row: Favorite | None, mini_program_id: int, changed: bool) -> FavoriteOut:
    if row is None:
        return FavoriteOut(
            mini_program_id=mini_program_id,
            favorited=False,
            changed=changed,
            favorited_at=None,
            first_favorited_at=None,
            channel=None,
            gift=None,
        )
    return FavoriteOut(
        mini_program_id=mini_program_id,
        favorited=row.active,
        changed=changed,
        favorited_at=row.favorited_at if row.active else None,
        first_favorited_at=row.first_favorited_at,
        channel=row.channel,
        gift=_gift_out(row),
    )


# --- a consumer favorites ------------------------------------------------------------------


def add(
    db: Session,
    consumer: Principal,
    mini_program_id: int,
    channel: FavoriteChannel | None = None,
    *,
    ip: str | None = None,
    now: datetime | None = None,
) -> FavoriteOut:
    """Favorite an open mini-program; the first favorite ever also claims the gift."""
    _require_consumer(consumer)
    mini_program = catalog.get_mini_program(db, PLATFORM, mini_program_id)
    if mini_program_id not in catalog.open_mini_programs(db, [mini_program_id]):
        raise _closed(mini_program_id)
    now = now or utcnow()
    repo = FavoritesRepository(db)
    channel_text = channel.value if channel else None
    first = repo.insert_first(
        merchant_id=mini_program.merchant_id,
        consumer_id=consumer.id,
        mini_program_id=mini_program_id,
        channel=channel_text,
        now=now,
    )
    changed = first is not None or repo.set_active(
        consumer.id, mini_program_id, True, channel_text, now
    )
    row = repo.favorite(consumer.id, mini_program_id)
    assert row is not None  # inserted above, or there before
    if first is not None:
        settings = repo.settings(mini_program_id)
        if settings is not None and settings.gift_activity_id is not None:
            _give_gift(db, consumer, row, settings.gift_activity_id, ip)
    if changed:
        emit(
            db,
            FavoriteAdded(
                merchant_id=mini_program.merchant_id,
                consumer_id=consumer.id,
                mini_program_id=mini_program_id,
                channel=channel_text,
                occurred_at=now,
            ),
        )
    return _out(row, mini_program_id, changed)


def _give_gift(
    db: Session, consumer: Principal, row: Favorite, activity_id: int, ip: str | None
) -> None:
    """Claim the gift in a savepoint: a refusal undoes the claim's own writes (or keeps
    them when the refusal is itself a record, the anti-cheating filter's decision) and
    leaves the favorite in place."""
    request = ClaimRequest.model_validate(
        {"channel": CLAIM_CHANNEL, "claim_key": gift_claim_key(row.mini_program_id)}
    )
    row.gift_activity_id = activity_id
    savepoint = db.begin_nested()
    try:
        # The database path, not the Redis gate: a gift is one claim per favorite, and the
        # gate's give-back follows the whole transaction, not this savepoint.
        coupon = coupon_claims.claim(
            db, consumer, activity_id, request, ip=ip, product_channel=True
        )
    except DomainError as exc:
        if getattr(exc, "commits", False):
            savepoint.commit()
        else:
            savepoint.rollback()
        row.gift = GiftOutcome.REFUSED
        row.gift_refusal = exc.code
    else:
        savepoint.commit()
        row.gift = GiftOutcome.GIVEN
        row.gift_coupon_id = coupon.id
    db.flush()


def remove(
    db: Session, consumer: Principal, mini_program_id: int, *, now: datetime | None = None
) -> FavoriteOut:
    """Unfavorite (a closed mini-program too); unfavoriting what is not a favorite is a
    no-op."""
    _require_consumer(consumer)
    mini_program = catalog.get_mini_program(db, PLATFORM, mini_program_id)
    now = now or utcnow()
    repo = FavoritesRepository(db)
    changed = repo.set_active(consumer.id, mini_program_id, False, None, now)
    row = repo.favorite(consumer.id, mini_program_id)
    if changed:
        emit(
            db,
            FavoriteRemoved(
                merchant_id=mini_program.merchant_id,
                consumer_id=consumer.id,
                mini_program_id=mini_program_id,
                channel=None,
                occurred_at=now,
            ),
        )
    return _out(row, mini_program_id, changed)


def favorite_of(db: Session, consumer: Principal, mini_program_id: int) -> FavoriteOut:
    _require_consumer(consumer)
    catalog.get_mini_program(db, PLATFORM, mini_program_id)
    row = FavoritesRepository(db).favorite(consumer.id, mini_program_id)
    return _out(row, mini_program_id, False)


def my_favorites(
    db: Session, consumer: Principal, *, limit: int = MY_FAVORITES_LIMIT
) -> list[MyFavorite]:
    """The consumer's favorited mini-programs, latest first; closed ones say so."""
    _require_consumer(consumer)
    rows = FavoritesRepository(db).active_favorites(consumer.id, limit)
    open_ = catalog.open_mini_programs(db, [r.mini_program_id for r in rows])
    found: list[MyFavorite] = []
    for row in rows:
        shown: Any = open_.get(row.mini_program_id)
        if shown is None:
            shown = catalog.get_mini_program(db, PLATFORM, row.mini_program_id)
        found.append(
            MyFavorite(
                mini_program_id=row.mini_program_id,
                merchant_id=row.merchant_id,
                name=shown.name,
                category=shown.category,
                city=shown.city,
                open=row.mini_program_id in open_,
                favorited_at=row.favorited_at,
            )
        )
    return found


# --- gifts before, benefits after ------------------------------------------------------------


def activity_brief(db: Session, activity_id: int) -> ActivityBrief | None:
    try:
        activity = coupons.get_activity(db, PLATFORM, activity_id)
    except NotFound:
        return None
    return ActivityBrief.model_validate(activity)


def state(
    db: Session, consumer: Principal, mini_program_id: int, *, now: datetime | None = None
) -> FavoriteState:
    """What the storefront shows: the gift offer to one who never favorited, the gift's
    outcome, and the exclusive benefits to current favoriters."""
    _require_consumer(consumer)
    mini_program = catalog.get_mini_program(db, PLATFORM, mini_program_id)
    repo = FavoritesRepository(db)
    row = repo.favorite(consumer.id, mini_program_id)
    settings = repo.settings(mini_program_id)
    favorited = row is not None and row.active
    wanted = set()
    if settings is not None:
        if row is None and settings.gift_activity_id is not None:
            wanted.add(settings.gift_activity_id)
        if favorited:
            wanted.update(settings.benefit_activity_ids)
    claimable: set[int] = set()
    if wanted:
        open_now = coupon_claims.claimable_activities(
            db, consumer.id, mini_program.merchant_id, now
        )
        claimable = {a.id for a in open_now} & wanted
    gift_offer = None
    if settings is not None and settings.gift_activity_id in claimable and row is None:
        gift_offer = activity_brief(db, settings.gift_activity_id)
    benefits: list[BenefitOut] = []
    if favorited and settings is not None and settings.benefit_activity_ids:
        held = {c.activity_id for c in coupon_claims.my_coupons(db, consumer)}
        for activity_id in settings.benefit_activity_ids:
            brief = activity_brief(db, activity_id)
            if brief is None or (brief.status in ENDED and activity_id not in held):
                continue
            benefits.append(
                BenefitOut(
                    activity=brief,
                    held=activity_id in held,
                    claimable=activity_id in claimable,
                )
            )
    return FavoriteState(
        mini_program_id=mini_program_id,
        favorited=favorited,
        favorited_at=row.favorited_at if favorited and row is not None else None,
        gift_offer=gift_offer,
        gift=_gift_out(row) if row is not None else None,
        benefits=benefits,
    )


def claim_benefit(
    db: Session,
    consumer: Principal,
    mini_program_id: int,
    activity_id: int,
    data: BenefitClaimIn,
    *,
    ip: str | None = None,
    gate: ClaimGate | None = None,
) -> Any:
    """A current favoriter claims one of the mini-program's exclusive benefits; the
    coupon product's own rules (stock, limits, the filter) apply."""
    _require_consumer(consumer)
    catalog.get_mini_program(db, PLATFORM, mini_program_id)
    repo = FavoritesRepository(db)
    settings = repo.settings(mini_program_id)
    if settings is None or activity_id not in settings.benefit_activity_ids:
        raise NotFound(
            "no such benefit for this mini-program's favoriters",
            code="favorite.benefit_not_found",
            activity_id=activity_id,
        )
    row = repo.favorite(consumer.id, mini_program_id)
    if row is None or not row.active:
        raise Forbidden(
            "favorite this mini-program to claim its exclusive benefits",
            code="favorite.favoriters_only",
        )
    if mini_program_id not in catalog.open_mini_programs(db, [mini_program_id]):
        raise _closed(mini_program_id)
    request = ClaimRequest.model_validate(
        {
            "channel": CLAIM_CHANNEL,
            "claim_key": f"fav:{data.claim_key}",
            "device_id": data.device_id,
        }
    )
    return coupon_claims.claim(
        db, consumer, activity_id, request, ip=ip, gate=gate, product_channel=True
    )
