"""The Alipay-v1-compatible gateway at `/gateway.do` (docs/adr/0008)."""

from ccare.web.gateway.registry import GatewayContext, gateway_method

__all__ = ["GatewayContext", "gateway_method"]
