"""Merchant strategies beyond the morning coupon drop, set up through the API when the
world is built and then run by the platform itself: an advertiser's CPC plan with a daily
budget on the home feed (funded by a bank transfer the operator records, its creative
reviewed by the operator), and a recall campaign that messages favoriters who have not
bought within a day (a trigger campaign, sending only to those who said yes to it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ccare.sim.api import Actor, Api

if TYPE_CHECKING:
    from ccare.sim.world import Shop

AD_FUNDS_FEN = 100_000
AD_DAILY_BUDGET_FEN = 3_000
AD_BID_FEN = 30  # per click
RECALL_TITLE = "Your favourite shop misses you"
RECALL_HOLDOUT_PERCENT = 20


def advertise(
    api: Api,
    operator: Actor,
    shop: Shop,
    seed: int,
    *,
    charge_type: str = "cpc",
    bid_fen: int = AD_BID_FEN,  # per click, or per 1,000 impressions (CPM)
    daily_budget_fen: int = AD_DAILY_BUDGET_FEN,
    everywhere: bool = False,  # all cities, not only the shop's own
) -> int:
    """The plan's id, once it runs: funded, with one ad group and an approved creative."""
    api.call(
        operator,
        "POST",
        "/api/v1/ad-account/top-ups",
        "ads.top_up",
        json={
            "merchant_id": shop.merchant_id,
            "amount_fen": AD_FUNDS_FEN,
            "source": "bank_transfer",
        },
        idempotent=True,
    )
    plan = api.call(
        shop.owner,
        "POST",
        "/api/v1/ad-plans",
        "ads.create_plan",
        json={
            "out_request_no": f"sim-ads-{seed}",
            "name": f"{shop.spec.name} home feed",
            "objective": "transactions",
            "charge_type": charge_type,
            "daily_budget_fen": daily_budget_fen,
        },
    )
    group = api.call(
        shop.owner,
        "POST",
        "/api/v1/ad-groups",
        "ads.create_group",
        json={
            "plan_id": plan["id"],
            "name": "Nearby",
            "bid_fen": bid_fen,
            "targeting": {
                "placements": ["home_feed"],
                "cities": [] if everywhere else [shop.spec.city],
            },
        },
    )
    creative = api.call(
        shop.owner,
        "POST",
        "/api/v1/ad-creatives",
        "ads.create_creative",
        json={
            "group_id": group["id"],
            "title": shop.spec.name[:40],
            "description": f"Fresh {shop.spec.category} near you",
            "mini_program_id": shop.mini_program_id,
            "page": "pages/index",
        },
    )
    api.call(
        operator,
        "POST",
        f"/api/v1/ad-creatives/{creative['id']}/review",
        "ads.review",
        json={"decision": "approved"},
    )
    shop.ad_plan_id = int(plan["id"])
    return shop.ad_plan_id


def recall(api: Api, shop: Shop, seed: int) -> None:
    template = api.call(
        shop.owner,
        "POST",
        "/api/v1/message-templates",
        "messages.create_template",
        json={
            "name": "Recall",
            "category": "marketing",
            "title": RECALL_TITLE,
            "body": f"Come back to {shop.spec.name} this week",
            "link": "pages/index",
            "mini_program_id": shop.mini_program_id,
        },
    )
    api.call(
        shop.owner,
        "POST",
        "/api/v1/campaigns",
        "campaigns.create",
        json={
            "name": "Recall favoriters",
            "out_request_no": f"sim-recall-{seed}",
            "trigger": {"kind": "favorited_no_order", "days": 1},
            "template_id": template["id"],
            "holdout_percent": RECALL_HOLDOUT_PERCENT,
            "start": True,
        },
    )
    shop.recall_template_id = int(template["id"])
