"""Developer console (O) pages."""

from __future__ import annotations

from ccare.web.routing import api_router

router = api_router(tags=["console"])
