"""The promotion reports API (included by promotion/api.py under /api/v1)."""

from __future__ import annotations

from ccare.web.routing import api_router

router = api_router(prefix="/ad-reports", tags=["promotion"])
