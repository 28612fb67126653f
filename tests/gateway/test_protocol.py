"""The wire format and the error table, without HTTP."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from ccare.core.errors import Conflict, NotFound
from ccare.core.signing import SignAlgorithm, generate_private_key, verify
from ccare.orders.schemas import fen_to_yuan, yuan_to_fen
from ccare.web.gateway import protocol
from ccare.web.gateway.errors import DOMAIN_CODES, MESSAGES, AlipayError, from_domain
from ccare.web.gateway.registry import gateway_method, lookup, methods_in

KEY = generate_private_key(SignAlgorithm.ED25519)


def test_braces_inside_strings_are_escaped_and_nothing_else() -> None:
    value = {"subject": 'a{b}"c/d', "list": [1, "}"], "n": None, "ok": True, "咖啡": "茶"}
    text = protocol.dumps(value, ascii_only=False)
    assert text == (
        '{"subject":"a\\u007bb\\u007d\\"c/d","list":[1,"\\u007d"],"n":null,"ok":true,"咖啡":"茶"}'
    )
    assert json.loads(text) == value
    assert protocol.dumps({"t": "茶"}, ascii_only=True) == '{"t":"\\u8336"}'


def test_the_envelope_signs_exactly_the_inner_bytes() -> None:
    body = protocol.envelope("alipay_trade_query_response", {"code": "10000"}, KEY, "utf-8")
    inner = b'{"code":"10000"}'
    assert body.startswith(b'{"alipay_trade_query_response":' + inner + b',"sign":"')
    signature = json.loads(body)["sign"]
    assert verify(KEY.public_key(), inner, signature)
    assert protocol.response_key("alipay.trade.fastpay.refund.query") == (
        "alipay_trade_fastpay_refund_query_response"
    )


def test_parameters_merge_query_and_body_in_the_charset() -> None:
    gbk = b"%B2%E8"  # 茶 in GBK
    params, codec = protocol.parse_params(
        b"app_id=1&charset=GBK&sign=a%2Bb%3D", b"biz_content=" + gbk + b"&empty=", protocol.FORM
    )
    assert (params, codec) == (
        {"app_id": "1", "charset": "GBK", "sign": "a+b=", "biz_content": "茶", "empty": ""},
        "gbk",
    )
    # Form bodies may come without a content type; repeats with the same value are harmless.
    params, _ = protocol.parse_params(b"a=1+2", b"a=1%202", "")
    assert params == {"a": "1 2"}


@pytest.mark.parametrize(
    ("query", "body", "content_type", "sub_code"),
    [
        (b"a=1", b"a=2", protocol.FORM, "isv.invalid-parameter"),
        (b"charset=latin-1", b"", "", "isv.invalid-charset"),
        (b"a=%FF", b"", "", "isv.invalid-charset"),
        (b"", b"a=1", "multipart/form-data; boundary=x", "isv.invalid-parameter"),
    ],
)
def test_unreadable_parameters(query: bytes, body: bytes, content_type: str, sub_code: str) -> None:
    with pytest.raises(AlipayError) as refused:
        protocol.parse_params(query, body, content_type)
    assert (refused.value.code, refused.value.sub_code, refused.value.gateway) == (
        "40002",
        sub_code,
        True,
    )


@pytest.mark.parametrize(
    ("value", "fen"),
    [
        ("88.88", 8888),
        ("88.8", 8880),
        ("88", 8800),
        (" 0.01 ", 1),
        (12, 1200),
        (Decimal("12.5"), 1250),
        (Decimal("1E+2"), 10000),
        ("100000000.00", 10_000_000_000),
    ],
)
def test_yuan_to_fen_is_exact(value: object, fen: int) -> None:
    assert yuan_to_fen(value) == fen


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("88.888", "at most two decimals"),
        ("-1", "must not be negative"),
        ("0", "must be between 0.01 and 100000000.00"),
        ("100000000.01", "must be between 0.01 and 100000000.00"),
        ("1e2", 'an amount in yuan such as "88.88"'),
        ("01.00", 'an amount in yuan such as "88.88"'),
        ("", 'an amount in yuan such as "88.88"'),
        (True, 'an amount in yuan such as "88.88"'),
        (1.5, 'an amount in yuan such as "88.88"'),
    ],
)
def test_yuan_to_fen_refuses(value: object, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        yuan_to_fen(value)


def test_fen_to_yuan() -> None:
    assert [fen_to_yuan(f) for f in (0, 1, 10, 8888, -250)] == [
        "0.00",
        "0.01",
        "0.10",
        "88.88",
        "-2.50",
    ]


# Everything the gateway's methods and their authentication can raise.
GATEWAY_CODES = [
    "app.unknown",
    "app.disabled",
    "signature.invalid",
    "signature.no_key",
    "signature.bad_sign_type",
    "signature.bad_timestamp",
    "signature.timestamp_expired",
    "rate_limited",
    "app_auth.token_invalid",
    "app_auth.revoked",
    "app_auth.token_expired",
    "app_auth.scope_missing",
    "app.scope_missing",
    "app.no_merchant",
    "app_auth.code_invalid",
    "app_auth.code_used",
    "app_auth.code_expired",
    "app_auth.refresh_invalid",
    "app_auth.refresh_used",
    "app_auth.refresh_expired",
    "order.not_found",
    "order.not_payable",
    "order.expired",
    "order.not_closable",
    "order.not_refundable",
    "order.refund_exceeds_paid",
    "order.out_trade_no_taken",
    "order.store_not_found",
    "refund.request_no_reused",
    "trade.buyer_not_found",
    "trade.buyer_mismatch",
    "trade.no_mini_program",
    "trade.merchant_inactive",
    "mini_program.not_found",
    "wallet.insufficient_funds",
    "payment_code.invalid",
    "payment_code.used",
    "payment_code.expired",
    "service.unavailable",
]


def test_every_code_the_methods_raise_has_a_precise_alipay_code() -> None:
    assert sorted(set(GATEWAY_CODES) - set(DOMAIN_CODES)) == []
    for code, sub_code in DOMAIN_CODES.values():
        assert code in MESSAGES and code != "10000"
        assert sub_code.startswith(("isv.", "aop.", "isp.", "ACQ."))


def test_the_trade_status_makes_the_sub_code_precise() -> None:
    def sub(code: str, status: str) -> str:
        return from_domain(Conflict("x", code=code, status=status)).sub_code

    assert sub("order.not_payable", "paid") == "ACQ.TRADE_HAS_SUCCESS"
    assert sub("order.not_payable", "refunded") == "ACQ.TRADE_HAS_CLOSE"
    assert sub("order.out_trade_no_taken", "partially_refunded") == "ACQ.TRADE_HAS_SUCCESS"
    assert sub("order.out_trade_no_taken", "closed") == "ACQ.TRADE_HAS_CLOSE"
    assert sub("order.out_trade_no_taken", "created") == "ACQ.CONTEXT_INCONSISTENT"
    assert sub("order.not_refundable", "created") == "ACQ.TRADE_STATUS_ERROR"


def test_unknown_codes_still_say_what_happened() -> None:
    error = from_domain(NotFound("no such thing", code="thing.not_found"))
    assert (error.body(), error.gateway) == (
        {
            "code": "40004",
            "msg": "Business Failed",
            "sub_code": "ccare.thing.not_found",
            "sub_msg": "no such thing",
        },
        False,
    )


def test_the_registry() -> None:
    entry = lookup("alipay.trade.query")
    assert entry is not None and entry.scope == "orders"
    assert lookup("alipay.trade.teleport") is None
    assert methods_in(frozenset()) == [
        "alipay.open.auth.token.app",
        "alipay.open.auth.token.app.query",
    ]
    with pytest.raises(ValueError, match="dotted lower-case words"):
        gateway_method("alipay.trade2.query", scope=None, biz=type(entry.biz))
    with pytest.raises(RuntimeError, match="registered twice"):
        gateway_method("alipay.trade.query", scope="orders", biz=entry.biz)(lambda ctx, biz: {})
