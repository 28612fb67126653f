from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from ccare.webhooks.models import (
    DeliveryAttempt,
    DeliveryStatus,
    SubscriptionStatus,
    WebhookDelivery,
    WebhookSubscription,
)

Row = WebhookSubscription | WebhookDelivery | DeliveryAttempt


class WebhookRepository:
    """Subscriptions and deliveries belong to an app, not to a merchant's tenant: the
    service authorises the app (`openplatform.service.get_app`) and every query here is
    then restricted to that app's primary key. The delivery engine's queries are the
    platform's own and take no app."""

    def __init__(self, db: Session) -> None:
        self.db = db

    def add(self, obj: Row) -> None:
        self.db.add(obj)
        self.db.flush()

    # --- subscriptions ---------------------------------------------------------------

    def subscriptions(self, app_pk: int) -> list[WebhookSubscription]:
        stmt = (
            select(WebhookSubscription)
            .where(WebhookSubscription.app_pk == app_pk)
            .order_by(WebhookSubscription.id)
        )
        return list(self.db.scalars(stmt))

    def subscription(self, app_pk: int, subscription_id: int) -> WebhookSubscription | None:
        stmt = select(WebhookSubscription).where(
            WebhookSubscription.app_pk == app_pk, WebhookSubscription.id == subscription_id
        )
        return self.db.scalars(stmt).first()

    def active_subscriptions(self, app_pks: Sequence[int]) -> list[WebhookSubscription]:
        if not app_pks:
            return []
        stmt = (
            select(WebhookSubscription)
            .where(
                WebhookSubscription.app_pk.in_(list(app_pks)),
                WebhookSubscription.status == SubscriptionStatus.ACTIVE,
            )
            .order_by(WebhookSubscription.id)
        )
        return list(self.db.scalars(stmt))

    def delete(self, subscription: WebhookSubscription) -> None:
        self.db.delete(subscription)
        self.db.flush()

    # --- deliveries ------------------------------------------------------------------

    def deliveries(
        self, app_pk: int, *, status: DeliveryStatus | None, limit: int, offset: int
    ) -> list[WebhookDelivery]:
        stmt = select(WebhookDelivery).where(WebhookDelivery.app_pk == app_pk)
        if status is not None:
            stmt = stmt.where(WebhookDelivery.status == status)
        stmt = stmt.order_by(WebhookDelivery.id.desc()).limit(limit).offset(offset)
        return list(self.db.scalars(stmt))

    def delivery(self, app_pk: int, delivery_id: int) -> WebhookDelivery | None:
        stmt = select(WebhookDelivery).where(
            WebhookDelivery.app_pk == app_pk, WebhookDelivery.id == delivery_id
        )
        return self.db.scalars(stmt).first()

    def delivery_by_id(self, delivery_id: int) -> WebhookDelivery | None:
        return self.db.get(WebhookDelivery, delivery_id)

    def attempts(self, delivery_id: int) -> list[DeliveryAttempt]:
        stmt = (
            select(DeliveryAttempt)
            .where(DeliveryAttempt.delivery_id == delivery_id)
            .order_by(DeliveryAttempt.id)
        )
        return list(self.db.scalars(stmt))

    # --- the delivery engine ---------------------------------------------------------

    def claim_due(
        self, now: datetime, until: datetime, token: str, limit: int, *, skip_locked: bool
    ) -> list[WebhookDelivery]:
        """Lease up to `limit` due rows to `token`.

        PostgreSQL: rows another worker is claiming are skipped, not waited for. SQLite:
        the transaction holds the write lock from BEGIN, so claims are serial anyway. The
        UPDATE repeats the due condition, so a row is leased to one worker at a time.
        """
        due = (
            WebhookDelivery.status == DeliveryStatus.PENDING,
            WebhookDelivery.next_attempt_at <= now,
            or_(WebhookDelivery.claimed_until.is_(None), WebhookDelivery.claimed_until <= now),
        )
        stmt = (
            select(WebhookDelivery.id)
            .where(*due)
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
            .limit(limit)
        )
        if skip_locked:
            stmt = stmt.with_for_update(skip_locked=True)
        ids = list(self.db.scalars(stmt))
        if not ids:
            return []
        self.db.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id.in_(ids), *due)
            .values(claimed_until=until, claim_token=token)
            .execution_options(synchronize_session=False)
        )
        claimed = (
            select(WebhookDelivery)
            .where(WebhookDelivery.id.in_(ids), WebhookDelivery.claim_token == token)
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
            .execution_options(populate_existing=True)
        )
        return list(self.db.scalars(claimed))

    def locked_delivery(self, delivery_id: int) -> WebhookDelivery | None:
        stmt = (
            select(WebhookDelivery)
            .where(WebhookDelivery.id == delivery_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return self.db.scalars(stmt).first()
