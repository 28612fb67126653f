"""Schemathesis against the app's own OpenAPI: no input produces a 5xx, and every
error carries a stable code. Bounded by CCARE_FUZZ_EXAMPLES per operation."""

from __future__ import annotations

import os
import zlib

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from ccare.config import Settings
from ccare.core.db import Database
from ccare.runtime import Runtime
from ccare.web.app import create_app
from tests.factories import consumer_login, login, make_consumer, make_merchant, make_operator

EXAMPLES = int(os.environ.get("CCARE_FUZZ_EXAMPLES", "10"))

# The spec only: requests go through each test's own client and database.
_spec_app = create_app(Runtime(settings=Settings(_env_file=None), db=Database("sqlite://")))  # type: ignore[call-arg]
schema = schemathesis.openapi.from_dict(_spec_app.openapi())


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


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case, client, principals) -> None:  # type: ignore[no-untyped-def]
    # Rotate callers so operator-, staff- and consumer-only routes all get past auth.
    headers = principals[zlib.crc32(case.as_curl_command().encode()) % len(principals)]
    kwargs = case.as_transport_kwargs(base_url="http://testserver", headers=headers)
    if "data" in kwargs and isinstance(kwargs["data"], (bytes, str)):
        kwargs["content"] = kwargs.pop("data")
    kwargs.pop("verify", None)
    client.cookies.clear()
    client.cookies.update(kwargs.pop("cookies", None) or {})
    response = client.request(**kwargs)
    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text}"
    if response.status_code >= 400 and response.status_code != 405:
        body = response.json()
        assert isinstance(body.get("code"), str) and body["code"], response.text
        assert isinstance(body.get("message"), str), response.text
