from tests.web.conftest import en  # noqa: F401  (a client with English pages)
