import pytest

from ccare.core.analytics import AnalyticsStore
from tests.web.conftest import en  # noqa: F401  (a client with English pages)


@pytest.fixture
def store(analytics_store: AnalyticsStore) -> AnalyticsStore:
    return analytics_store
