"""What agents do, one visit at a time, through the API; each returns what it did as a
short line for the run's log. Choices come from the agent's own seeded `random.Random`,
so a seed replays the same world."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from ccare.sim import strategies
from ccare.sim.api import Api, CallFailed
from ccare.sim.world import Person, Shop, World

FAVORITE_RATE = 0.15
BUY_RATE = 0.35  # of visits to a shop of a category the person likes fully
AD_CLICK_RATE = 0.05
AD_READING_SECONDS = (1.2, 3.0)  # a tap comes after reading; faster is an invalid click
RECALL_CONSENT_RATE = 0.5  # of favoriters asked to allow the shop's recall message
RECALL_RETURN_RATE = 0.6  # of visits that find an unread recall, going back to that shop
COUPON_STOCK = 40


def consumer_visit(api: Api, world: World, person: Person, rng: random.Random) -> str:
    """Open the app, see the home feed's ads (and perhaps tap one), or a shop's message in
    the inbox; open the shop tapped, messaged, or one liked; maybe favorite it (and allow
    its recall), maybe claim its coupon, maybe buy."""
    seen_ads, tapped = _home_feed(api, world, person, rng)
    did = [f"ads {seen_ads}"]
    recall = _unopened_recall(api, world, person) if world.recalling() else None
    if tapped is not None:
        shop, how = tapped, "ad"
    elif recall is not None and rng.random() < RECALL_RETURN_RATE:
        shop, how = _follow(api, person, *recall), "message"
    else:
        shops = [s for s in world.shops if s.spec.city == person.spec.city] or world.shops
        weights = [person.spec.taste(s.spec.category) + 0.02 for s in shops]
        shop, how = rng.choices(shops, weights)[0], ""
    api.call(
        person.actor,
        "GET",
        f"/api/v1/public/mini-programs/{shop.mini_program_id}",
        "storefront.open",
    )
    did.append(f"open {shop.spec.slug}" + (f" via {how}" if how else ""))
    if rng.random() < FAVORITE_RATE:
        api.call(
            person.actor, "PUT", f"/api/v1/me/favorites/{shop.mini_program_id}", "favorite.add"
        )
        did.append("favorite")
        if shop.recall_template_id is not None and rng.random() < RECALL_CONSENT_RATE:
            _allow_recall(api, person, shop)
            did.append("allow recall")
    coupon = None
    if shop.activity_ids and rng.random() < person.spec.price_sensitivity:
        coupon = _claim(api, person, shop.activity_ids[-1], rng)
        did.append("claim " + ("ok" if coupon else "refused"))
    if rng.random() < BUY_RATE * (person.spec.taste(shop.spec.category) * 3):
        did.append(_buy(api, person, shop, rng, coupon))
    return ", ".join(did)


def _home_feed(
    api: Api, world: World, person: Person, rng: random.Random
) -> tuple[int, Shop | None]:
    """How many ads the feed showed, and the shop of the one tapped, if any."""
    decision = api.call(
        person.actor, "POST", "/api/v1/ad-decisions", "ads.decide", json={"placement": "home_feed"}
    )
    tapped = None
    for ad in decision["ads"]:
        api.call(
            person.actor,
            "POST",
            "/api/v1/ad-events/impressions",
            "ads.impression",
            json={"token": ad["impression_token"]},
        )
        if rng.random() < AD_CLICK_RATE:
            world.wait(rng.uniform(*AD_READING_SECONDS))
            api.call(
                person.actor,
                "POST",
                "/api/v1/ad-events/clicks",
                "ads.click",
                json={"token": ad["click_token"]},
            )
            landing = ad["landing"]["mini_program_id"]
            tapped = next((s for s in world.shops if s.mini_program_id == landing), tapped)
    return len(decision["ads"]), tapped


def _unopened_recall(api: Api, world: World, person: Person) -> tuple[int, Shop] | None:
    """The newest unopened recall in the inbox (left unopened if not followed)."""
    inbox = api.call(person.actor, "GET", "/api/v1/me/messages", "messages.inbox")
    for message in inbox:
        if message["opened_at"] is None and message["title"] == strategies.RECALL_TITLE:
            shop = world.shop_of(message["merchant_id"])
            if shop is not None:
                return int(message["id"]), shop
    return None


def _follow(api: Api, person: Person, message_id: int, shop: Shop) -> Shop:
    """Open the message and follow its link to the shop."""
    path = f"/api/v1/me/messages/{message_id}"
    api.call(person.actor, "POST", path + "/open", "messages.open")
    api.call(person.actor, "POST", path + "/click", "messages.click")
    return shop


def _allow_recall(api: Api, person: Person, shop: Shop) -> None:
    api.call(
        person.actor,
        "POST",
        "/api/v1/me/message-consents",
        "messages.consent",
        json={"template_id": shop.recall_template_id, "kind": "long_term"},
    )


def _claim(api: Api, person: Person, activity_id: int, rng: random.Random) -> int | None:
    try:
        coupon = api.call(
            person.actor,
            "POST",
            f"/api/v1/coupon-activities/{activity_id}/claim",
            "coupons.claim",
            json={
                "channel": "coupon_venue",
                "claim_key": f"{person.consumer_id}-{activity_id}",
                "device_id": rng.choice(person.spec.devices),
            },
        )
    except CallFailed as refused:
        if refused.status >= 500:
            raise
        return None
    return int(coupon["id"])


def _buy(api: Api, person: Person, shop: Shop, rng: random.Random, coupon: int | None) -> str:
    item_id, price = rng.choice(shop.items)
    quantity = 1 if price > 3_000 else rng.randint(1, 3)
    body: dict[str, object] = {
        "mini_program_id": shop.mini_program_id,
        "lines": [{"item_id": item_id, "quantity": quantity}],
    }
    if coupon is not None:
        body["coupon_ids"] = [coupon]
    try:
        order = _order(api, person, body)
    except CallFailed as refused:  # e.g. the coupon's floor is above this basket
        if refused.status >= 500 or coupon is None:
            raise
        del body["coupon_ids"]
        order = _order(api, person, body)
    paid = api.call(
        person.actor,
        "POST",
        f"/api/v1/orders/{order['id']}/pay",
        "orders.pay",
        idempotent=True,
    )
    return f"paid {paid['payable_fen']}"


def _order(api: Api, person: Person, body: dict[str, object]) -> dict[str, object]:
    return dict(
        api.call(
            person.actor, "POST", "/api/v1/orders", "orders.create", json=body, idempotent=True
        )
    )


def merchant_drop(api: Api, shop: Shop, day: int, now: datetime) -> str:
    """The morning coupon drop: ¥5 off ¥20, a few dozen, one per person a day."""
    activity = api.call(
        shop.owner,
        "POST",
        "/api/v1/coupon-activities",
        "coupons.create_activity",
        json=drop_body(f"sim-drop-{day}", day, now),
    )
    shop.activity_ids.append(int(activity["id"]))
    return f"drop {COUPON_STOCK}"


def drop_body(out_biz_no: str, day: int, now: datetime) -> dict[str, object]:
    return {
        "out_biz_no": out_biz_no,
        "name": f"Day {day + 1} drop",
        "kind": "fixed",
        "amount_fen": 500,
        "floor_fen": 2_000,
        "quantity": COUPON_STOCK,
        "user_limits": {"day": 1},
        "claim_begin": (now - timedelta(minutes=1)).isoformat(),
        "claim_end": (now + timedelta(days=2)).isoformat(),
        "validity": {"days_after_claim": 7},
        "activate": True,
    }


def scalper_raid(api: Api, world: World, ring: list[Person], rng: random.Random) -> str:
    """A ring claims every open drop at once from its few shared devices."""
    got = refused = 0
    for shop in world.shops:
        if not shop.activity_ids:
            continue
        for person in ring:
            if _claim(api, person, shop.activity_ids[-1], rng) is None:
                refused += 1
            else:
                got += 1
    return f"raid {got} claimed {refused} refused"
