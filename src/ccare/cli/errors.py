"""Operator mistakes become one red line and exit status 2; only bugs show tracebacks."""

from __future__ import annotations

import logging
import re
from typing import Any

import typer
from rich.console import Console

from ccare.core.errors import DomainError

log = logging.getLogger("ccare")

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

EXIT_OPERATOR_ERROR = 2
URL_HELP = "use sqlite:///path/to/file.sqlite3 or postgresql://user:password@host:5432/dbname"


class OperatorError(Exception):
    """A mistake the person running ccare can fix; shown as one line, never a traceback."""


# --------------------------------------------------------------------------- errors


def operator_message(exc: BaseException) -> str | None:
    """The one-line explanation of an operator mistake, or None for a bug."""
    from pydantic import ValidationError
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError

    if isinstance(exc, OperatorError):
        return str(exc)
    if isinstance(exc, DomainError):
        return f"{exc.code}: {exc.message}"
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first.get("loc", ())) or "input"
        return f"invalid {field}: {first.get('msg', 'invalid value')}"
    if isinstance(exc, OperationalError):
        return f"database error: {driver_reason(exc)}"
    if isinstance(exc, ArgumentError | NoSuchModuleError):
        return f"bad database URL: {exc}"
    if type(exc).__module__.lstrip("_").startswith("duckdb") and "lock" in str(exc).lower():
        path = re.search(r'file\s+"([^"]+)"', str(exc))
        pid = re.search(r"\(PID (\d+)\)", str(exc))
        return (
            f"the analytics store {path.group(1) if path else ''} is in use by another process"
            f"{f' (PID {pid.group(1)})' if pid else ''}: stop it (a running `ccare demo` or "
            "`ccare serve`?) or set CCARE_ANALYTICS_PATH"
        ).replace("store  is", "store is")
    if isinstance(exc, PermissionError | FileNotFoundError | IsADirectoryError):
        return f"{exc.strerror}: {exc.filename}"
    return None


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), text)


def driver_reason(exc: BaseException) -> str:
    msg = str(getattr(exc, "orig", None) or exc)
    low = msg.lower()
    if "connection refused" in low:
        return "connection refused (is the server running and accepting TCP/IP connections?)"
    if "password authentication failed" in low:
        user = re.search(r'for user "([^"]*)"', msg)
        return "password authentication failed" + (f" for user {user.group(1)!r}" if user else "")
    if "failed to resolve host" in low or "could not translate host name" in low:
        return "unknown host name"
    if "timeout expired" in low or "timed out" in low:
        return "connection timed out"
    fatal = re.search(r"FATAL:\s+(.+)", msg)
    if fatal:
        return fatal.group(1).strip()
    return _first_line(msg.removeprefix("connection failed: "))


def fail(message: str) -> typer.Exit:
    err.print(f"error: {message}", style="bold red", markup=False, soft_wrap=True)
    return typer.Exit(EXIT_OPERATOR_ERROR)


class CcareGroup(typer.core.TyperGroup):
    """Turns operator mistakes raised anywhere below into one red line and exit 2."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort):
            raise
        except Exception as exc:
            message = operator_message(exc)
            if message is None:
                raise
            raise fail(message) from None
