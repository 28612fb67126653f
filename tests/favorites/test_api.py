"""Favoriting through the API: idempotent, announced only on real changes, refused for
closed or unknown mini-programs; the once-ever gift; benefits for favoriters only."""

from __future__ import annotations

from fastapi.testclient import TestClient

from ccare.runtime import Runtime
from tests.favorites.conftest import Shop, deliver, events, new_activity, new_buyer

FAV = "/api/v1/me/favorites"


def _settings(client: TestClient, shop: Shop, **body: object) -> dict[str, object]:
    r = client.put(
        f"/api/v1/mini-programs/{shop.mini_program_id}/favorite-settings",
        json=body,
        headers=shop.owner,
    )
    assert r.status_code == 200, r.text
    saved: dict[str, object] = r.json()
    return saved


def test_favoriting_is_idempotent_and_announced_once_per_change(
    client: TestClient, shop: Shop, runtime: Runtime
) -> None:
    mp = shop.mini_program_id
    first = client.put(f"{FAV}/{mp}", json={"channel": "storefront"}, headers=shop.buyer)
    again = client.put(f"{FAV}/{mp}", headers=shop.buyer)
    listed = client.get(FAV, headers=shop.buyer).json()
    removed = client.delete(f"{FAV}/{mp}", headers=shop.buyer)
    removed_again = client.delete(f"{FAV}/{mp}", headers=shop.buyer)
    after = client.get(FAV, headers=shop.buyer).json()
    back = client.put(f"{FAV}/{mp}", json={"channel": "app_home"}, headers=shop.buyer)
    deliver(runtime)

    assert (first.status_code, first.json()["favorited"], first.json()["changed"]) == (
        200,
        True,
        True,
    )
    assert first.json()["channel"] == "storefront"
    assert first.json()["gift"] == {
        "outcome": "none",
        "activity_id": None,
        "coupon_id": None,
        "refusal_code": None,
    }
    assert (again.json()["favorited"], again.json()["changed"]) == (True, False)
    assert [(f["mini_program_id"], f["name"], f["open"]) for f in listed] == [
        (mp, "西湖早餐铺", True)
    ]
    assert (removed.json()["favorited"], removed.json()["changed"]) == (False, True)
    assert (removed_again.json()["favorited"], removed_again.json()["changed"]) == (False, False)
    assert after == []
    assert (back.json()["changed"], back.json()["channel"]) == (True, "app_home")
    assert back.json()["first_favorited_at"] == first.json()["first_favorited_at"]
    assert [
        (t, c, p["merchant_id"], p["mini_program_id"], p["channel"])
        for t, c, p in events(runtime, "favorite.added", "favorite.removed")
    ] == [
        ("favorite.added", shop.consumer_id, shop.merchant_id, mp, "storefront"),
        ("favorite.removed", shop.consumer_id, shop.merchant_id, mp, None),
        ("favorite.added", shop.consumer_id, shop.merchant_id, mp, "app_home"),
    ]


def test_unknown_closed_and_bad_input_are_refused_precisely(
    client: TestClient, shop: Shop, runtime: Runtime
) -> None:
    mp = shop.mini_program_id
    client.put(f"{FAV}/{mp}", headers=shop.buyer)
    r = client.patch(f"/api/v1/mini-programs/{mp}", json={"status": "offline"}, headers=shop.owner)
    assert r.status_code == 200, r.text

    unknown = client.put(f"{FAV}/999999", headers=shop.buyer)
    closed = client.put(f"{FAV}/{shop.mini_program_id}", headers=new_buyer(client, runtime.db))
    bad_channel = client.put(
        f"{FAV}/{shop.other_mini_program_id}", json={"channel": "moon"}, headers=shop.buyer
    )
    extra = client.put(
        f"{FAV}/{shop.other_mini_program_id}", json={"colour": "red"}, headers=shop.buyer
    )
    listed = client.get(FAV, headers=shop.buyer).json()
    removed = client.delete(f"{FAV}/{mp}", headers=shop.buyer)
    staff = client.put(f"{FAV}/{mp}", headers=shop.owner)
    nobody = client.put(f"{FAV}/{mp}")

    assert (unknown.status_code, unknown.json()["code"]) == (404, "mini_program.not_found")
    assert (closed.status_code, closed.json()["code"]) == (409, "favorite.mini_program_closed")
    assert (bad_channel.status_code, bad_channel.json()["code"]) == (422, "invalid_request")
    assert (extra.status_code, extra.json()["code"]) == (422, "invalid_request")
    # A favorite of a mini-program that closed stays listed, marked closed, and can go.
    assert [(f["mini_program_id"], f["open"]) for f in listed] == [(mp, False)]
    assert (removed.status_code, removed.json()["changed"]) == (200, True)
    assert (staff.status_code, staff.json()["code"]) == (403, "auth.consumer_only")
    assert (nobody.status_code, nobody.json()["code"]) == (401, "auth.required")
    deliver(runtime)
    assert [t for t, _, _ in events(runtime, "favorite.added", "favorite.removed")] == [
        "favorite.added",
        "favorite.removed",
    ]


def test_the_gift_is_given_once_ever(client: TestClient, shop: Shop, runtime: Runtime) -> None:
    gift = new_activity(client, shop.owner, out_biz_no="gift", quantity=10)
    _settings(client, shop, gift_activity_id=gift)
    mp = shop.mini_program_id

    before = client.get(f"{FAV}/{mp}", headers=shop.buyer).json()
    first = client.put(f"{FAV}/{mp}", headers=shop.buyer).json()
    client.delete(f"{FAV}/{mp}", headers=shop.buyer)
    again = client.put(f"{FAV}/{mp}", headers=shop.buyer).json()
    after = client.get(f"{FAV}/{mp}", headers=shop.buyer).json()
    coupons = client.get("/api/v1/me/coupons", headers=shop.buyer).json()
    deliver(runtime)

    assert (before["favorited"], before["gift_offer"]["id"], before["gift"]) == (False, gift, None)
    assert first["gift"]["outcome"] == "given"
    assert first["gift"]["activity_id"] == gift
    assert [(c["id"], c["activity_id"], c["channel"]) for c in coupons] == [
        (first["gift"]["coupon_id"], gift, "favorites_gift")
    ]
    assert again["gift"] == first["gift"]
    assert (after["favorited"], after["gift_offer"]) == (True, None)
    assert [p["channel"] for _, _, p in events(runtime, "coupon.claimed")] == ["favorites_gift"]


def test_a_refused_gift_still_favorites_and_says_why(
    client: TestClient, shop: Shop, runtime: Runtime
) -> None:
    gift = new_activity(client, shop.owner, out_biz_no="gift", quantity=1)
    _settings(client, shop, gift_activity_id=gift)
    mp = shop.mini_program_id
    lucky = client.put(f"{FAV}/{mp}", headers=shop.buyer).json()
    late = new_buyer(client, runtime.db, "Late")

    offer = client.get(f"{FAV}/{mp}", headers=late).json()["gift_offer"]
    refused = client.put(f"{FAV}/{mp}", headers=late)
    client.put(
        f"/api/v1/coupon-activities/{gift}/append",
        json={"add": 5, "out_request_no": "more"},
        headers=shop.owner,
    )
    client.delete(f"{FAV}/{mp}", headers=late)
    retried = client.put(f"{FAV}/{mp}", headers=late).json()
    held = client.get("/api/v1/me/coupons", headers=late).json()
    deliver(runtime)

    assert lucky["gift"]["outcome"] == "given"
    assert offer is None  # no stock left: nothing is offered
    assert refused.status_code == 200
    assert (refused.json()["favorited"], refused.json()["gift"]) == (
        True,
        {
            "outcome": "refused",
            "activity_id": gift,
            "coupon_id": None,
            "refusal_code": "coupon.stock_exhausted",
        },
    )
    # Once ever: stock came back, but favoriting again gives nothing more.
    assert retried["gift"]["outcome"] == "refused"
    assert held == []
    assert len(events(runtime, "favorite.added")) == 3
    assert len(events(runtime, "coupon.claimed")) == 1


def test_benefits_are_seen_and_claimed_by_favoriters_only(
    client: TestClient, shop: Shop, runtime: Runtime
) -> None:
    perk = new_activity(
        client, shop.owner, out_biz_no="perk", quantity=5, user_limits={"lifetime": 1}
    )
    _settings(client, shop, benefit_activity_ids=[perk])
    mp = shop.mini_program_id
    url = f"{FAV}/{mp}/benefits/{perk}/claim"

    unseen = client.get(f"{FAV}/{mp}", headers=shop.buyer).json()
    refused = client.post(url, json={"claim_key": "k1"}, headers=shop.buyer)
    client.put(f"{FAV}/{mp}", headers=shop.buyer)
    seen = client.get(f"{FAV}/{mp}", headers=shop.buyer).json()
    claimed = client.post(url, json={"claim_key": "k1"}, headers=shop.buyer)
    repeated = client.post(url, json={"claim_key": "k1"}, headers=shop.buyer)
    held = client.get(f"{FAV}/{mp}", headers=shop.buyer).json()
    other = new_activity(client, shop.owner, out_biz_no="not-a-perk")
    not_benefit = client.post(
        f"{FAV}/{mp}/benefits/{other}/claim", json={"claim_key": "k2"}, headers=shop.buyer
    )
    client.delete(f"{FAV}/{mp}", headers=shop.buyer)
    gone = client.get(f"{FAV}/{mp}", headers=shop.buyer).json()
    after_leaving = client.post(url, json={"claim_key": "k3"}, headers=shop.buyer)

    assert unseen["benefits"] == []
    assert (refused.status_code, refused.json()["code"]) == (403, "favorite.favoriters_only")
    assert [(b["activity"]["id"], b["held"], b["claimable"]) for b in seen["benefits"]] == [
        (perk, False, True)
    ]
    assert (claimed.status_code, claimed.json()["activity_id"], claimed.json()["channel"]) == (
        200,
        perk,
        "favorites_gift",
    )
    assert repeated.json()["id"] == claimed.json()["id"]
    # One per user: held, no longer claimable.
    assert [(b["held"], b["claimable"]) for b in held["benefits"]] == [(True, False)]
    assert (not_benefit.status_code, not_benefit.json()["code"]) == (
        404,
        "favorite.benefit_not_found",
    )
    assert gone["benefits"] == []
    assert (after_leaving.status_code, after_leaving.json()["code"]) == (
        403,
        "favorite.favoriters_only",
    )


def test_a_favoriters_only_benefit_is_claimed_through_favorites_alone(
    client: TestClient, shop: Shop, runtime: Runtime
) -> None:
    perk = new_activity(client, shop.owner, out_biz_no="only-fans", favoriters_only=True)
    open_one = new_activity(client, shop.owner, out_biz_no="for-all")
    _settings(client, shop, benefit_activity_ids=[perk])
    mp = shop.mini_program_id
    client.put(f"{FAV}/{mp}", headers=shop.buyer)
    claim = f"/api/v1/coupon-activities/{perk}/claim"

    venue = [a["id"] for a in client.get("/api/v1/coupon-venue").json()]
    on_the_venue = client.post(
        claim, json={"channel": "coupon_venue", "claim_key": "v"}, headers=shop.buyer
    )
    posing_as_favorites = client.post(
        claim, json={"channel": "favorites_gift", "claim_key": "g"}, headers=shop.buyer
    )
    open_as_favorites = client.post(
        f"/api/v1/coupon-activities/{open_one}/claim",
        json={"channel": "favorites_gift", "claim_key": "g"},
        headers=shop.buyer,
    )
    through_favorites = client.post(
        f"{FAV}/{mp}/benefits/{perk}/claim", json={"claim_key": "b"}, headers=shop.buyer
    )
    with_passphrase = client.patch(
        f"/api/v1/coupon-activities/{perk}", json={"passphrase": "粉丝专享"}, headers=shop.owner
    )
    shown = client.get(f"/api/v1/coupon-activities/{perk}", headers=shop.owner).json()

    assert perk not in venue and open_one in venue
    assert (on_the_venue.status_code, on_the_venue.json()["code"]) == (
        403,
        "coupon.favoriters_only",
    )
    assert (posing_as_favorites.status_code, posing_as_favorites.json()["code"]) == (
        403,
        "coupon.channel_reserved",
    )
    assert open_as_favorites.json()["code"] == "coupon.channel_reserved"
    assert (through_favorites.status_code, through_favorites.json()["activity_id"]) == (200, perk)
    assert (with_passphrase.status_code, with_passphrase.json()["code"]) == (
        422,
        "coupon.favoriters_only_passphrase",
    )
    assert (shown["favoriters_only"], shown["issued"]) == (True, 1)
