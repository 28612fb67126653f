"""The merchant's promotion report pages (included by promotion/console.py)."""

from __future__ import annotations

from ccare.web.routing import api_router

router = api_router(tags=["console"])
