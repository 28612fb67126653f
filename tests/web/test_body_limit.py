"""Request bodies over the limit: refused with the usual error shape, declared or not."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi.testclient import TestClient

from ccare.web.app import MAX_BODY_BYTES


def test_bodies_over_the_limit_are_refused_declared_or_chunked(client: TestClient) -> None:
    big = b"x" * (MAX_BODY_BYTES + 1)

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(big), 65_536):
            yield big[start : start + 65_536]

    declared = client.post("/api/v1/auth/login", content=big)
    chunked = client.post(
        "/api/v1/auth/login", content=chunks(), headers={"content-type": "application/json"}
    )
    bogus = client.post("/api/v1/auth/login", content=b"{}", headers={"content-length": "x"})

    for refused in (declared, chunked):
        assert (refused.status_code, refused.json()) == (
            413,
            {
                "code": "payload_too_large",
                "message": f"body over {MAX_BODY_BYTES} bytes",
                "details": {},
            },
        )
    assert (bogus.status_code, bogus.json()["code"]) == (413, "payload_too_large")
