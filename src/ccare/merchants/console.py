"""Console pages of this product (filled in by the web shell)."""

from ccare.web.routing import api_router

router = api_router(tags=["console"])
