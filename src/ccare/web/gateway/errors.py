"""Alipay's result codes, and which one each ccare error code becomes on the gateway.

A gateway answer carries `code` (the class of failure), `msg` (its fixed English text),
`sub_code` (the precise reason clients branch on) and `sub_msg` (ccare's message). Codes
that concern the call itself (the app, the signature, the common parameters) are answered
in `error_response`; once the app is known and the method exists, failures are answered
in `<method>_response` like Alipay does.
"""

from __future__ import annotations

from typing import Any

from ccare.core.errors import DomainError

SUCCESS = "10000"
MESSAGES = {
    SUCCESS: "Success",
    "20000": "Service Currently Unavailable",
    "20001": "Insufficient Token Rights",
    "40001": "Missing Required Arguments",
    "40002": "Invalid Arguments",
    "40004": "Business Failed",
    "40006": "Insufficient Permissions",
}

# ccare error code -> (Alipay code, sub_code).
DOMAIN_CODES: dict[str, tuple[str, str]] = {
    # the calling app and its signature
    "app.unknown": ("40002", "isv.invalid-app-id"),
    "app.disabled": ("40002", "isv.invalid-app-id"),
    "signature.invalid": ("40002", "isv.invalid-signature"),
    "signature.no_key": ("40001", "isv.missing-signature-key"),
    "signature.bad_sign_type": ("40002", "isv.invalid-signature-type"),
    "signature.bad_timestamp": ("40002", "isv.invalid-timestamp"),
    "signature.timestamp_expired": ("40002", "isv.invalid-timestamp"),
    "rate_limited": ("20000", "aop.app-call-limited"),
    # acting for a merchant
    "app_auth.token_invalid": ("20001", "aop.invalid-app-auth-token"),
    "app_auth.revoked": ("20001", "aop.invalid-app-auth-token"),
    "app_auth.token_expired": ("20001", "aop.app-auth-token-time-out"),
    "app_auth.scope_missing": ("20001", "aop.invalid-app-auth-token-no-api"),
    "app.scope_missing": ("40006", "isv.insufficient-isv-permissions"),
    "app.no_merchant": ("40006", "isv.insufficient-isv-permissions"),
    "staff.role_forbidden": ("40006", "isv.insufficient-isv-permissions"),
    "tenancy.forbidden": ("40006", "isv.insufficient-isv-permissions"),
    "auth.staff_only": ("40006", "isv.insufficient-isv-permissions"),
    # alipay.open.auth.token.app
    "app_auth.code_invalid": ("40002", "isv.code-invalid"),
    "app_auth.code_used": ("40002", "isv.code-invalid"),
    "app_auth.code_expired": ("40002", "isv.code-invalid"),
    "app_auth.refresh_invalid": ("40002", "isv.refresh-token-invalid"),
    "app_auth.refresh_used": ("40002", "isv.refresh-token-invalid"),
    "app_auth.refresh_expired": ("40002", "isv.refresh-token-time-out"),
    # trades
    "order.not_found": ("40004", "ACQ.TRADE_NOT_EXIST"),
    "order.not_payable": ("40004", "ACQ.TRADE_STATUS_ERROR"),
    "order.expired": ("40004", "ACQ.TRADE_HAS_CLOSE"),
    "order.not_closable": ("40004", "ACQ.TRADE_STATUS_ERROR"),
    "order.not_refundable": ("40004", "ACQ.TRADE_STATUS_ERROR"),
    "order.refund_exceeds_paid": ("40004", "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL"),
    "order.out_trade_no_taken": ("40004", "ACQ.CONTEXT_INCONSISTENT"),
    "order.store_not_found": ("40004", "ACQ.INVALID_STORE_ID"),
    "refund.request_no_reused": ("40004", "ACQ.DISCORDANT_REPEAT_REQUEST"),
    "trade.buyer_not_found": ("40004", "ACQ.INVALID_PARAMETER"),
    "trade.buyer_mismatch": ("40004", "ACQ.TRADE_BUYER_NOT_MATCH"),
    "trade.no_mini_program": ("40004", "ACQ.ACCESS_FORBIDDEN"),
    "trade.merchant_inactive": ("40004", "ACQ.SELLER_BEEN_BLOCKED"),
    "trade.merchant_required": ("40004", "ACQ.INVALID_PARAMETER"),
    "trade.id_missing": ("40001", "isv.missing-parameter"),
    "merchant.not_found": ("40004", "ACQ.INVALID_PARAMETER"),
    "mini_program.not_found": ("40004", "ACQ.INVALID_PARAMETER"),
    "consumer.not_found": ("40004", "ACQ.INVALID_PARAMETER"),
    "wallet.insufficient_funds": ("40004", "ACQ.BUYER_BALANCE_NOT_ENOUGH"),
    "payment_code.invalid": ("40004", "ACQ.PAYMENT_AUTH_CODE_INVALID"),
    "payment_code.used": ("40004", "ACQ.PAYMENT_AUTH_CODE_INVALID"),
    "payment_code.expired": ("40004", "ACQ.PAYMENT_AUTH_CODE_INVALID"),
    # the platform
    "service.unavailable": ("20000", "isp.unknow-error"),
}

# Refusals whose precise reason is the trade's status (`details["status"]`).
_PAID = ("paid", "partially_refunded")
_CLOSED = ("closed", "refunded")
BY_STATUS: dict[tuple[str, str], str] = {
    **{("order.not_payable", s): "ACQ.TRADE_HAS_SUCCESS" for s in _PAID},
    **{("order.not_payable", s): "ACQ.TRADE_HAS_CLOSE" for s in _CLOSED},
    **{("order.out_trade_no_taken", s): "ACQ.TRADE_HAS_SUCCESS" for s in _PAID},
    **{("order.out_trade_no_taken", s): "ACQ.TRADE_HAS_CLOSE" for s in _CLOSED},
    **{("order.not_refundable", s): "ACQ.TRADE_HAS_CLOSE" for s in _CLOSED},
}

# Answered in error_response: the call could not be attributed to a working app.
GATEWAY_LEVEL = frozenset(
    {
        "app.unknown",
        "app.disabled",
        "signature.invalid",
        "signature.no_key",
        "signature.bad_sign_type",
        "signature.bad_timestamp",
        "signature.timestamp_expired",
    }
)


class AlipayError(Exception):
    """A refusal in Alipay's shape; `gateway` ones go out as `error_response`."""

    def __init__(self, code: str, sub_code: str, sub_msg: str, *, gateway: bool = False) -> None:
        super().__init__(f"{code} {sub_code}: {sub_msg}")
        self.code = code
        self.sub_code = sub_code
        self.sub_msg = sub_msg
        self.gateway = gateway

    def body(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "msg": MESSAGES[self.code],
            "sub_code": self.sub_code,
            "sub_msg": self.sub_msg,
        }


def from_domain(exc: DomainError) -> AlipayError:
    """Unknown ccare codes still say what happened: 40004 with sub_code `ccare.<code>`."""
    code, sub_code = DOMAIN_CODES.get(exc.code, ("40004", f"ccare.{exc.code}"))
    status = exc.details.get("status")
    if isinstance(status, str):
        sub_code = BY_STATUS.get((exc.code, status), sub_code)
    return AlipayError(code, sub_code, exc.message, gateway=exc.code in GATEWAY_LEVEL)


def missing(sub_code: str, message: str) -> AlipayError:
    """A common parameter is absent: a gateway-level 40001."""
    return AlipayError("40001", sub_code, message, gateway=True)


def invalid(sub_code: str, message: str, *, gateway: bool = True) -> AlipayError:
    return AlipayError("40002", sub_code, message, gateway=gateway)


def unavailable(message: str = "service busy or unavailable; retry") -> AlipayError:
    return AlipayError("20000", "isp.unknow-error", message)
