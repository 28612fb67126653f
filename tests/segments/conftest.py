from tests.segments.events import store  # noqa: F401  (both analytics backends)
from tests.web.conftest import en  # noqa: F401  (a client with English pages)
