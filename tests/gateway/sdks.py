"""Calling the gateway through the two public Alipay SDKs, unmodified, as merchants do.

`sdk_calls` runs a list of calls in one SDK subprocess (tests/sdk_driver.py) and returns,
per call, what the SDK handed back: the verified inner object of `<method>_response`, or
`{"exception": <class>, "response": <the error object from the raw body, if any>}`.

The subprocess's clock is set to Beijing time first: both SDKs stamp `timestamp` with the
client host's local time, and merchants' hosts run on it (docs/reference/alipay-sdks.md).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ccare.core.signing import PrivateKey, export_private_key
from tests.sdk_driver import OFFICIAL_SDK_PORT_FIX, SDK, run_sdk

SDKS: tuple[SDK, ...] = ("alipay-sdk-python", "python-alipay-sdk")

_BEIJING_CLOCK = """
import json, os, time
os.environ["TZ"] = "Asia/Shanghai"
time.tzset()
"""

_OFFICIAL = """
import importlib
from alipay.aop.api.AlipayClientConfig import AlipayClientConfig
from alipay.aop.api.DefaultAlipayClient import DefaultAlipayClient

config = AlipayClientConfig()
config.server_url = URL
config.app_id = APP_ID
config.app_private_key = PRIVATE_KEY
config.alipay_public_key = PLATFORM_KEY
client = DefaultAlipayClient(alipay_client_config=config)

def camel(method, suffix):
    return "".join(part.capitalize() for part in method.split(".")) + suffix

result = []
for method, biz, extra in CALLS:
    name = camel(method, "Request")
    request = getattr(importlib.import_module("alipay.aop.api.request." + name), name)()
    request.biz_content = biz
    if extra.get("notify_url"):
        request.notify_url = extra["notify_url"]
    if TOKEN:
        request.add_other_text_param("app_auth_token", TOKEN)
    try:
        text = client.execute(request)
    except Exception as exc:
        result.append({"exception": type(exc).__name__, "message": str(exc)[:300]})
        continue
    name = camel(method, "Response")
    response = getattr(importlib.import_module("alipay.aop.api.response." + name), name)()
    response.parse_response_content(text)
    result.append({**json.loads(text), "is_success": response.is_success()})
"""

_FZLEE = """
from alipay import AliPay, ISVAliPay
from alipay.exceptions import AliPayException, AliPayValidationError

keys = dict(app_private_key_string=PRIVATE_KEY, alipay_public_key_string=PLATFORM_KEY)
if TOKEN:
    alipay = ISVAliPay(APP_ID, app_auth_token=TOKEN, **keys)
else:
    alipay = AliPay(APP_ID, **keys)
alipay._gateway = URL

result = []
for method, biz, extra in CALLS:
    try:
        result.append(alipay.server_api(method, biz, **extra))
    except AliPayException as exc:
        raw = json.loads(exc._AliPayException__message)
        result.append({"exception": "AliPayException", "response": raw.get("error_response")})
    except AliPayValidationError:
        result.append({"exception": "AliPayValidationError"})
"""


@dataclass(frozen=True)
class SdkApp:
    """What a merchant configures in an SDK: the gateway, the app id and the two keys."""

    url: str
    app_id: str
    key: PrivateKey
    # The platform's public key in each SDK's own format (GET /api/v1/platform-key).
    platform_keys: dict[str, str] = field(default_factory=dict)


def sdk_calls(
    sdk: SDK,
    app: SdkApp,
    calls: list[tuple[str, dict[str, Any]] | tuple[str, dict[str, Any], dict[str, str]]],
    *,
    app_auth_token: str | None = None,
) -> list[dict[str, Any]]:
    normalised = [(c[0], c[1], c[2] if len(c) == 3 else {}) for c in calls]
    # Both SDKs take the app's private key as PKCS#1 PEM (the official one only that).
    settings = (
        f"URL = {app.url + '/gateway.do'!r}\n"
        f"APP_ID = {app.app_id!r}\n"
        f"PRIVATE_KEY = {export_private_key(app.key, 'pkcs1')!r}\n"
        f"PLATFORM_KEY = {app.platform_keys[sdk]!r}\n"
        f"TOKEN = {app_auth_token!r}\n"
        f"CALLS = json.loads({json.dumps(normalised)!r})\n"
    )
    if sdk == "alipay-sdk-python":
        code = _BEIJING_CLOCK + OFFICIAL_SDK_PORT_FIX + settings + _OFFICIAL
    else:
        code = _BEIJING_CLOCK + settings + _FZLEE
    result: list[dict[str, Any]] = run_sdk(sdk, code, timeout=120)
    return result
