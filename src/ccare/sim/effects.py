"""A known effect, planted and measured: a merchant sends a recall message to the people
who favorited its shop, with a random holdout; whoever finds the message in the inbox
buys with probability `base + effect`, everyone else with `base`. The campaign's own
results, read through the API, should recover `effect` within their interval.

Everything goes through the API. What the platform's worker would do between the steps
(events into analytics, the campaign's round, the broadcast's fan-out) is the caller's
`advance()`, which runs those jobs until none has anything left to do; so the same
scenario runs against an in-process app or, with a no-op, a live server's own worker.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ccare.sim.api import Api
from ccare.sim.world import Person, Shop, World

TITLE = "We miss you"
NO_QUIET_HOURS = {"quiet_start": "00:00", "quiet_end": "00:00"}


@dataclass(frozen=True)
class Plan:
    base: float = 0.1  # 7-day purchase probability without the message
    effect: float = 0.3  # what receiving the message adds to it
    holdout_percent: int = 50
    conversion_days: int = 7


@dataclass(frozen=True)
class Outcome:
    effect: float  # planted
    uplift: float | None  # measured by the platform
    low: float | None
    high: float | None
    treated: int
    held_out: int
    received: int  # treated who found the message in their inbox
    converters: tuple[int, int]  # (treatment, holdout), as the platform counted them
    bought: tuple[int, int]  # (treatment, holdout), as the simulator made them buy

    @property
    def truth(self) -> float:
        """The uplift the campaign causes in its treatment arm: the planted effect on the
        share who received the message (all of them, when everyone consented)."""
        return self.effect * self.received / self.treated if self.treated else 0.0

    @property
    def covered(self) -> bool:
        return (
            self.low is not None and self.high is not None and self.low <= self.truth <= self.high
        )


def recall(
    api: Api,
    world: World,
    advance: Callable[[], object],
    plan: Plan,
    *,
    shop: Shop | None = None,
    tag: str = "recall",
) -> Outcome:
    """Run the recall campaign on `world` and read back its results. `tag` names the
    campaign's requests, so several runs can share one platform."""
    shop = shop or world.shops[0]
    rules = api.call(world.operator, "GET", "/api/v1/message-settings", "messages.settings")
    # The platform's clock is real: quiet hours would hold the message until morning and
    # the inbox would be empty whenever the run happens at night.
    _set_rules(api, world, {**rules, **NO_QUIET_HOURS})
    try:
        return _run(api, world, advance, plan, shop, tag)
    finally:
        _set_rules(api, world, rules)


def _run(
    api: Api, world: World, advance: Callable[[], object], plan: Plan, shop: Shop, tag: str
) -> Outcome:
    template = api.call(
        shop.owner,
        "POST",
        "/api/v1/message-templates",
        "messages.create_template",
        json={
            "name": f"Recall {tag}"[:60],
            "category": "marketing",
            "title": TITLE,
            "body": "Come back this week",
            "mini_program_id": shop.mini_program_id,
        },
    )
    for person in world.people:
        _become_a_follower(api, shop, person, int(template["id"]))
    advance()  # the favorites reach analytics, where the segment reads them
    segment = api.call(
        shop.owner,
        "POST",
        "/api/v1/segments",
        "segments.create",
        json={
            "name": f"Followers {tag}"[:60],
            "out_request_no": f"{tag}-followers",
            "rule": {"favorited": {"mini_program_id": shop.mini_program_id}},
        },
    )
    campaign = api.call(
        shop.owner,
        "POST",
        "/api/v1/campaigns",
        "campaigns.create",
        json={
            "name": f"Recall {tag}"[:60],
            "out_request_no": tag,
            "segment_id": segment["id"],
            "template_id": template["id"],
            "holdout_percent": plan.holdout_percent,
            "conversion_days": plan.conversion_days,
            "start": True,
        },
    )
    advance()  # the round draws the arms; its broadcast's fan-out sends the message
    received = 0
    bought: dict[str, int] = {"treatment": 0, "holdout": 0}
    arms = _arms(api, shop, int(campaign["id"]))
    for person in world.people:
        got = _has_recall(api, shop, person)
        received += got
        draw = random.Random(f"{world.cast.seed}:{tag}:{person.spec.index}").random()
        if draw < plan.base + (plan.effect if got else 0.0):
            _buy(api, shop, person)
            if person.consumer_id in arms:
                bought[arms[person.consumer_id]] += 1
    advance()  # the orders reach analytics, where the results read them
    results = api.call(
        shop.owner, "GET", f"/api/v1/campaigns/{campaign['id']}/results", "campaigns.results"
    )
    return Outcome(
        effect=plan.effect,
        uplift=results["uplift"],
        low=results["uplift_low"],
        high=results["uplift_high"],
        treated=results["treatment"]["members"],
        held_out=results["holdout"]["members"],
        received=received,
        converters=(results["treatment"]["converters"], results["holdout"]["converters"]),
        bought=(bought["treatment"], bought["holdout"]),
    )


def _set_rules(api: Api, world: World, rules: dict[str, Any]) -> None:
    api.call(world.operator, "PUT", "/api/v1/message-settings", "messages.set_settings", json=rules)


def _become_a_follower(api: Api, shop: Shop, person: Person, template_id: int) -> None:
    """Favorite the shop, then answer its subscribe prompt: yes to its recall, for good."""
    api.call(person.actor, "PUT", f"/api/v1/me/favorites/{shop.mini_program_id}", "favorite.add")
    prompt = api.call(
        person.actor,
        "GET",
        "/api/v1/me/message-prompt",
        "messages.prompt",
        params={"merchant_id": shop.merchant_id},
    )
    for offered in prompt["templates"]:
        if offered["template_id"] == template_id and not offered["long_term"]:
            api.call(
                person.actor,
                "POST",
                "/api/v1/me/message-consents",
                "messages.consent",
                json={"template_id": template_id, "kind": "long_term"},
            )


def _arms(api: Api, shop: Shop, campaign_id: int) -> dict[int, str]:
    """Each member's arm, as the merchant sees it: for the simulator's own tally only."""
    arms: dict[int, str] = {}
    after = 0
    while True:
        page = api.call(
            shop.owner,
            "GET",
            f"/api/v1/campaigns/{campaign_id}/members",
            "campaigns.members",
            params={"after": after, "limit": 1000},
        )
        if not page:
            return arms
        arms.update((m["consumer_id"], m["arm"]) for m in page)
        after = page[-1]["consumer_id"]


def _has_recall(api: Api, shop: Shop, person: Person) -> bool:
    inbox = api.call(person.actor, "GET", "/api/v1/me/messages", "messages.inbox")
    return any(m["merchant_id"] == shop.merchant_id and m["title"] == TITLE for m in inbox)


def _buy(api: Api, shop: Shop, person: Person) -> None:
    item_id, price = min(shop.items, key=lambda item: item[1])
    api.call(
        person.actor,
        "POST",
        "/api/v1/wallet/top-ups",
        "wallet.top_up",
        json={"amount_fen": price},
        idempotent=True,
    )
    body = {"mini_program_id": shop.mini_program_id, "lines": [{"item_id": item_id, "quantity": 1}]}
    order = api.call(
        person.actor, "POST", "/api/v1/orders", "orders.create", json=body, idempotent=True
    )
    api.call(
        person.actor, "POST", f"/api/v1/orders/{order['id']}/pay", "orders.pay", idempotent=True
    )
