"""The list of products. Importing a product registers its tables, events and subscribers."""

from __future__ import annotations

import importlib
from types import ModuleType

from fastapi import APIRouter

import ccare.core.idempotency
import ccare.core.outbox  # noqa: F401  (core tables)

PRODUCTS = (
    "identity",
    "merchants",
    "catalog",
    "consumers",
    "isvs",
    "ledger",
    "orders",
    "openplatform",
    "webhooks",
    "coupons",
    "profiles",
    "favorites",
    "messages",
    "segments",
    "campaigns",
    "dashboard",
    "promotion",
    "brand_bookings",
    "star_points",
)

for _name in PRODUCTS:
    for _part in ("models", "schemas", "tasks"):
        importlib.import_module(f"ccare.{_name}.{_part}")


def _module(name: str, part: str) -> ModuleType:
    return importlib.import_module(f"ccare.{name}.{part}")


def api_routers() -> list[APIRouter]:
    return [_module(n, "api").router for n in PRODUCTS]


def console_routers() -> list[APIRouter]:
    routers: list[APIRouter] = []
    for name in PRODUCTS:
        console = _module(name, "console")
        routers.extend(
            getattr(console, attr) for attr in ("router", "app_router") if hasattr(console, attr)
        )
    return routers
