"""An ISV operating several merchants, as a service provider does on Alipay's open
platform: the operator registers it; it creates a developer app with its own key; each
merchant it serves grants it and authorises the app; then every morning its app, signing
each call with `ccare.client` and checking the platform's signature on each answer, reads
each merchant's new paid orders and, after a slow day, drops a coupon for that merchant.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ccare.client import ApiError, CcareClient
from ccare.sim import agents
from ccare.sim.api import ANONYMOUS, Actor, Api, CallFailed
from ccare.sim.world import PASSWORD, Shop

SCOPES = ["orders", "coupons"]
SLOW_DAY_ORDERS = 3  # fewer new paid orders than this since the last look: drop a coupon


@dataclass
class Isv:
    isv_id: int
    app: CcareClient
    tokens: dict[int, str]  # merchant id -> app_auth_token
    last_order: dict[int, int] = field(default_factory=dict)  # merchant id -> newest paid seen

    def call(self, api: Api, merchant_id: int, method: str, path: str, name: str, **kw: Any) -> Any:
        """A signed call for one merchant, counted and timed with the agents' calls."""
        client = self.app.acting_for(self.tokens[merchant_id])
        started = time.perf_counter()
        try:
            body = client.request(method, path, **kw)
        except ApiError as refused:
            api.stats.record(name, refused.status, (time.perf_counter() - started) * 1000)
            raise CallFailed(name, refused.status, {"code": refused.code}) from refused
        except httpx.HTTPError as exc:
            api.stats.record(name, 0, (time.perf_counter() - started) * 1000)
            raise CallFailed(name, 0, str(exc)) from exc
        api.stats.record(name, 200, (time.perf_counter() - started) * 1000)
        return body


def open_isv(api: Api, operator: Actor, shops: list[Shop], seed: int) -> Isv:
    email = f"staff.s{seed}@isv.sim.test"
    isv = api.call(
        operator,
        "POST",
        "/api/v1/isvs",
        "isvs.create",
        json={
            "name": f"Sim Operations {seed}",
            "contact_email": email,
            "staff_name": "Operator of the ISV",
            "staff_email": email,
            "staff_password": PASSWORD,
        },
    )
    staff = api.staff(email, PASSWORD)
    key = Ed25519PrivateKey.generate()
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    app = api.call(
        staff,
        "POST",
        "/api/v1/apps",
        "apps.create",
        json={"name": "Sim store operations", "scopes": SCOPES, "public_key": public_pem.decode()},
    )
    platform = api.call(
        ANONYMOUS,
        "GET",
        "/api/v1/platform-key",
        "apps.platform_key",
        params={"algorithm": "ED25519"},
    )
    client = CcareClient(
        app_id=app["app_id"],
        private_key=key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode(),
        platform_public_key=platform["public_key"],
        http=api.http,
    )
    desk = Isv(int(isv["id"]), client, {})
    for shop in shops:
        api.call(
            shop.owner,
            "POST",
            "/api/v1/isv-grants",
            "isvs.grant",
            json={"isv_id": desk.isv_id, "scopes": SCOPES},
        )
        code = api.call(
            shop.owner,
            "POST",
            "/api/v1/app-authorizations",
            "apps.authorize",
            json={"app_id": app["app_id"]},
        )
        token = client.request(
            "POST",
            "/api/v1/app-auth/token",
            json={"grant_type": "authorization_code", "code": code["app_auth_code"]},
        )
        desk.tokens[shop.merchant_id] = token["app_auth_token"]
    return desk


def morning(api: Api, desk: Isv, shops: list[Shop], day: int, now: datetime) -> str:
    """Each operated shop's new paid orders since the last look; a drop after a slow day."""
    did = []
    for shop in shops:
        page = desk.call(
            api,
            shop.merchant_id,
            "GET",
            "/api/v1/orders",
            "isv.orders",
            params={"status": "paid", "limit": 100},
        )
        seen = desk.last_order.get(shop.merchant_id, 0)
        new = sum(1 for order in page["items"] if order["id"] > seen)
        desk.last_order[shop.merchant_id] = max([seen] + [o["id"] for o in page["items"]])
        if new < SLOW_DAY_ORDERS:
            activity = desk.call(
                api,
                shop.merchant_id,
                "POST",
                "/api/v1/coupon-activities",
                "isv.drop",
                json=agents.drop_body(f"sim-isv-drop-{day}", day, now),
            )
            shop.activity_ids.append(int(activity["id"]))
            did.append(f"{shop.spec.slug} {new} new, drop")
        else:
            did.append(f"{shop.spec.slug} {new} new")
    return "; ".join(did)
