"""A mini-program's favorite settings: the gift given at a consumer's first favorite and
the exclusive benefits only current favoriters claim, each a live coupon activity of the
mini-program's own merchant (looked up through the coupon product's service)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from ccare.catalog import service as catalog
from ccare.core.errors import InvalidInput, NotFound
from ccare.core.tenancy import Principal, Tenant
from ccare.core.time import utcnow
from ccare.coupons import service as coupons
from ccare.favorites.models import FavoriteSettings
from ccare.favorites.repository import FavoritesRepository
from ccare.favorites.schemas import ActivityBrief, SettingsIn, SettingsOut
from ccare.favorites.service import ENDED, activity_brief
from ccare.merchants import service as merchants


def _checked_activity(
    db: Session, tenant: Tenant, merchant_id: int, activity_id: int, field: str
) -> ActivityBrief:
    """An activity of the coupon product, of this merchant, not ended."""
    try:
        activity = coupons.get_activity(db, tenant, activity_id)
    except NotFound:
        raise InvalidInput(
            f"{field}: no such coupon activity",
            code="favorite.activity_not_found",
            field=field,
            activity_id=activity_id,
        ) from None
    if activity.merchant_id != merchant_id:
        raise InvalidInput(
            f"{field}: the activity belongs to another merchant",
            code="favorite.activity_other_merchant",
            field=field,
            activity_id=activity_id,
        )
    brief = ActivityBrief.model_validate(activity)
    if brief.status in ENDED:
        raise InvalidInput(
            f"{field}: the activity has ended",
            code="favorite.activity_ended",
            field=field,
            activity_id=activity_id,
        )
    return brief


def _settings_out(db: Session, mini_program: Any, settings: FavoriteSettings | None) -> SettingsOut:
    if settings is None:
        return SettingsOut(
            mini_program_id=mini_program.id,
            merchant_id=mini_program.merchant_id,
            gift=None,
            benefits=[],
            updated_at=None,
            updated_by=None,
        )
    gift = activity_brief(db, settings.gift_activity_id) if settings.gift_activity_id else None
    benefits = [b for b in (activity_brief(db, a) for a in settings.benefit_activity_ids) if b]
    return SettingsOut(
        mini_program_id=mini_program.id,
        merchant_id=mini_program.merchant_id,
        gift=gift,
        benefits=benefits,
        updated_at=settings.updated_at,
        updated_by=settings.updated_by,
    )


def get_settings(db: Session, tenant: Tenant, mini_program_id: int) -> SettingsOut:
    mini_program = catalog.get_mini_program(db, tenant, mini_program_id)
    settings = FavoritesRepository(db, tenant).settings(mini_program_id)
    return _settings_out(db, mini_program, settings)


def put_settings(
    db: Session, actor: Principal, mini_program_id: int, data: SettingsIn
) -> SettingsOut:
    """Set the gift and the exclusive benefits; each must be a live coupon activity of
    the mini-program's merchant, and no activity may be both."""
    mini_program = catalog.get_mini_program(db, actor.tenant, mini_program_id)
    merchants.require_manager(actor)
    merchant_id = mini_program.merchant_id
    if data.gift_activity_id is not None:
        if data.gift_activity_id in data.benefit_activity_ids:
            raise InvalidInput(
                "the gift cannot also be an exclusive benefit",
                code="favorite.gift_is_benefit",
                activity_id=data.gift_activity_id,
            )
        _checked_activity(db, actor.tenant, merchant_id, data.gift_activity_id, "gift_activity_id")
    for activity_id in data.benefit_activity_ids:
        _checked_activity(db, actor.tenant, merchant_id, activity_id, "benefit_activity_ids")
    repo = FavoritesRepository(db, actor.tenant)
    settings = repo.settings(mini_program_id)
    if settings is None:
        settings = FavoriteSettings(mini_program_id=mini_program_id, merchant_id=merchant_id)
        db.add(settings)
    settings.gift_activity_id = data.gift_activity_id
    settings.benefit_activity_ids = list(data.benefit_activity_ids)
    settings.updated_by = f"{actor.kind.value}:{actor.app_id or actor.id}"
    settings.updated_at = utcnow()
    db.flush()
    return _settings_out(db, mini_program, settings)
