"""The world the promotion console tests share (no tests here): the page-test merchant with
¥500 of sales, a segment and a coupon; another merchant with a plan, an ad group, a
pending creative, a segment, a mini-program and a coupon of its own; and readers of what
the forms changed."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from ccare.core.db import Database
from ccare.coupons import service as coupons
from ccare.coupons.schemas import ActivityCreate, ValiditySpec
from ccare.ledger import service as ledger
from ccare.promotion import service as promotion
from ccare.promotion.models import AdCreative, AdGroup, AdPlan
from ccare.promotion.schemas import CreativeCreate, GroupCreate, PlanCreate
from ccare.runtime import Runtime
from ccare.segments import service as segments
from ccare.segments.schemas import SegmentCreate
from tests import factories as f
from tests.factories import FACTORY_OPERATOR
from tests.web.conftest import World, make_world, sign_in

PAGE = "/console/merchant/promotion"
PLANS = PAGE + "/plans"
GROUPS = PAGE + "/groups"
REVIEWS = "/console/operator/promotion/reviews"
HTMX = {"HX-Request": "true"}
KEY = re.compile(r'name="out_request_no" value="([0-9a-f]{32})"')
SALES = 50_000  # ¥500.00
RULE = {"event": {"type": "order.paid", "count": {"gte": 1}}}


def key_in(page: str) -> str:
    found = KEY.search(page)
    assert found, "no form key"
    return found.group(1)


def _segment(db: Database, runtime: Runtime, merchant_id: int, name: str) -> int:
    data = SegmentCreate(merchant_id=merchant_id, name=name, rule=RULE)
    with db.transaction() as s:
        return segments.create(s, FACTORY_OPERATOR, runtime.analytics, data)[0].id


def _coupon(db: Database, merchant_id: int, name: str) -> int:
    data = ActivityCreate.model_validate(
        {
            "out_biz_no": f"ad-{merchant_id}",
            "merchant_id": merchant_id,
            "name": name,
            "kind": "fixed",
            "amount_fen": 300,
            "quantity": 100,
            "claim_begin": datetime(2026, 1, 1, tzinfo=UTC),
            "claim_end": datetime(2099, 1, 1, tzinfo=UTC),
            "validity": ValiditySpec(days_after_claim=30),
        }
    )
    with db.transaction() as s:
        return coupons.create_activity(s, FACTORY_OPERATOR, data).id


def _their_ads(db: Database, merchant_id: int) -> tuple[int, int, int]:
    mp = f.make_mini_program(db, merchant_id, name="Their shop")
    op = FACTORY_OPERATOR
    with db.transaction() as s:
        plan, _ = promotion.create_plan(
            s,
            op,
            PlanCreate.model_validate(
                {
                    "merchant_id": merchant_id,
                    "out_request_no": "theirs",
                    "name": "Their plan",
                    "objective": "leads",
                    "daily_budget_fen": 5_000,
                }
            ),
        )
        group = promotion.create_group(
            s,
            op,
            GroupCreate.model_validate(
                {
                    "plan_id": plan.id,
                    "name": "Their group",
                    "bid_fen": 40,
                    "targeting": {"placements": ["home_feed"]},
                }
            ),
        )
        creative = promotion.create_creative(
            s,
            op,
            CreativeCreate(group_id=group.id, title="Their ad", mini_program_id=mp, page="p/i"),
        )
        return plan.id, group.id, creative.id


@dataclass(frozen=True)
class Shop:
    db: Database
    world: World
    segment_id: int
    coupon_id: int
    other_segment_id: int
    other_coupon_id: int
    other_mini_program_id: int
    other_plan_id: int
    other_group_id: int
    other_creative_id: int

    @property
    def merchant_id(self) -> int:
        return self.world.merchant.merchant_id

    def sign_in(self, client: TestClient) -> None:
        sign_in(client, self.world.merchant.owner_email, self.world.merchant.password)

    def balances(self) -> tuple[int, int]:
        """(advertising, sales) in fen."""
        with self.db.transaction() as s:
            return (
                ledger.advertiser_balance(s, self.merchant_id),
                ledger.merchant_settlement(s, self.merchant_id).balance_fen,
            )

    def rows(self, model: Any, **where: Any) -> list[Any]:
        with self.db.transaction() as s:
            stmt = select(model).filter_by(**where).order_by(model.id)
            found = list(s.scalars(stmt))
            for row in found:
                s.expunge(row)
            return found

    def count(self, model: Any) -> int:
        with self.db.transaction() as s:
            return int(s.scalar(select(func.count()).select_from(model)) or 0)

    def plan(self, plan_id: int) -> AdPlan:
        return self.rows(AdPlan, id=plan_id)[0]

    def group(self, group_id: int) -> AdGroup:
        return self.rows(AdGroup, id=group_id)[0]

    def creative(self, creative_id: int) -> AdCreative:
        return self.rows(AdCreative, id=creative_id)[0]


def fund_sales(db: Database, merchant_id: int, amount_fen: int) -> None:
    with db.transaction() as s:
        ledger.post(
            s,
            "test_sales",
            f"sales:{merchant_id}:{amount_fen}",
            [
                (ledger.platform_funding(s), -amount_fen),
                (ledger.merchant_settlement(s, merchant_id), amount_fen),
            ],
        )


def make_shop(db: Database, runtime: Runtime) -> Shop:
    w = make_world(db)
    mine, theirs = w.merchant.merchant_id, w.other.merchant_id
    fund_sales(db, mine, SALES)
    plan_id, group_id, creative_id = _their_ads(db, theirs)
    their_mini_program = promotion_landing(db, creative_id)
    return Shop(
        db=db,
        world=w,
        segment_id=_segment(db, runtime, mine, "Regulars"),
        coupon_id=_coupon(db, mine, "¥3 off soy milk"),
        other_segment_id=_segment(db, runtime, theirs, "Their regulars"),
        other_coupon_id=_coupon(db, theirs, "Their coupon"),
        other_mini_program_id=their_mini_program,
        other_plan_id=plan_id,
        other_group_id=group_id,
        other_creative_id=creative_id,
    )


def promotion_landing(db: Database, creative_id: int) -> int:
    with db.transaction() as s:
        return promotion.get_creative(s, FACTORY_OPERATOR.tenant, creative_id).mini_program_id


def new_plan(client: TestClient, **fields: str) -> int:
    """A plan made through the page's form; its id."""
    body = {
        "out_request_no": fields.pop("out_request_no", "k" * 32),
        "name": "Breakfast",
        "objective": "transactions",
        "charge_type": "cpc",
        "daily_budget": "50",
        "total_budget": "",
        "hours": "all_week",
        **fields,
    }
    r = client.post(PLANS, data=body, follow_redirects=False)
    assert r.status_code == 303, r.text
    found = re.search(r"/plans/(\d+)\?created=1$", r.headers["location"])
    assert found, r.headers["location"]
    return int(found.group(1))


def new_group(client: TestClient, plan_id: int, **fields: Any) -> int:
    body: dict[str, Any] = {
        "out_request_no": fields.pop("out_request_no", "g" * 32),
        "name": "Morning",
        "bid_type": "manual",
        "bid": "0.40",
        "placements": ["home_feed"],
        **fields,
    }
    r = client.post(f"{PLANS}/{plan_id}/groups", data=body, follow_redirects=False)
    assert r.status_code == 303, r.text
    found = re.search(r"/groups/(\d+)\?created=group$", r.headers["location"])
    assert found, r.headers["location"]
    return int(found.group(1))
