"""Schemathesis against the app's own OpenAPI: no input produces a 5xx, and every
error carries a stable code. Bounded by CCARE_FUZZ_EXAMPLES per operation."""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from tests.factories import consumer_login, login, make_consumer, make_merchant, make_operator

EXAMPLES = int(os.environ.get("CCARE_FUZZ_EXAMPLES", "10"))


@pytest.fixture
def api_schema(client):  # type: ignore[no-untyped-def]
    return schemathesis.openapi.from_asgi("/api/openapi.json", client.app)


@pytest.fixture
def principals(client, db):  # type: ignore[no-untyped-def]
    op = make_operator(db)
    merchant = make_merchant(db)
    consumer = make_consumer(db)
    return [
        login(client, op.email, op.password),
        login(client, merchant.owner_email, merchant.password),
        consumer_login(client, consumer),
    ]


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case, principals) -> None:  # type: ignore[no-untyped-def]
    # Rotate callers so operator-, staff- and consumer-only routes all get past auth.
    headers = principals[hash(case.as_curl_command()) % len(principals)]
    response = case.call(headers=headers)
    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text}"
    if response.status_code >= 400 and response.status_code != 405:
        body = response.json()
        assert isinstance(body.get("code"), str) and body["code"], response.text
        assert isinstance(body.get("message"), str), response.text
