"""Every query of this product."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from ccare.core.tenancy import PLATFORM, Tenant, scoped
from ccare.favorites.models import Favorite, FavoriteSettings


class FavoritesRepository:
    """Tenant rows through `scoped()`; a consumer's own reads add `consumer_id` on top."""

    def __init__(self, db: Session, tenant: Tenant = PLATFORM) -> None:
        self.db = db
        self.tenant = tenant

    @property
    def _postgres(self) -> bool:
        return self.db.get_bind().dialect.name == "postgresql"

    # --- a consumer's favorites -----------------------------------------------------------

    def insert_first(
        self,
        *,
        merchant_id: int,
        consumer_id: int,
        mini_program_id: int,
        channel: str | None,
        now: datetime,
    ) -> int | None:
        """The consumer's first favorite of the mini-program: its id, or None when they
        favorited it before (a concurrent first tap finds the row and inserts nothing)."""
        insert = pg_insert if self._postgres else sqlite_insert
        stmt = (
            insert(Favorite)
            .values(
                merchant_id=merchant_id,
                consumer_id=consumer_id,
                mini_program_id=mini_program_id,
                active=True,
                first_favorited_at=now,
                favorited_at=now,
                channel=channel,
            )
            .on_conflict_do_nothing(index_elements=["consumer_id", "mini_program_id"])
            .returning(Favorite.id)
        )
        return self.db.scalars(stmt).first()

    def set_active(
        self,
        consumer_id: int,
        mini_program_id: int,
        active: bool,
        channel: str | None,
        now: datetime,
    ) -> bool:
        """Flip the favorite only if it is the other way round; True when it changed."""
        values: dict[str, object] = {"active": active}
        if active:
            values.update(favorited_at=now, channel=channel, removed_at=None)
        else:
            values.update(removed_at=now)
        stmt = (
            update(Favorite)
            .where(
                Favorite.consumer_id == consumer_id,
                Favorite.mini_program_id == mini_program_id,
                Favorite.active.is_(not active),
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        result = self.db.execute(scoped(stmt, Favorite.merchant_id, self.tenant))
        self._expire(consumer_id, mini_program_id)
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def favorite(self, consumer_id: int, mini_program_id: int) -> Favorite | None:
        stmt = select(Favorite).where(
            Favorite.consumer_id == consumer_id, Favorite.mini_program_id == mini_program_id
        )
        return self.db.scalars(scoped(stmt, Favorite.merchant_id, self.tenant)).first()

    def active_favorites(self, consumer_id: int, limit: int) -> list[Favorite]:
        stmt = (
            select(Favorite)
            .where(Favorite.consumer_id == consumer_id, Favorite.active.is_(True))
            .order_by(Favorite.favorited_at.desc(), Favorite.id.desc())
            .limit(limit)
        )
        return list(self.db.scalars(scoped(stmt, Favorite.merchant_id, self.tenant)))

    def _expire(self, consumer_id: int, mini_program_id: int) -> None:
        # The UPDATE bypassed the identity map; reload a cached row on next access.
        for obj in list(self.db.identity_map.values()):
            if (
                isinstance(obj, Favorite)
                and obj.consumer_id == consumer_id
                and obj.mini_program_id == mini_program_id
            ):
                self.db.expire(obj)

    # --- a mini-program's favoriters --------------------------------------------------------

    def favoriter_count(self, mini_program_id: int) -> int:
        stmt = select(func.count()).where(
            Favorite.mini_program_id == mini_program_id, Favorite.active.is_(True)
        )
        return int(self.db.scalar(scoped(stmt, Favorite.merchant_id, self.tenant)) or 0)

    def favoriters(self, mini_program_id: int, limit: int, offset: int) -> list[Favorite]:
        stmt = (
            select(Favorite)
            .where(Favorite.mini_program_id == mini_program_id, Favorite.active.is_(True))
            .order_by(Favorite.favorited_at.desc(), Favorite.id.desc())
            .limit(limit)
            .offset(offset)
        )
        return list(self.db.scalars(scoped(stmt, Favorite.merchant_id, self.tenant)))

    # --- settings ---------------------------------------------------------------------------

    def settings(self, mini_program_id: int) -> FavoriteSettings | None:
        stmt = select(FavoriteSettings).where(FavoriteSettings.mini_program_id == mini_program_id)
        return self.db.scalars(scoped(stmt, FavoriteSettings.merchant_id, self.tenant)).first()

    def add(self, obj: object) -> None:
        self.db.add(obj)
        self.db.flush()
