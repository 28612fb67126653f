"""Checks run before long work starts, and the progress bars shown during it."""

from __future__ import annotations

import errno
import json
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ccare.cli.errors import URL_HELP, OperatorError, driver_reason, out
from ccare.config import REPO_ROOT, Settings

# --------------------------------------------------------------------------- checks


def masked(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url


def check_database_url(url: str) -> None:
    """Parse the URL and open one connection; raise OperatorError with the reason."""
    from sqlalchemy import create_engine, pool, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    if not url.strip():
        raise OperatorError(f"the database URL is empty ({URL_HELP})")
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise OperatorError(f"cannot parse database URL {url!r} ({URL_HELP})") from None
    backend = parsed.get_backend_name()
    shown = masked(url)
    if backend not in ("sqlite", "postgresql"):
        raise OperatorError(
            f"unsupported database URL {shown!r}: unknown driver {parsed.drivername!r} ({URL_HELP})"
        )
    if backend == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            folder = Path(parsed.database).expanduser().resolve().parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise OperatorError(
                    f"cannot create {folder} for {shown!r}: {exc.strerror}"
                ) from None
        engine = create_engine(parsed, poolclass=pool.NullPool)
    else:
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        try:
            engine = create_engine(
                parsed, poolclass=pool.NullPool, connect_args={"connect_timeout": 5}
            )
        except Exception as exc:  # a driver that is not installed
            raise OperatorError(f"unsupported database URL {shown!r}: {exc}") from None
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        raise OperatorError(f"cannot connect to database {shown}: {driver_reason(exc)}") from None
    finally:
        engine.dispose()


def check_migrated(url: str) -> None:
    from ccare import migrations

    at, head = migrations.current(url), migrations.head()
    if at != head:
        state = "empty" if at is None else f"at revision {at}, latest is {head}"
        raise OperatorError(f"the database is not migrated ({state}): run `ccare db upgrade`")


def check_port(host: str, port: int) -> None:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise OperatorError(f"cannot listen on {host!r}: unknown host name") from None
    family, _, _, _, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise OperatorError(
                    f"port {port} on {host} is already in use"
                    " (stop the other server or pass --port)"
                ) from None
            raise OperatorError(f"cannot listen on {host}:{port}: {exc.strerror}") from None


def check_assets(settings: Settings) -> None:
    assets = Path(settings.assets_dir)
    manifest = REPO_ROOT / "package.json"
    hint = f"run `npm ci` in {REPO_ROOT}" if manifest.exists() else "set CCARE_ASSETS_DIR"
    if not assets.is_dir():
        raise OperatorError(f"front-end assets are missing ({assets} not found): {hint}")
    if manifest.exists():
        wanted = json.loads(manifest.read_text()).get("dependencies", {})
        missing = sorted(name for name in wanted if not (assets / name).is_dir())
        if missing:
            raise OperatorError(
                f"front-end assets are missing ({', '.join(missing)} not in {assets}): {hint}"
            )


# --------------------------------------------------------------------------- progress


@contextmanager
def progress_bar(description: str, total: int | None) -> Iterator[Callable[[str], None]]:
    """A rich progress bar; yields `advance(label)`."""
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[label]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=out, transient=False) as progress:
        task = progress.add_task(description, total=total, label="")

        def advance(label: str) -> None:
            progress.update(task, advance=1, label=label)

        yield advance
        if total is None:
            progress.update(task, total=progress.tasks[0].completed)


def run_migrations(url: str) -> int:
    from ccare import migrations

    script = migrations.script_directory()
    at = migrations.current(url)
    pending = list(script.iterate_revisions("head", at)) if at != script.get_current_head() else []
    if not pending:
        out.print(f"database {masked(url)} is up to date (revision {at})")
        return 0
    with progress_bar("migrating", len(pending)) as advance:
        migrations.upgrade(url, progress=advance)
    return len(pending)
