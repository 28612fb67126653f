"""Per-app rate limits on signed calls: headers on every answer, 429 with Retry-After."""

from __future__ import annotations

import httpx
import pytest
import redis
from fastapi.testclient import TestClient

from ccare.client import ApiError, CcareClient
from ccare.core.db import Database
from ccare.core.ratelimit import RedisRateLimiter
from ccare.core.signing import SignAlgorithm, authorization_header, generate_private_key
from ccare.runtime import Runtime
from tests.factories import login, make_merchant
from tests.openplatform.helpers import new_app

KEY = generate_private_key(SignAlgorithm.ED25519)


def _app(client: TestClient, db: Database) -> CcareClient:
    merchant = make_merchant(db)
    app = new_app(client, login(client, merchant.owner_email, merchant.password), KEY)
    return CcareClient(app_id=app["app_id"], private_key=KEY, http=client)


def _limited_calls(client: TestClient, api: CcareClient) -> None:
    for remaining in (2, 1, 0):
        response = _raw_whoami(client, api)
        assert response.status_code == 200
        assert response.headers["x-ratelimit-limit"] == "3"
        assert response.headers["x-ratelimit-remaining"] == str(remaining)
    refused = _raw_whoami(client, api)
    assert (refused.status_code, refused.json()["code"]) == (429, "rate_limited")
    assert refused.headers["x-ratelimit-remaining"] == "0"
    assert refused.headers["retry-after"] == "20"


def _raw_whoami(client: TestClient, api: CcareClient) -> httpx.Response:
    path = "/api/v1/openplatform/whoami"
    header = authorization_header(api.app_id, KEY, "GET", path, b"")
    return client.get(path, headers={"Authorization": header})


def test_the_fourth_call_in_a_minute_is_refused_with_retry_after(
    client: TestClient, db: Database, runtime: Runtime
) -> None:
    runtime.settings.app_rate_limit_per_minute = 3
    api = _app(client, db)

    _limited_calls(client, api)

    with pytest.raises(ApiError) as refused:
        api.whoami()
    assert refused.value.code == "rate_limited"


def test_apps_have_separate_budgets(client: TestClient, db: Database, runtime: Runtime) -> None:
    runtime.settings.app_rate_limit_per_minute = 1
    first, second = _app(client, db), _app(client, db)

    assert first.whoami()["app_id"] == first.app_id
    assert second.whoami()["app_id"] == second.app_id
    with pytest.raises(ApiError) as refused:
        first.whoami()
    assert refused.value.status == 429


@pytest.mark.redis
def test_the_redis_limiter_is_shared_by_every_process(
    client: TestClient, db: Database, runtime: Runtime, redis_url: str
) -> None:
    connection = redis.Redis.from_url(redis_url)
    runtime.settings.app_rate_limit_per_minute = 3
    runtime.rate_limiter = RedisRateLimiter(connection)
    api = _app(client, db)  # app ids are random: no collision with other runs
    try:
        _limited_calls(client, api)
    finally:
        connection.delete(f"ccare:rl:app:{api.app_id}")
        connection.close()
