"""The favorites API: a consumer's favorites (`/me/favorites`), and a merchant's
favorite settings and favoriters per mini-program."""

from __future__ import annotations

from fastapi import Body, Request

from ccare.coupons.gate import gate_for
from ccare.favorites import report, service, settings
from ccare.favorites.schemas import (
    BenefitClaimIn,
    BenefitClaimOut,
    FavoriteIn,
    FavoriteOut,
    FavoritesReport,
    FavoriteState,
    MyFavorite,
    SettingsIn,
    SettingsOut,
)
from ccare.web.deps import (
    CurrentConsumer,
    CurrentStaff,
    CurrentTenant,
    DbSession,
    IdPath,
    Limit,
    Offset,
    RuntimeDep,
    client_ip,
)
from ccare.web.routing import api_router

router = api_router(prefix="/api/v1", tags=["favorites"])


# --- consumers ---------------------------------------------------------------------------


@router.get("/me/favorites", response_model=list[MyFavorite], summary="Your favorite mini-programs")
def my_favorites(db: DbSession, consumer: CurrentConsumer) -> list[MyFavorite]:
    return service.my_favorites(db, consumer)


@router.put(
    "/me/favorites/{mini_program_id}",
    response_model=FavoriteOut,
    summary="Favorite a mini-program (idempotent; the first favorite ever may bring a gift)",
)
def add_favorite(
    mini_program_id: IdPath,
    request: Request,
    db: DbSession,
    consumer: CurrentConsumer,
    body: FavoriteIn | None = Body(default=None),  # noqa: B008
) -> FavoriteOut:
    channel = body.channel if body is not None else None
    return service.add(db, consumer, mini_program_id, channel, ip=client_ip(request))


@router.delete(
    "/me/favorites/{mini_program_id}",
    response_model=FavoriteOut,
    summary="Unfavorite a mini-program (idempotent)",
)
def remove_favorite(
    mini_program_id: IdPath, db: DbSession, consumer: CurrentConsumer
) -> FavoriteOut:
    return service.remove(db, consumer, mini_program_id)


@router.get(
    "/me/favorites/{mini_program_id}",
    response_model=FavoriteState,
    summary="Your favorite of a mini-program: the gift offered before, the benefits after",
)
def favorite_state(
    mini_program_id: IdPath, db: DbSession, consumer: CurrentConsumer
) -> FavoriteState:
    return service.state(db, consumer, mini_program_id)


@router.post(
    "/me/favorites/{mini_program_id}/benefits/{activity_id}/claim",
    response_model=BenefitClaimOut,
    summary="Claim an exclusive benefit of a mini-program you favorite",
)
def claim_benefit(
    mini_program_id: IdPath,
    activity_id: IdPath,
    body: BenefitClaimIn,
    request: Request,
    db: DbSession,
    runtime: RuntimeDep,
    consumer: CurrentConsumer,
) -> BenefitClaimOut:
    coupon = service.claim_benefit(
        db,
        consumer,
        mini_program_id,
        activity_id,
        body,
        ip=client_ip(request),
        gate=gate_for(runtime.settings.effective_redis_url),
    )
    return BenefitClaimOut.model_validate(coupon)


# --- merchants ---------------------------------------------------------------------------


@router.get(
    "/mini-programs/{mini_program_id}/favorite-settings",
    response_model=SettingsOut,
    summary="A mini-program's favorites gift and exclusive benefits",
)
def get_settings(mini_program_id: IdPath, db: DbSession, tenant: CurrentTenant) -> SettingsOut:
    return settings.get_settings(db, tenant, mini_program_id)


@router.put(
    "/mini-programs/{mini_program_id}/favorite-settings",
    response_model=SettingsOut,
    summary="Set the gift given at a first favorite and the benefits only favoriters claim",
)
def put_settings(
    mini_program_id: IdPath, body: SettingsIn, db: DbSession, staff: CurrentStaff
) -> SettingsOut:
    return settings.put_settings(db, staff, mini_program_id, body)


@router.get(
    "/mini-programs/{mini_program_id}/favorites",
    response_model=FavoritesReport,
    summary="Favoriters now, adds and removes per day (30 days), and the favoriters for recall",
)
def favorites_report(
    mini_program_id: IdPath,
    db: DbSession,
    tenant: CurrentTenant,
    runtime: RuntimeDep,
    limit: Limit = 50,
    offset: Offset = 0,
) -> FavoritesReport:
    return report.report(db, tenant, runtime.analytics, mini_program_id, limit=limit, offset=offset)
