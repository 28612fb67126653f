"""Run a snippet against one of the two public Alipay SDKs, unmodified, in a subprocess.

Both SDKs ship a top-level `alipay` package, so neither can be imported into the test
process: each lives in its own directory under `.venv/sdk/` (scripts/install-alipay-sdks)
and a snippet runs in `sys.executable` with PYTHONPATH pointing there. The snippet assigns
a JSON-serialisable `result`; `run_sdk` returns it.

The official SDK (`alipay-sdk-python`) cannot reach a gateway on a non-default port:
`alipay.aop.api.util.WebUtils.get_http_connection` always connects to port 80/443 and then
fails with a TypeError concatenating the port into the URL. `OFFICIAL_SDK_PORT_FIX` is a
prelude a snippet can start with to replace that one transport function in the
subprocess (the signing and response parsing stay the SDK's own); production users are
not affected because real gateways listen on the default ports.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Literal

SDK = Literal["alipay-sdk-python", "python-alipay-sdk"]
SDK_ROOT = Path(__file__).parents[1] / ".venv" / "sdk"

# Output goes to a marker line so that whatever the SDK logs on stdout cannot be mistaken
# for the result.
_MARKER = "@@sdk-driver-result@@"

_RUNNER = """
import json as _json
import sys as _sys
_ns = {"__name__": "__sdk_snippet__"}
exec(compile(_sys.stdin.read(), "<sdk snippet>", "exec"), _ns)
if "result" not in _ns:
    raise SystemExit("the snippet did not assign `result`")
_sys.stdout.write("\\n%s" + _json.dumps(_ns["result"]) + "\\n")
"""

OFFICIAL_SDK_PORT_FIX = textwrap.dedent(
    """
    import http.client as _http_client
    import urllib.parse as _urllib_parse
    import alipay.aop.api.util.WebUtils as _web_utils

    def _get_http_connection(url, query_string, timeout):
        parts = _urllib_parse.urlparse(url)
        if parts.scheme == "https":
            connection = _http_client.HTTPSConnection(parts.hostname, parts.port, timeout=timeout)
        else:
            connection = _http_client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
        return f"{parts.scheme}://{parts.netloc}{parts.path}?{query_string}", connection

    _web_utils.get_http_connection = _get_http_connection
    """
)


class SdkError(RuntimeError):
    """The snippet failed inside the SDK subprocess."""


def sdk_dir(sdk: SDK) -> Path:
    path = SDK_ROOT / sdk
    if not (path / "alipay").is_dir():
        raise RuntimeError(
            f"The {sdk} SDK is not installed in {path}; run scripts/install-alipay-sdks "
            "(or `make install`)."
        )
    return path


def run_sdk(sdk: SDK, code: str, timeout: float = 60) -> Any:
    """Run `code` with `sdk` importable as `alipay` and return the `result` it assigns."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(sdk_dir(sdk))
    env["PYTHONIOENCODING"] = "utf-8"
    env.pop("PYTHONHOME", None)
    proc = subprocess.run(
        [sys.executable, "-c", _RUNNER % _MARKER],
        input=textwrap.dedent(code),
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise SdkError(
            f"{sdk} snippet failed (exit {proc.returncode}):\n{proc.stderr}\n{proc.stdout}"
        )
    _, found, payload = proc.stdout.rpartition(_MARKER)
    if not found:
        raise SdkError(f"{sdk} snippet printed no result:\n{proc.stdout}\n{proc.stderr}")
    return json.loads(payload)
