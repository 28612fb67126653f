"""QR codes that bring a consumer from the counter to a coupon (channel offline_qr)."""

from __future__ import annotations

import io

import segno

CLAIM_PATH = "app/coupons/claim/{activity_id}?channel=offline_qr"


def claim_link(base_url: str, activity_id: int) -> str:
    """The app page a scan opens; `base_url` is the server's own, ending in "/"."""
    return base_url + CLAIM_PATH.format(activity_id=activity_id)


def claim_qr_svg(link: str) -> bytes:
    out = io.BytesIO()
    # Error correction M survives a crease or a coffee ring on a printed counter card.
    segno.make(link, error="m").save(out, kind="svg", scale=6, border=2)
    return out.getvalue()
