"""Python client for ccare's native API: signs every call, verifies every signed response.

    from ccare.client import CcareClient
    client = CcareClient("https://ccare.example.com", app_id="2...", private_key=pem,
                         platform_public_key=platform_pem)
    order = client.get("/api/v1/orders/42")
    isv_for_shop = client.acting_for(app_auth_token)   # an ISV app acting for a merchant

`http` may be any `httpx.Client` (FastAPI's TestClient is one), which is how the tests
and the simulator drive an in-process app.
"""

from __future__ import annotations

import json as jsonlib
import uuid
from dataclasses import dataclass, field, replace
from typing import Any

import httpx

from ccare.core.signing import (
    PrivateKey,
    PublicKey,
    authorization_header,
    load_private_key,
    load_public_key,
    response_content,
    verify,
)

__all__ = ["ApiError", "CcareClient", "ResponseSignatureError"]


class ApiError(Exception):
    """The platform refused the call: `code` is stable, `message` is for people."""

    def __init__(self, status: int, code: str, message: str, details: dict[str, Any]) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details


class ResponseSignatureError(Exception):
    """A response did not carry a valid platform signature: do not trust its body."""


@dataclass
class CcareClient:
    base_url: str = "http://127.0.0.1:8000"
    app_id: str = ""
    private_key: PrivateKey | str = ""
    platform_public_key: PublicKey | str | None = None
    app_auth_token: str | None = None
    # "/sandbox" to call the sandbox world through the same server.
    path_prefix: str = ""
    http: httpx.Client | None = field(default=None, repr=False)
    timeout: float = 10.0

    def __post_init__(self) -> None:
        if isinstance(self.private_key, str):
            self.private_key = load_private_key(self.private_key)
        if isinstance(self.platform_public_key, str):
            self.platform_public_key = load_public_key(self.platform_public_key)
        if self.http is None:
            self.http = httpx.Client(base_url=self.base_url, timeout=self.timeout)

    def acting_for(self, app_auth_token: str | None) -> CcareClient:
        """The same app, sending a merchant's app auth token (ISV apps)."""
        return replace(self, app_auth_token=app_auth_token)

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
        money: bool = False,
    ) -> Any:
        """Send a signed call; returns the decoded JSON or raises ApiError.

        `money=True` adds a fresh Idempotency-Key when none is given.
        """
        assert self.http is not None and not isinstance(self.private_key, str)
        body = b"" if json is None else jsonlib.dumps(json, ensure_ascii=False).encode()
        headers = {"content-type": "application/json"} if json is not None else {}
        if idempotency_key or money:
            headers["Idempotency-Key"] = idempotency_key or uuid.uuid4().hex
        if self.app_auth_token is not None:
            headers["ccare-app-auth-token"] = self.app_auth_token
        request = self.http.build_request(
            method, self.path_prefix + path, params=params, content=body or None, headers=headers
        )
        target = request.url.raw_path.decode("ascii")
        request.headers["Authorization"] = authorization_header(
            self.app_id, self.private_key, method, target, body, self.app_auth_token
        )
        response = self.http.send(request)
        self._check_signature(response)
        data = response.json() if response.content else None
        if response.status_code >= 400:
            data = data if isinstance(data, dict) else {}
            raise ApiError(
                response.status_code,
                str(data.get("code", "http_error")),
                str(data.get("message", response.reason_phrase)),
                dict(data.get("details") or {}),
            )
        return data

    def _check_signature(self, response: httpx.Response) -> None:
        """Answers to verified calls are signed; a call refused before verification
        (bad signature, unknown app) cannot be, and only ever carries an error."""
        if self.platform_public_key is None or isinstance(self.platform_public_key, str):
            return
        if response.status_code >= 400 and "ccare-signature" not in response.headers:
            return
        timestamp = response.headers.get("ccare-timestamp")
        nonce = response.headers.get("ccare-nonce")
        signature = response.headers.get("ccare-signature")
        if not (timestamp and nonce and signature):
            raise ResponseSignatureError(f"unsigned response ({response.status_code})")
        content = response_content(timestamp, nonce, response.content)
        if not verify(self.platform_public_key, content, signature):
            raise ResponseSignatureError("the response signature does not verify")

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params or None)

    def post(self, path: str, json: Any = None, **kwargs: Any) -> Any:
        return self.request("POST", path, json=json, **kwargs)

    def patch(self, path: str, json: Any = None) -> Any:
        return self.request("PATCH", path, json=json)

    def whoami(self) -> dict[str, Any]:
        result: dict[str, Any] = self.get("/api/v1/openplatform/whoami")
        return result

    def close(self) -> None:
        if self.http is not None:
            self.http.close()
