"""The gateway's methods. Products register theirs in their own api.py:

    @gateway_method("alipay.trade.query", scope="orders", biz=TradeQueryBiz)
    def trade_query(ctx: GatewayContext, biz: TradeQueryBiz) -> dict[str, Any]: ...

The handler gets the verified call and the parsed `biz_content`, calls the same service
the native API uses and returns the fields of `<method>_response` (without code and msg).
"""

from __future__ import annotations

import functools
import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy.orm import Session

from ccare.core.signing import SignAlgorithm
from ccare.core.tenancy import Principal

B = TypeVar("B", bound=BaseModel)
Handler = Callable[["GatewayContext", B], dict[str, Any]]

# Letters only between the dots: the official SDK finds `<method>_response` with
# `[a-zA-z_]+`, so a digit in a method name would make its answers unreadable.
_METHOD_NAME = re.compile(r"[a-z]+(\.[a-z]+)+")


@dataclass(frozen=True)
class GatewayContext:
    db: Session
    principal: Principal
    app_id: str
    algorithm: SignAlgorithm
    method: str
    notify_url: str | None
    app_auth_token: str | None


@dataclass(frozen=True)
class GatewayMethod:
    name: str
    scope: str | None  # None: every app may call it
    biz: type[BaseModel]
    handler: Callable[[GatewayContext, Any], dict[str, Any]]


_METHODS: dict[str, GatewayMethod] = {}


def gateway_method(
    name: str, *, scope: str | None, biz: type[B]
) -> Callable[[Handler[B]], Handler[B]]:
    if not _METHOD_NAME.fullmatch(name):
        raise ValueError(f"gateway method names are dotted lower-case words, not {name!r}")

    def register(handler: Handler[B]) -> Handler[B]:
        known = _METHODS.get(name)
        if known is not None and known.handler is not handler:
            raise RuntimeError(f"gateway method {name} registered twice")
        _METHODS[name] = GatewayMethod(name, scope, biz, handler)
        return handler

    return register


@functools.cache
def _load_products() -> None:
    from ccare.products import PRODUCTS

    for product in PRODUCTS:
        importlib.import_module(f"ccare.{product}.api")


def lookup(name: str) -> GatewayMethod | None:
    _load_products()
    return _METHODS.get(name)


def methods_in(scopes: frozenset[str]) -> list[str]:
    """The methods an app (or a merchant's grant) with these scopes may call."""
    _load_products()
    return sorted(m.name for m in _METHODS.values() if m.scope is None or m.scope in scopes)
