"""Words the message pages share: labels of this product's values, the funnel's steps and
the errors a page explains in people's words."""

from __future__ import annotations

from fastapi import Request

from ccare.web.i18n import N_
from ccare.web.templating import problem_text, translate

LABELS: dict[str, str] = {
    "marketing": N_("Marketing"),
    "service": N_("Service notice"),
    "active": N_("Active"),
    "archived": N_("Archived"),
    "draft": N_("Draft"),
    "sending": N_("Sending"),
    "done": N_("Done"),
    "failed": N_("Failed"),
    "pending": N_("Pending"),
    "scheduled": N_("Scheduled (quiet hours)"),
    "sent": N_("Sent"),
    "delivered": N_("Delivered"),
    "opened": N_("Opened"),
    "clicked": N_("Clicked"),
    "converted": N_("Converted"),
    "refused": N_("Refused"),
    "no_consent": N_("No consent"),
    "daily_cap": N_("Daily cap reached"),
    "weekly_cap": N_("Weekly cap reached"),
    "once": N_("Once"),
    "long_term": N_("Long-term"),
}

FUNNEL_STEPS = (
    ("sent", N_("Sent")),
    ("delivered", N_("Delivered")),
    ("opened", N_("Opened")),
    ("clicked", N_("Clicked")),
    ("converted", N_("Converted")),
)

ERRORS: dict[str, str] = {
    "message.template_syntax": N_(
        "A placeholder must look like {name}: lower-case letters, digits and _ in braces."
    ),
    "message.variables_missing": N_("Give a value for every placeholder of the template."),
    "message.variables_unknown": N_("Only the template's placeholders can be given values."),
    "message.link_invalid": N_(
        "The link must be a mini-program page path such as pages/index/index."
    ),
    "message.template_name_taken": N_("A template of this name exists."),
    "message.request_conflict": N_("This form was already submitted with different values."),
    "message.template_archived": N_("The template is archived."),
}


def problem(request: Request, exc: Exception) -> str:
    from ccare.core.errors import DomainError

    if isinstance(exc, DomainError) and exc.code in ERRORS:
        return translate(request, ERRORS[exc.code])
    return problem_text(request, exc)
