"""Creating apps the way a developer does: through the API, signed in to a console."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi.testclient import TestClient

from ccare.core.signing import PrivateKey, export_public_key


def new_app(
    client: TestClient,
    headers: dict[str, str],
    key: PrivateKey | None,
    *,
    scopes: Sequence[str] = ("catalog", "orders"),
    name: str = "Till integration",
    notify_url: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"name": name, "scopes": list(scopes)}
    if key is not None:
        body["public_key"] = export_public_key(key.public_key(), "spki")
    if notify_url is not None:
        body["notify_url"] = notify_url
    response = client.post("/api/v1/apps", json=body, headers=headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result
