"""The promotion reports API (its routes are added to promotion/api.py's router)."""

from __future__ import annotations

from ccare.web.routing import api_router

router = api_router(prefix="/api/v1/ad-reports", tags=["promotion"])
