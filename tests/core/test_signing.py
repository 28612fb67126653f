"""ccare.core.signing: keys in every format, signatures, the v1 and native signed texts.

The SDK cross-checks run the two public Alipay SDKs, unmodified, in a subprocess: a
signature ccare makes must verify with their routines and theirs with ccare's.
"""

from __future__ import annotations

import base64
import hashlib
import json
import textwrap
import time
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from tests import sdk_driver
from tests.sdk_driver import SdkError, run_sdk

from ccare.core.errors import InvalidInput
from ccare.core.signing import (
    AUTH_SCHEMES,
    Authorization,
    PrivateKey,
    SignAlgorithm,
    algorithm_of,
    authorization_header,
    export_private_key,
    export_public_key,
    fingerprint,
    generate_private_key,
    load_private_key,
    load_public_key,
    native_content,
    parse_authorization,
    response_content,
    sign,
    v1_content,
    v1_verify,
    verify,
)

# RFC 8032 §7.1, test 2: an independent known answer for Ed25519.
ED_SEED = bytes.fromhex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb")
ED_PUBLIC = bytes.fromhex("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c")
ED_SIGNATURE_OF_72 = bytes.fromhex(
    "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
    "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"
)
# The fixed DER prefixes of Ed25519 SubjectPublicKeyInfo and PKCS#8 (RFC 8410).
ED_SPKI_DER = bytes.fromhex("302a300506032b6570032100") + ED_PUBLIC
ED_PKCS8_DER = bytes.fromhex("302e020100300506032b657004220420") + ED_SEED


@pytest.fixture(scope="module")
def rsa_key() -> RSAPrivateKey:
    key = generate_private_key(SignAlgorithm.RSA2)
    assert isinstance(key, RSAPrivateKey)
    return key


@pytest.fixture(scope="module")
def other_rsa_key() -> RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ed_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(ED_SEED)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _pem_body(pem: str) -> str:
    """The base64 lines of a PEM block without its BEGIN/END lines, as key tools print it."""
    return "".join(pem.strip().splitlines()[1:-1])


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _rsa_public_numbers(key: RSAPublicKey) -> tuple[int, int]:
    numbers = key.public_numbers()
    return numbers.n, numbers.e


def _code(excinfo: pytest.ExceptionInfo[InvalidInput]) -> str:
    return excinfo.value.code


# --- Ed25519 known answers --------------------------------------------------------------


def test_ed25519_sign_matches_rfc8032(ed_key: Ed25519PrivateKey) -> None:
    assert sign(ed_key, b"\x72") == _b64(ED_SIGNATURE_OF_72)
    assert verify(ed_key.public_key(), b"\x72", _b64(ED_SIGNATURE_OF_72)) is True


def test_ed25519_exports_are_the_rfc8410_encodings(ed_key: Ed25519PrivateKey) -> None:
    public = ed_key.public_key()
    assert export_public_key(public, "base64") == _b64(ED_SPKI_DER)
    assert export_private_key(ed_key, "base64") == _b64(ED_PKCS8_DER)
    spki_pem = export_public_key(public)
    assert spki_pem.startswith("-----BEGIN PUBLIC KEY-----\n")
    assert _pem_body(spki_pem) == _b64(ED_SPKI_DER)
    pkcs8_pem = export_private_key(ed_key)
    assert pkcs8_pem.startswith("-----BEGIN PRIVATE KEY-----\n")
    assert _pem_body(pkcs8_pem) == _b64(ED_PKCS8_DER)


def test_fingerprint_is_truncated_sha256_of_spki(ed_key: Ed25519PrivateKey) -> None:
    expected = "SHA256:" + hashlib.sha256(ED_SPKI_DER).digest()[:16].hex()
    assert fingerprint(ed_key.public_key()) == expected
    assert len(expected) == len("SHA256:") + 32


def test_rsa_fingerprint_covers_spki_der(rsa_key: RSAPrivateKey) -> None:
    der = rsa_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert fingerprint(rsa_key.public_key()) == "SHA256:" + hashlib.sha256(der).hexdigest()[:32]


# --- loading keys in every format -------------------------------------------------------


def test_ed25519_keys_load_from_pem_and_bare_base64(ed_key: Ed25519PrivateKey) -> None:
    for text in (export_public_key(ed_key.public_key()), _b64(ED_SPKI_DER)):
        public = load_public_key(text)
        assert isinstance(public, Ed25519PublicKey)
        assert _raw_public(public) == ED_PUBLIC
    for text in (export_private_key(ed_key), _b64(ED_PKCS8_DER)):
        private = load_private_key(text)
        assert isinstance(private, Ed25519PrivateKey)
        assert sign(private, b"\x72") == _b64(ED_SIGNATURE_OF_72)


@pytest.mark.parametrize("fmt", ["spki", "pkcs1", "base64", "pkcs1-base64"])
def test_rsa_public_key_round_trips(rsa_key: RSAPrivateKey, fmt: str) -> None:
    public = rsa_key.public_key()
    if fmt == "pkcs1-base64":
        text = _pem_body(export_public_key(public, "pkcs1"))
    else:
        text = export_public_key(public, fmt)  # type: ignore[arg-type]
    loaded = load_public_key(text)
    assert isinstance(loaded, RSAPublicKey)
    assert _rsa_public_numbers(loaded) == _rsa_public_numbers(public)
    assert fingerprint(loaded) == fingerprint(public)


def test_rsa_public_pem_headers_name_the_format(rsa_key: RSAPrivateKey) -> None:
    public = rsa_key.public_key()
    assert export_public_key(public, "spki").startswith("-----BEGIN PUBLIC KEY-----\n")
    assert export_public_key(public, "pkcs1").startswith("-----BEGIN RSA PUBLIC KEY-----\n")
    assert "\n" not in export_public_key(public, "base64")
    assert export_public_key(public, "base64") == _pem_body(export_public_key(public, "spki"))


@pytest.mark.parametrize("fmt", ["pkcs8", "pkcs1", "base64", "pkcs1-base64"])
def test_rsa_private_key_round_trips(rsa_key: RSAPrivateKey, fmt: str) -> None:
    if fmt == "pkcs1-base64":
        text = _pem_body(export_private_key(rsa_key, "pkcs1"))
    else:
        text = export_private_key(rsa_key, fmt)  # type: ignore[arg-type]
    loaded = load_private_key(text)
    assert isinstance(loaded, RSAPrivateKey)
    assert loaded.private_numbers() == rsa_key.private_numbers()
    assert verify(rsa_key.public_key(), b"m", sign(loaded, b"m")) is True


def test_rsa_private_pem_headers_name_the_format(rsa_key: RSAPrivateKey) -> None:
    assert export_private_key(rsa_key, "pkcs8").startswith("-----BEGIN PRIVATE KEY-----\n")
    assert export_private_key(rsa_key, "pkcs1").startswith("-----BEGIN RSA PRIVATE KEY-----\n")
    assert export_private_key(rsa_key, "base64") == _pem_body(export_private_key(rsa_key))


def test_bare_base64_with_whitespace_and_newlines_loads(rsa_key: RSAPrivateKey) -> None:
    b64 = export_public_key(rsa_key.public_key(), "base64")
    wrapped = "\n  " + "\r\n\t".join(textwrap.wrap(b64, 64)) + " \n"
    loaded = load_public_key(wrapped)
    assert isinstance(loaded, RSAPublicKey)
    assert _rsa_public_numbers(loaded) == _rsa_public_numbers(rsa_key.public_key())


def test_pem_with_escaped_newlines_loads(rsa_key: RSAPrivateKey) -> None:
    escaped = export_private_key(rsa_key, "pkcs1").replace("\n", "\\n")
    loaded = load_private_key(escaped)
    assert isinstance(loaded, RSAPrivateKey)
    assert loaded.private_numbers() == rsa_key.private_numbers()


def test_single_line_pem_loads(rsa_key: RSAPrivateKey) -> None:
    one_line = export_public_key(rsa_key.public_key()).replace("\n", " ")
    loaded = load_public_key(one_line)
    assert isinstance(loaded, RSAPublicKey)
    assert _rsa_public_numbers(loaded) == _rsa_public_numbers(rsa_key.public_key())


def test_algorithm_of_every_key_type(rsa_key: RSAPrivateKey, ed_key: Ed25519PrivateKey) -> None:
    assert algorithm_of(rsa_key) is SignAlgorithm.RSA2
    assert algorithm_of(rsa_key.public_key()) is SignAlgorithm.RSA2
    assert algorithm_of(ed_key) is SignAlgorithm.ED25519
    assert algorithm_of(ed_key.public_key()) is SignAlgorithm.ED25519


def test_generate_private_key() -> None:
    ed = generate_private_key(SignAlgorithm.ED25519)
    assert isinstance(ed, Ed25519PrivateKey)
    big = generate_private_key(SignAlgorithm.RSA2, rsa_bits=3072)
    assert isinstance(big, RSAPrivateKey)
    assert big.key_size == 3072
    assert big.private_numbers().public_numbers.e == 65537


# --- key errors ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n",
        "not a key at all!",
        "TUlJQklqQU5CZ2txaGtpRzl3MEJBUUVG",  # valid base64, not DER
        "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\n",
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
    ],
)
def test_unparseable_public_keys_are_invalid(text: str) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        load_public_key(text)
    assert _code(excinfo) == "key.invalid"


def test_private_key_pasted_as_public_is_refused(
    rsa_key: RSAPrivateKey, ed_key: Ed25519PrivateKey
) -> None:
    for text in (
        export_private_key(rsa_key, "pkcs1"),
        export_private_key(rsa_key, "pkcs8"),
        export_private_key(rsa_key, "base64"),
        _pem_body(export_private_key(rsa_key, "pkcs1")),
        export_private_key(ed_key, "base64"),
    ):
        with pytest.raises(InvalidInput) as excinfo:
            load_public_key(text)
        assert _code(excinfo) == "key.private_given"
        assert "private key" in excinfo.value.message


def test_public_key_given_as_private_is_invalid(rsa_key: RSAPrivateKey) -> None:
    for text in (
        export_public_key(rsa_key.public_key()),
        export_public_key(rsa_key.public_key(), "base64"),
    ):
        with pytest.raises(InvalidInput) as excinfo:
            load_private_key(text)
        assert _code(excinfo) == "key.invalid"


def test_weak_rsa_keys_are_refused() -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(InvalidInput) as excinfo:
        load_public_key(export_public_key(weak.public_key(), "base64"))
    assert _code(excinfo) == "key.too_weak"
    assert "1024" in excinfo.value.message
    with pytest.raises(InvalidInput) as excinfo:
        load_private_key(export_private_key(weak, "pkcs1"))
    assert _code(excinfo) == "key.too_weak"
    with pytest.raises(InvalidInput) as excinfo:
        generate_private_key(SignAlgorithm.RSA2, rsa_bits=1024)
    assert _code(excinfo) == "key.too_weak"


def test_unsupported_key_types_are_invalid() -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ec_public = ec_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    ec_private = ec_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(InvalidInput) as excinfo:
        load_public_key(ec_public.decode())
    assert (_code(excinfo), excinfo.value.message) == (
        "key.invalid",
        "Only RSA and Ed25519 keys are supported.",
    )
    with pytest.raises(InvalidInput) as excinfo:
        load_private_key(ec_private.decode())
    assert _code(excinfo) == "key.invalid"


def test_encrypted_private_keys_are_invalid(rsa_key: RSAPrivateKey) -> None:
    encrypted = rsa_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret"),
    ).decode()
    with pytest.raises(InvalidInput) as excinfo:
        load_private_key(encrypted)
    assert _code(excinfo) == "key.invalid"
    assert "Encrypted" in excinfo.value.message


def test_pkcs1_export_of_ed25519_is_refused(ed_key: Ed25519PrivateKey) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        export_public_key(ed_key.public_key(), "pkcs1")
    assert _code(excinfo) == "key.format_unsupported"
    with pytest.raises(InvalidInput) as excinfo:
        export_private_key(ed_key, "pkcs1")
    assert _code(excinfo) == "key.format_unsupported"


# --- sign / verify ----------------------------------------------------------------------


def test_rsa_signature_is_pkcs1v15_sha256(rsa_key: RSAPrivateKey) -> None:
    signature = sign(rsa_key, "a=1&b=中".encode())
    raw = base64.b64decode(signature, validate=True)
    assert len(raw) == 256
    # Raises if it is not SHA256withRSA PKCS#1 v1.5 over exactly these bytes.
    rsa_key.public_key().verify(raw, "a=1&b=中".encode(), padding.PKCS1v15(), hashes.SHA256())
    assert verify(rsa_key.public_key(), "a=1&b=中".encode(), signature) is True


@pytest.mark.parametrize("algorithm", [SignAlgorithm.RSA2, SignAlgorithm.ED25519])
def test_verify_rejects_without_raising(
    algorithm: SignAlgorithm,
    rsa_key: RSAPrivateKey,
    other_rsa_key: RSAPrivateKey,
    ed_key: Ed25519PrivateKey,
) -> None:
    key: PrivateKey = rsa_key if algorithm is SignAlgorithm.RSA2 else ed_key
    other: PrivateKey = (
        other_rsa_key if algorithm is SignAlgorithm.RSA2 else Ed25519PrivateKey.generate()
    )
    public = key.public_key()
    good = sign(key, b"message")
    assert verify(public, b"message", good) is True
    assert verify(public, b"messagf", good) is False
    assert verify(public, b"message", sign(other, b"message")) is False
    assert verify(public, b"message", "") is False
    assert verify(public, b"message", "not base64!") is False
    assert verify(public, b"message", good[:-4]) is False  # valid base64, wrong length
    assert verify(public, b"message", _b64(b"\x00" * 10)) is False
    assert verify(public, b"message", good + "AAAA") is False
    assert verify(public, b"message", "é" + good[1:]) is False
    flipped = bytearray(base64.b64decode(good))
    flipped[-1] ^= 1
    assert verify(public, b"message", _b64(bytes(flipped))) is False


def test_rsa_signature_by_sha1_is_not_rsa2(rsa_key: RSAPrivateKey) -> None:
    sha1 = rsa_key.sign(b"m", padding.PKCS1v15(), hashes.SHA1())
    assert verify(rsa_key.public_key(), b"m", _b64(sha1)) is False


# --- Alipay v1 ---------------------------------------------------------------------------

V1_PARAMS: dict[str, str | None] = {
    "method": "alipay.trade.query",
    "app_id": "2021000000000001",
    "sign": "SIGNATURE==",
    "sign_type": "RSA2",
    "biz_content": '{"out_trade_no":"a&b=c d+e","subject":"咖啡"}',
    "charset": "utf-8",
    "version": "1.0",
    "timestamp": "2024-01-02 03:04:05",
    "notify_url": "",
    "return_url": None,
    "Zeta": "upper case sorts first",
}


def test_v1_content_exact_string() -> None:
    assert v1_content(V1_PARAMS) == (
        "Zeta=upper case sorts first"
        "&app_id=2021000000000001"
        '&biz_content={"out_trade_no":"a&b=c d+e","subject":"咖啡"}'
        "&charset=utf-8"
        "&method=alipay.trade.query"
        "&sign_type=RSA2"
        "&timestamp=2024-01-02 03:04:05"
        "&version=1.0"
    )


def test_v1_content_keeping_empty_values() -> None:
    assert v1_content({"b": "", "a": "1", "c": None, "sign": "x"}, skip_empty=False) == "a=1&b="


def test_v1_content_for_notifications_drops_sign_type() -> None:
    params = {"trade_status": "TRADE_SUCCESS", "sign": "s", "sign_type": "RSA2", "app_id": "9"}
    assert v1_content(params, exclude=("sign", "sign_type")) == (
        "app_id=9&trade_status=TRADE_SUCCESS"
    )


def test_v1_content_sorts_by_code_point_not_locale() -> None:
    params = {"a_b": "1", "a": "2", "aB": "3", "a1": "4", "A": "5"}
    assert v1_content(params) == "A=5&a=2&a1=4&aB=3&a_b=1"


def test_v1_verify_accepts_both_empty_value_conventions(rsa_key: RSAPrivateKey) -> None:
    public = rsa_key.public_key()
    skipped = sign(rsa_key, v1_content(V1_PARAMS).encode())
    kept = sign(rsa_key, v1_content(V1_PARAMS, skip_empty=False).encode())
    assert skipped != kept
    assert v1_verify(public, V1_PARAMS, skipped) is True
    assert v1_verify(public, V1_PARAMS, kept) is True
    tampered = {**V1_PARAMS, "biz_content": '{"out_trade_no":"a&b=c d+f","subject":"咖啡"}'}
    assert v1_verify(public, tampered, skipped) is False
    assert v1_verify(public, tampered, kept) is False
    assert v1_verify(public, V1_PARAMS, "garbage") is False


def test_v1_verify_with_notification_exclusions(rsa_key: RSAPrivateKey) -> None:
    params = {"notify_id": "n1", "sign_type": "RSA2", "total_amount": "88.88"}
    signature = sign(rsa_key, b"notify_id=n1&total_amount=88.88")
    assert v1_verify(rsa_key.public_key(), params, signature) is False
    assert v1_verify(rsa_key.public_key(), params, signature, exclude=("sign", "sign_type")) is True


def test_v1_verify_in_gbk(rsa_key: RSAPrivateKey) -> None:
    params = {"subject": "咖啡", "charset": "gbk"}
    signature = sign(rsa_key, "charset=gbk&subject=咖啡".encode("gbk"))
    assert v1_verify(rsa_key.public_key(), params, signature, charset="gbk") is True
    assert v1_verify(rsa_key.public_key(), params, signature) is False
    assert v1_verify(rsa_key.public_key(), {"s": "😀"}, signature, charset="gbk") is False


# --- native scheme ----------------------------------------------------------------------


def test_native_content_exact_bytes() -> None:
    content = native_content(
        "2000000000000001",
        "0123456789abcdef",
        1700000000123,
        "post",
        "/api/v1/orders?a=1&b=%20",
        b'{"x":"\xe5\x92\x96"}',
    )
    assert content == (
        b"app_id=2000000000000001,nonce=0123456789abcdef,timestamp=1700000000123\n"
        b"POST\n"
        b"/api/v1/orders?a=1&b=%20\n"
        b'{"x":"\xe5\x92\x96"}\n'
    )


def test_native_content_with_app_auth_token_and_empty_body() -> None:
    content = native_content("2000000000000001", "n" * 16, 5, "GET", "/p", b"", "tok-1")
    assert content == (
        b"app_id=2000000000000001,nonce=nnnnnnnnnnnnnnnn,timestamp=5\nGET\n/p\n\ntok-1\n"
    )


def test_response_content_exact_bytes() -> None:
    assert response_content(1700000000123, "abc", b'{"ok":true}') == (
        b'1700000000123\nabc\n{"ok":true}\n'
    )
    assert response_content("42", "n", b"") == b"42\nn\n\n"


def test_authorization_header_ed25519_is_exact(ed_key: Ed25519PrivateKey) -> None:
    header = authorization_header(
        "2000000000000001",
        ed_key,
        "POST",
        "/api/v1/x",
        b"{}",
        nonce="0123456789abcdef",
        timestamp_ms=1700000000000,
    )
    signed = (
        b"app_id=2000000000000001,nonce=0123456789abcdef,timestamp=1700000000000\n"
        b"POST\n/api/v1/x\n{}\n"
    )
    # Ed25519 is deterministic: the signature is fixed by the key and the text.
    expected_sign = _b64(ed_key.sign(signed))
    assert header == (
        "CCARE-ED25519 app_id=2000000000000001,nonce=0123456789abcdef,"
        f"timestamp=1700000000000,sign={expected_sign}"
    )


def test_authorization_header_round_trips_through_parse(rsa_key: RSAPrivateKey) -> None:
    before = int(time.time() * 1000)
    header = authorization_header(
        "2000000000000001", rsa_key, "DELETE", "/api/v1/a?b=c", b"", app_auth_token="tok"
    )
    after = int(time.time() * 1000)
    auth = parse_authorization(header)
    assert auth.scheme == "CCARE-SHA256withRSA"
    assert auth.algorithm is SignAlgorithm.RSA2
    assert auth.app_id == "2000000000000001"
    assert len(auth.nonce) == 32
    int(auth.nonce, 16)
    assert before <= auth.timestamp_ms <= after
    content = native_content(
        auth.app_id, auth.nonce, auth.timestamp_ms, "DELETE", "/api/v1/a?b=c", b"", "tok"
    )
    assert verify(rsa_key.public_key(), content, auth.sign) is True
    without_token = native_content(
        auth.app_id, auth.nonce, auth.timestamp_ms, "DELETE", "/api/v1/a?b=c", b""
    )
    assert verify(rsa_key.public_key(), without_token, auth.sign) is False


def test_parse_authorization_exact() -> None:
    value = (
        "CCARE-SHA256withRSA  sign=ab+/cd==, timestamp=1700000000123,"
        "app_id=2000000000000001,nonce=0123456789abcdef0123"
    )
    assert parse_authorization(value) == Authorization(
        scheme="CCARE-SHA256withRSA",
        algorithm=SignAlgorithm.RSA2,
        app_id="2000000000000001",
        nonce="0123456789abcdef0123",
        timestamp_ms=1700000000123,
        sign="ab+/cd==",
    )


def test_parse_authorization_schemes() -> None:
    fields = "app_id=1,nonce=0123456789abcdef,timestamp=1,sign=x="
    assert AUTH_SCHEMES == {
        "CCARE-SHA256withRSA": SignAlgorithm.RSA2,
        "ALIPAY-SHA256withRSA": SignAlgorithm.RSA2,
        "CCARE-ED25519": SignAlgorithm.ED25519,
    }
    alipay = parse_authorization(f"ALIPAY-SHA256withRSA {fields}")
    assert (alipay.scheme, alipay.algorithm) == ("ALIPAY-SHA256withRSA", SignAlgorithm.RSA2)
    ed = parse_authorization(f"ccare-ed25519 {fields}")
    assert (ed.scheme, ed.algorithm, ed.sign) == ("CCARE-ED25519", SignAlgorithm.ED25519, "x=")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "The Authorization header is empty."),
        ("Bearer abc", "Unknown authorization scheme 'Bearer'"),
        ("CCARE-SHA256withRSA", "Authorization field 'app_id' is missing."),
        (
            "CCARE-SHA256withRSA app_id=1,nonce=0123456789abcdef,timestamp=1",
            "Authorization field 'sign' is missing.",
        ),
        (
            "CCARE-SHA256withRSA app_id=,nonce=0123456789abcdef,timestamp=1,sign=x",
            "Authorization field 'app_id' is missing.",
        ),
        (
            "CCARE-SHA256withRSA app_id=1,nonce,timestamp=1,sign=x",
            "Authorization field 'nonce' has no value.",
        ),
        (
            "CCARE-SHA256withRSA app_id=1,app_id=2,nonce=0123456789abcdef,timestamp=1,sign=x",
            "Authorization field 'app_id' is given twice.",
        ),
        (
            "CCARE-SHA256withRSA app_id=1,nonce=0123456789abcdef,timestamp=17e11,sign=x",
            "The timestamp '17e11' is not epoch milliseconds.",
        ),
        (
            "CCARE-SHA256withRSA app_id=1,nonce=0123456789abcdef,timestamp=-5,sign=x",
            "The timestamp '-5' is not epoch milliseconds.",
        ),
        (
            "CCARE-SHA256withRSA app_id=1,nonce=0123456789abcdef,timestamp=017,sign=x",
            "The timestamp '017' is not epoch milliseconds.",
        ),
        (
            "CCARE-SHA256withRSA app_id=1,nonce=short,timestamp=1,sign=x",
            "The nonce must be 16 to 64 printable ASCII characters without ','.",
        ),
        (
            f"CCARE-SHA256withRSA app_id=1,nonce={'n' * 65},timestamp=1,sign=x",
            "The nonce must be 16 to 64 printable ASCII characters without ','.",
        ),
    ],
)
def test_parse_authorization_errors(value: str, message: str) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        parse_authorization(value)
    assert _code(excinfo) == "signature.malformed"
    assert excinfo.value.message.startswith(message)


# --- the SDK driver ----------------------------------------------------------------------


def test_run_sdk_returns_the_result() -> None:
    assert run_sdk("python-alipay-sdk", "import alipay\nresult = {'n': [1, 'two']}") == {
        "n": [1, "two"]
    }


def test_run_sdk_reports_failures() -> None:
    with pytest.raises(SdkError, match="ZeroDivisionError"):
        run_sdk("alipay-sdk-python", "result = 1 / 0")
    with pytest.raises(SdkError, match="did not assign `result`"):
        run_sdk("alipay-sdk-python", "x = 1")


def test_run_sdk_names_the_install_script(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(sdk_driver, "SDK_ROOT", tmp_path)
    with pytest.raises(RuntimeError, match="scripts/install-alipay-sdks"):
        run_sdk("alipay-sdk-python", "result = 1")


# --- cross-checks with the real SDKs --------------------------------------------------

SDK_PARAMS = {
    "app_id": "2021000000000001",
    "method": "alipay.trade.query",
    "charset": "utf-8",
    "sign_type": "RSA2",
    "timestamp": "2024-01-02 03:04:05",
    "version": "1.0",
    "biz_content": '{"out_trade_no":"a&b=c d+e%20","subject":"咖啡"}',
}


def test_ccare_signature_verifies_with_the_official_sdk(rsa_key: RSAPrivateKey) -> None:
    request_sign = sign(rsa_key, v1_content(SDK_PARAMS).encode())
    notify = {**SDK_PARAMS, "notify_id": "n-1"}
    notify_sign = sign(rsa_key, v1_content(notify, exclude=("sign", "sign_type")).encode())
    code = f"""
        from alipay.aop.api.util.SignatureUtils import get_sign_content, verify_with_rsa
        public_key = {export_public_key(rsa_key.public_key(), "base64")!r}
        params = {json.dumps(SDK_PARAMS)}
        notify = {json.dumps(notify)}
        for k in ("sign", "sign_type"):
            notify.pop(k, None)

        def check(content, signature):
            try:
                return verify_with_rsa(public_key, content.encode("utf-8"), signature)
            except Exception as e:
                return type(e).__name__

        result = {{
            "request": check(get_sign_content(params), {request_sign!r}),
            "notify": check(get_sign_content(notify), {notify_sign!r}),
            "tampered": check(get_sign_content({{**params, "version": "2.0"}}), {request_sign!r}),
        }}
    """
    assert run_sdk("alipay-sdk-python", code) == {
        "request": True,
        "notify": True,
        "tampered": "VerificationError",
    }


def test_ccare_signature_verifies_with_python_alipay_sdk(rsa_key: RSAPrivateKey) -> None:
    # fzlee's AliPay.verify drops sign_type itself: the v1 notification convention.
    notify = {**SDK_PARAMS, "notify_id": "n-1", "trade_status": "TRADE_SUCCESS"}
    signature = sign(rsa_key, v1_content(notify, exclude=("sign", "sign_type")).encode())
    code = f"""
        from alipay import AliPay
        alipay = AliPay(
            appid="2021000000000001",
            app_private_key_string={export_private_key(rsa_key, "pkcs8")!r},
            alipay_public_key_string={export_public_key(rsa_key.public_key())!r},
        )
        notify = {json.dumps(notify)}
        result = {{
            "genuine": alipay.verify(dict(notify), {signature!r}),
            "tampered": alipay.verify({{**notify, "trade_status": "TRADE_CLOSED"}}, {signature!r}),
        }}
    """
    assert run_sdk("python-alipay-sdk", code) == {"genuine": True, "tampered": False}


def test_official_sdk_signature_verifies_with_v1_verify(rsa_key: RSAPrivateKey) -> None:
    params = {**SDK_PARAMS, "empty": ""}
    code = f"""
        from alipay.aop.api.util.SignatureUtils import get_sign_content, sign_with_rsa2
        private_key = {_pem_body(export_private_key(rsa_key, "pkcs1"))!r}
        params = {json.dumps(params)}
        result = sign_with_rsa2(private_key, get_sign_content(params), "utf-8")
    """
    signature = run_sdk("alipay-sdk-python", code)
    public = rsa_key.public_key()
    # The official SDK signs empty values; only the second convention matches.
    assert verify(public, v1_content(params).encode(), signature) is False
    assert verify(public, v1_content(params, skip_empty=False).encode(), signature) is True
    assert v1_verify(public, {**params, "sign": signature}, signature) is True
    assert v1_verify(public, {**params, "empty": "x"}, signature) is False


def test_official_sdk_request_verifies_with_v1_verify(rsa_key: RSAPrivateKey) -> None:
    code = f"""
        from alipay.aop.api.AlipayClientConfig import AlipayClientConfig
        from alipay.aop.api.DefaultAlipayClient import DefaultAlipayClient
        from alipay.aop.api.domain.AlipayTradeQueryModel import AlipayTradeQueryModel
        from alipay.aop.api.request.AlipayTradeQueryRequest import AlipayTradeQueryRequest
        config = AlipayClientConfig()
        config.app_id = "2021000000000001"
        config.app_private_key = {export_private_key(rsa_key, "pkcs1")!r}
        config.alipay_public_key = {export_public_key(rsa_key.public_key(), "base64")!r}
        model = AlipayTradeQueryModel()
        model.out_trade_no = "咖啡 & co=1"
        request = AlipayTradeQueryRequest(biz_model=model)
        request.udf_params = {{"app_auth_token": "tok-1"}}
        result = DefaultAlipayClient(config).sdk_execute(request)
    """
    query = run_sdk("alipay-sdk-python", code)
    params = dict(parse_qsl(query, keep_blank_values=True))
    assert params["biz_content"] == '{"out_trade_no":"咖啡 & co=1"}'
    assert params["app_auth_token"] == "tok-1"
    assert params["sign_type"] == "RSA2"
    assert v1_verify(rsa_key.public_key(), params, params["sign"]) is True
    forged = {**params, "app_auth_token": "tok-2"}
    assert v1_verify(rsa_key.public_key(), forged, params["sign"]) is False


def test_python_alipay_sdk_signature_verifies_with_v1_verify(rsa_key: RSAPrivateKey) -> None:
    code = f"""
        from alipay import AliPay
        alipay = AliPay(
            appid="2021000000000001",
            app_private_key_string={export_private_key(rsa_key, "pkcs8")!r},
            alipay_public_key_string={export_public_key(rsa_key.public_key())!r},
        )
        data = alipay.build_body(
            "alipay.trade.query", {{"out_trade_no": "咖啡 & co=1", "n": 1}}, extra=""
        )
        result = alipay.sign_data(data)
    """
    query = run_sdk("python-alipay-sdk", code)
    params = dict(parse_qsl(query, keep_blank_values=True))
    assert params["biz_content"] == '{"out_trade_no":"\\u5496\\u5561 & co=1","n":1}'
    assert params["extra"] == ""
    assert v1_verify(rsa_key.public_key(), params, params["sign"]) is True
    assert v1_verify(rsa_key.public_key(), {**params, "method": "x"}, params["sign"]) is False
