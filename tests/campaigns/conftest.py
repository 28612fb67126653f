"""A shop with consumers, a segment of them, a message template, a coupon activity, and
helpers to create campaigns and run their rounds as the worker would."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ccare.campaigns import service
from ccare.campaigns.models import Campaign
from ccare.campaigns.schemas import CampaignCreate
from ccare.core.analytics import AnalyticsStore, DuckDBAnalytics
from ccare.core.db import Database
from ccare.core.tenancy import PLATFORM, Principal, PrincipalKind, Tenant
from ccare.coupons import service as coupons
from ccare.coupons.pricing import CouponKind
from ccare.coupons.schemas import ActivityCreate, UserLimits, ValiditySpec
from ccare.messages import service as messages
from ccare.messages.models import Category, ConsentKind
from ccare.messages.schemas import ConsentCreate, TemplateCreate
from ccare.segments import service as segments
from ccare.segments.schemas import SegmentCreate
from tests.factories import make_consumer, make_merchant
from tests.segments.events import Event
from tests.web.conftest import en  # noqa: F401  (a client with English pages)

# 10:00 in Shanghai: outside the default quiet hours.
NOON = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
VISITED = {"event": {"type": "storefront.visited", "count": {"gte": 1}}}


def staff_of(merchant_id: int) -> Principal:
    return Principal(
        kind=PrincipalKind.OPERATOR,
        id=0,
        name="test",
        tenant=Tenant(frozenset({merchant_id})),
        merchant_id=merchant_id,
    )


def visit(merchant_id: int, consumer_id: int, at: datetime) -> Event:
    return Event("storefront.visited", merchant_id, consumer_id, at, None, {"channel": "search"})


@dataclass
class Shop:
    db: Database
    analytics: AnalyticsStore
    merchant_id: int
    staff: Principal
    people: list[int]
    segment_id: int
    template_id: int
    activity_id: int

    def create(self, no: str = "c1", **overrides: Any) -> Campaign:
        body: dict[str, Any] = {
            "name": "Come back",
            "out_request_no": no,
            "segment_id": self.segment_id,
            "template_id": self.template_id,
            "variables": {"name": "friends"},
            "activity_id": self.activity_id,
            "holdout_percent": 25,
            "start": True,
        }
        body.update(overrides)
        with self.db.transaction() as s:
            campaign, _ = service.create(s, self.staff, CampaignCreate.model_validate(body), NOON)
            s.expunge(campaign)
            return campaign

    def consent_all(self) -> None:
        with self.db.transaction() as s:
            for person in self.people:
                consumer = Principal(kind=PrincipalKind.CONSUMER, id=person, tenant=PLATFORM)
                data = ConsentCreate(template_id=self.template_id, kind=ConsentKind.LONG_TERM)
                messages.subscribe(s, consumer, data)


def make_shop(db: Database, analytics: AnalyticsStore, n: int = 40) -> Shop:
    merchant = make_merchant(db)
    mid = merchant.merchant_id
    staff = staff_of(mid)
    people = [make_consumer(db, name=f"P{i}") for i in range(n)]
    analytics.record([visit(mid, p, NOON - timedelta(days=3)) for p in people])  # type: ignore[list-item]
    with db.transaction() as s:
        segment, _ = segments.create(
            s, staff, analytics, SegmentCreate(name="Visitors", rule=VISITED), NOON
        )
        template = messages.create_template(
            s,
            staff,
            TemplateCreate(
                name="Back",
                category=Category.MARKETING,
                title="Hello {name}",
                body="We miss you",
                link="pages/index/index",
            ),
        )
        activity = coupons.create_activity(
            s,
            staff,
            ActivityCreate(
                out_biz_no="camp",
                merchant_id=mid,
                name="5 off",
                kind=CouponKind.FIXED,
                amount_fen=500,
                quantity=1000,
                user_limits=UserLimits(lifetime=1),
                claim_begin=datetime(2026, 1, 1, tzinfo=UTC),
                claim_end=datetime(2099, 1, 1, tzinfo=UTC),
                validity=ValiditySpec(days_after_claim=30),
                activate=True,
            ),
        )
        return Shop(db, analytics, mid, staff, people, segment.id, template.id, activity.id)


@pytest.fixture
def analytics() -> AnalyticsStore:
    return DuckDBAnalytics(":memory:")


@pytest.fixture
def shop(db: Database, analytics: AnalyticsStore) -> Shop:
    return make_shop(db, analytics)
