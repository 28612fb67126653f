"""Words the campaign pages share: labels of this product's values and the choices of
the form."""

from __future__ import annotations

from ccare.web.i18n import N_

LABELS: dict[str, str] = {
    "draft": N_("Draft"),
    "scheduled": N_("Scheduled"),
    "running": N_("Running"),
    "done": N_("Done"),
    "cancelled": N_("Cancelled"),
    "treatment": N_("Treatment"),
    "holdout": N_("Holdout"),
}

TARGETS = (
    ("once", N_("Once: the segment's members when it starts")),
    ("entered_segment", N_("Continuously: the segment's members, and everyone who enters it")),
    ("favorited_no_order", N_("Trigger: favorited at least N days ago, no order since")),
)
