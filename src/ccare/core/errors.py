"""Domain errors carry a stable code; the web layer maps them to HTTP."""

from typing import Any


class DomainError(Exception):
    """Base for every error a caller can act on. `code` is stable API surface."""

    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details


class RecordedRefusal(DomainError):
    """A refusal that is itself a record (a risk decision): what the request wrote before
    raising it is committed, not rolled back. Raise it before anything else is written."""

    status_code = 403
    code = "refused"
    commits = True


class NotFound(DomainError):
    status_code = 404
    code = "not_found"


class Forbidden(DomainError):
    status_code = 403
    code = "forbidden"


class Unauthorized(DomainError):
    status_code = 401
    code = "unauthorized"


class Conflict(DomainError):
    status_code = 409
    code = "conflict"


class IllegalTransition(Conflict):
    code = "illegal_transition"


class InvalidInput(DomainError):
    status_code = 422
    code = "invalid_request"


class RateLimited(DomainError):
    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str, *, headers: dict[str, str], **details: Any) -> None:
        super().__init__(message, **details)
        self.headers = headers
