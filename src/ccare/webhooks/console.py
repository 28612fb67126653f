"""Webhooks have no pages of their own: the developer console shows them per app."""

from __future__ import annotations

from ccare.web.routing import api_router

router = api_router(tags=["console"])
