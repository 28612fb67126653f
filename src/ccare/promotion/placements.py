"""The placements ads can run on: scenes of the consumer app and their slots, with the
reserve price under which no ad wins. Owned by the platform operator; code, not data, until
the operator console edits them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ccare.web.i18n import N_


class Scene(StrEnum):
    FEED = "feed"  # intelligent recommendation scenes
    SEARCH = "search"
    TRANSACTION = "transaction"  # around a payment
    VERTICAL = "vertical"  # vertical channels
    BRAND = "brand"  # platform events, booked (品牌宝), not auctioned


@dataclass(frozen=True)
class Placement:
    key: str
    scene: Scene
    name: str
    slots: int  # ads shown at once
    reserve_cpc_fen: int
    reserve_cpm_fen: int
    cpm: bool = True  # search sells clicks only

    @property
    def auctioned(self) -> bool:
        return self.scene != Scene.BRAND


PLACEMENTS: tuple[Placement, ...] = (
    Placement("home_feed", Scene.FEED, N_("Home feed"), 3, 20, 800),
    Placement("search_results", Scene.SEARCH, N_("Search results"), 2, 30, 0, cpm=False),
    Placement("payment_success", Scene.TRANSACTION, N_("Payment success page"), 1, 25, 1200),
    Placement("coupon_venue", Scene.TRANSACTION, N_("Coupon venue"), 4, 15, 600),
    Placement("car_life", Scene.VERTICAL, N_("Car life"), 2, 20, 700),
    Placement("citizen_services", Scene.VERTICAL, N_("Citizen services"), 2, 15, 500),
    Placement("medical", Scene.VERTICAL, N_("Medical and health"), 2, 25, 900),
    Placement("iot_devices", Scene.VERTICAL, N_("IoT devices"), 1, 10, 400),
    Placement("five_blessings", Scene.BRAND, N_("Five Blessings (五福) event"), 1, 0, 3000),
    Placement("double_12", Scene.BRAND, N_("Double 12 (双12) event"), 1, 0, 2500),
)
BY_KEY = {p.key: p for p in PLACEMENTS}
