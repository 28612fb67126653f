"""The commands of `ccare`: serve, demo, worker, db, create, seed, simulate."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.table import Table

from ccare.cli.checks import (
    check_assets,
    check_database_url,
    check_migrated,
    check_port,
    masked,
    progress_bar,
    run_migrations,
)
from ccare.cli.errors import (
    CcareGroup,
    OperatorError,
    log,
    out,
)
from ccare.cli.simulate import simulate
from ccare.config import Settings, get_settings

app = typer.Typer(
    cls=CcareGroup,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    help="ccare: an open platform for merchants. Start with `ccare demo`.",
)
db_app = typer.Typer(cls=CcareGroup, no_args_is_help=True, help="Database migrations.")
create_app = typer.Typer(cls=CcareGroup, no_args_is_help=True, help="Create records.")
app.add_typer(db_app, name="db")
app.add_typer(create_app, name="create")
app.command("simulate")(simulate)


def main() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    app()


# --------------------------------------------------------------------------- db


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="target revision")] = "head",
) -> None:
    """Bring the database (CCARE_DATABASE_URL) to the latest schema."""
    from ccare import migrations

    settings = get_settings()
    url = settings.effective_database_url
    check_database_url(url)
    if revision == "head":
        run_migrations(url)
        # The sandbox world (docs/adr/0008) always follows the live schema.
        check_database_url(settings.effective_sandbox_database_url)
        run_migrations(settings.effective_sandbox_database_url)
    else:
        migrations.upgrade(url, revision)
    out.print(f"database {masked(url)} at revision {migrations.current(url)}")


@db_app.command("downgrade")
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="target revision; `base` drops everything")],
) -> None:
    """Revert the database to an earlier revision."""
    from ccare import migrations

    url = get_settings().effective_database_url
    check_database_url(url)
    migrations.downgrade(url, revision)
    out.print(f"database {masked(url)} at revision {migrations.current(url)}")


@db_app.command("current")
def db_current() -> None:
    """Show the database's revision and the latest one."""
    from ccare import migrations

    url = get_settings().effective_database_url
    check_database_url(url)
    out.print(f"database {masked(url)}: {migrations.current(url)} (latest {migrations.head()})")


@db_app.command("revision")
def db_revision(
    message: Annotated[str, typer.Option("-m", "--message", help="what the revision does")],
    autogenerate: Annotated[bool, typer.Option(help="compare the models with the schema")] = True,
    database_url: Annotated[
        str | None,
        typer.Option(help="compare against this database instead of a scratch SQLite one"),
    ] = None,
    squash: Annotated[
        bool, typer.Option(help="replace every existing revision with one initial revision")
    ] = False,
) -> None:
    """Write a new migration from the models (`ccare db revision -m "add coupons"`)."""
    from ccare import migrations

    if database_url:
        check_database_url(database_url)
    try:
        path = (
            migrations.squash(message)
            if squash
            else migrations.revision(database_url, message, autogenerate=autogenerate)
        )
    except migrations.NoChanges as empty:
        out.print(f"[yellow]{empty}[/yellow]: delete it unless you will write the steps yourself")
        return
    out.print(f"wrote {path}")


# --------------------------------------------------------------------------- serve


def _serve(settings: Settings, host: str, port: int, worker: bool, runtime: Any = None) -> None:
    import uvicorn

    from ccare.runtime import Runtime
    from ccare.web.app import create_app as create_web_app

    runtime = runtime or Runtime.from_settings(settings)
    web = create_web_app(runtime, start_worker=worker)
    freeze_startup_objects()
    # The app trusts X-Forwarded-For only from settings.forwarded_allow_ips; uvicorn's own
    # default would trust it from any local peer as well.
    uvicorn.run(web, host=host, port=port, log_level="info", access_log=False, proxy_headers=False)


def freeze_startup_objects() -> None:
    """Move everything built at start-up out of the cyclic garbage collector's reach.

    The app, its models and libraries are about 160,000 long-lived objects; a full
    collection walks them all (about 50 ms) and, under load, stops every request about
    once a second. Frozen, collections only walk what requests allocate.
    """
    import gc

    gc.collect()
    gc.freeze()


HostOpt = Annotated[str, typer.Option(help="interface to listen on")]
PortOpt = Annotated[int, typer.Option(help="TCP port", min=1, max=65535)]


@app.command()
def serve(
    host: HostOpt = "127.0.0.1",
    port: PortOpt = 8000,
    worker: Annotated[
        bool, typer.Option(help="relay events in this process (off when `ccare worker` runs)")
    ] = True,
    check_assets_: Annotated[
        bool, typer.Option("--check-assets/--no-check-assets", help="require node_modules")
    ] = True,
) -> None:
    """Run the web server (API, consoles, consumer app)."""
    settings = get_settings()
    for url in (settings.effective_database_url, settings.effective_sandbox_database_url):
        check_database_url(url)
        check_migrated(url)
    if settings.broker_url:
        _check_redis(settings.broker_url)
    check_port(host, port)
    if check_assets_:
        check_assets(settings)
    _serve(settings, host, port, worker)


# --------------------------------------------------------------------------- worker


def periodic_jobs() -> list[tuple[str, float, Callable[[Any], Any]]]:
    """(name, every seconds, fn(Database)) for the jobs that exist in this build."""
    import importlib

    import ccare.products
    from ccare.identity.tasks import purge_sessions

    jobs: list[tuple[str, float, Callable[[Any], Any]]] = [
        ("identity.purge_sessions", 3600.0, purge_sessions)
    ]
    for name in ccare.products.PRODUCTS:
        tasks = importlib.import_module(f"ccare.{name}.tasks")
        for every, fn in getattr(tasks, "PERIODIC", ()):
            jobs.append((f"{name}.{fn.__name__}", float(every), fn))
    orders_tasks = importlib.import_module("ccare.orders.tasks")
    close = getattr(orders_tasks, "close_overdue", None) or getattr(
        orders_tasks, "close_overdue_orders", None
    )
    if close is not None and not any(fn is close for _, _, fn in jobs):
        jobs.append((f"orders.{close.__name__}", 60.0, close))
    return jobs


@app.command()
def worker(
    once: Annotated[
        bool,
        typer.Option(help="run each periodic job once and exit (for cron; relays nothing)"),
    ] = False,
) -> None:
    """Relay and consume events, and run periodic jobs (production: with CCARE_BROKER_URL)."""
    from ccare.runtime import Runtime

    settings = get_settings()
    check_database_url(settings.effective_database_url)
    check_migrated(settings.effective_database_url)
    jobs = periodic_jobs()
    if once:
        # The jobs' events are relayed by whichever worker runs; no analytics store here.
        runtime = Runtime.from_settings(settings, analytics=False)
        try:
            for name, _every, fn in jobs:
                out.print(f"{name}: {fn(runtime.db)}")
        finally:
            runtime.close()
        return
    if settings.broker_url:
        _check_redis(settings.broker_url)
    else:
        out.print(
            "no CCARE_BROKER_URL: relaying in-process; run this instead of the server's own"
            " worker (`ccare serve --no-worker`), not beside it",
            soft_wrap=True,
        )
    runtime = Runtime.from_settings(settings)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    runtime.start_worker(consume=True)
    mode = f"broker {masked(settings.broker_url)}" if settings.broker_url else "in-process"
    out.print(f"worker running ({mode}); jobs: {', '.join(n for n, _, _ in jobs)}; Ctrl+C stops")
    due = {name: time.monotonic() for name, _, _ in jobs}
    try:
        while not stop.is_set():
            now = time.monotonic()
            for name, every, fn in jobs:
                if now >= due[name]:
                    due[name] = now + every
                    try:
                        result = fn(runtime.db)
                        log.info("job %s: %s", name, result)
                    except Exception:
                        log.exception("job %s failed", name)
            stop.wait(1.0)
    finally:
        runtime.close()
        out.print("worker stopped")


def _check_redis(url: str) -> None:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=5).ping()
    except ValueError as exc:
        raise OperatorError(f"bad broker URL {masked(url)!r}: {exc}") from None
    except redis.RedisError as exc:
        raise OperatorError(f"cannot connect to broker {masked(url)}: {exc}") from None


# --------------------------------------------------------------------------- create


def cli_actor() -> Any:
    from ccare.core.tenancy import PLATFORM, Principal, PrincipalKind

    return Principal(kind=PrincipalKind.OPERATOR, id=0, name="ccare cli", tenant=PLATFORM)


def _ready_runtime() -> Any:
    from ccare.runtime import Runtime

    settings = get_settings()
    check_database_url(settings.effective_database_url)
    check_migrated(settings.effective_database_url)
    return Runtime.from_settings(settings, analytics=False)


@create_app.command("merchant")
def create_merchant(
    name: Annotated[str, typer.Option(help="merchant (brand or shop) name")],
    industry: Annotated[str, typer.Option(help="industry, e.g. catering, retail")],
    city: Annotated[str, typer.Option(help="head-office city")],
    owner_email: Annotated[str, typer.Option(help="the owner's console sign-in")],
    owner_password: Annotated[str, typer.Option(help="the owner's password")],
    owner_name: Annotated[str | None, typer.Option(help="defaults to '<name> owner'")] = None,
    slug: Annotated[str | None, typer.Option(help="URL name; derived from the name")] = None,
) -> None:
    """Create a merchant with its owner account."""
    from ccare.merchants.schemas import MerchantCreate
    from ccare.merchants.service import create_merchant as create

    data = MerchantCreate.model_validate(
        {
            "name": name,
            "slug": slug,
            "industry": industry,
            "city": city,
            "owner_name": owner_name or f"{name} owner",
            "owner_email": owner_email,
            "owner_password": owner_password,
        }
    )
    runtime = _ready_runtime()
    try:
        with runtime.db.transaction() as session:
            merchant = create(session, cli_actor(), data)
            merchant_id = merchant.id
    finally:
        runtime.close()
    out.print(f"created merchant {merchant_id} {name!r}; owner signs in as {owner_email}")


@create_app.command("consumer")
def create_consumer(
    name: Annotated[str, typer.Option(help="display name")],
    phone: Annotated[str, typer.Option(help="mobile number")],
    city: Annotated[str, typer.Option(help="home city")],
    level: Annotated[
        str, typer.Option(help="member level: public, gold, platinum or diamond")
    ] = "public",
) -> None:
    """Create a consumer (a super-app user)."""
    from ccare.consumers.schemas import ConsumerCreate
    from ccare.consumers.service import create_consumer as create

    data = ConsumerCreate.model_validate(
        {"name": name, "phone": phone, "city": city, "member_level": level}
    )
    runtime = _ready_runtime()
    try:
        with runtime.db.transaction() as session:
            consumer_id = create(session, cli_actor(), data).id
    finally:
        runtime.close()
    out.print(f"created consumer {consumer_id} {name!r}")


@create_app.command("operator")
def create_operator(
    email: Annotated[str, typer.Option(help="sign-in email")],
    password: Annotated[str, typer.Option(help="at least 8 characters")],
    name: Annotated[str, typer.Option(help="display name")] = "Operator",
) -> None:
    """Create a platform operator account."""
    from ccare.identity.schemas import OperatorCreate
    from ccare.identity.service import create_operator as create

    data = OperatorCreate(email=email, name=name, password=password)
    runtime = _ready_runtime()
    try:
        with runtime.db.transaction() as session:
            operator_id = create(session, data).id
    finally:
        runtime.close()
    out.print(f"created operator {operator_id} {email}")


# --------------------------------------------------------------------------- demo


def seed_demo(runtime: Any) -> Any:
    from ccare.demo import world

    with progress_bar("seeding demo world", world.step_count()) as advance:
        return world.seed(runtime, progress=advance)


@app.command()
def seed() -> None:
    """Seed the demo world into the configured database (idempotent)."""
    from ccare.runtime import Runtime

    settings = get_settings()
    check_database_url(settings.effective_database_url)
    check_migrated(settings.effective_database_url)
    runtime = Runtime.from_settings(settings)
    try:
        summary = seed_demo(runtime)
    finally:
        runtime.close()
    print_summary(summary, settings.base_url)


def print_summary(summary: Any, base_url: str) -> None:
    from ccare.demo import data, world

    base = base_url.rstrip("/")
    out.print("[bold]ccare demo[/bold]")
    for label, url in (
        ("Consumer app", f"{base}/app"),
        ("Merchant console", f"{base}/console/login"),
        ("ISV console", f"{base}/console/login"),
        ("Operator console", f"{base}/console/login"),
        ("Developer console", f"{base}/console/developer"),
        ("Sandbox", f"{base}/sandbox/console/developer"),
        ("API docs", f"{base}/api/docs"),
        ("Alipay gateway", f"{base}/gateway.do"),
    ):
        out.print(f"  {label:<18}{url}", soft_wrap=True, markup=False)
    logins = Table("console", "who", "email", title="Demo sign-ins", title_justify="left")
    for console, who, email, _password in world.credentials():
        logins.add_row(console, who, email)
    logins.columns[2].no_wrap = True
    out.print(logins)
    out.print(f"Every demo password is {data.PASSWORD}. Consumers: open the consumer app.")
    if summary is not None:
        out.print(world.describe(summary), markup=False, soft_wrap=True)
        if summary.app_key_path:
            out.print(
                f"The ISV's plugin app {summary.app_id}: private key (Ed25519) in"
                f" {summary.app_key_path}, app auth tokens beside it.",
                markup=False,
                soft_wrap=True,
            )


@app.command()
def demo(
    host: HostOpt = "127.0.0.1",
    port: PortOpt = 8000,
    serve_: Annotated[
        bool, typer.Option("--serve/--no-serve", help="start the server after seeding")
    ] = True,
    live: Annotated[
        bool,
        typer.Option(
            "--live/--still", help="the demo's consumers keep visiting and buying while it runs"
        ),
    ] = True,
) -> None:
    """Migrate, seed the demo world and start the server with its worker."""
    from ccare.runtime import Runtime

    settings = get_settings()
    if "base_url" not in settings.model_fields_set:
        settings = settings.model_copy(update={"base_url": f"http://{_display_host(host)}:{port}"})
    url = settings.effective_database_url
    check_database_url(url)
    if settings.broker_url:
        _check_redis(settings.broker_url)
    if serve_:
        check_port(host, port)
        check_assets(settings)
    run_migrations(url)
    check_database_url(settings.effective_sandbox_database_url)
    run_migrations(settings.effective_sandbox_database_url)
    runtime = Runtime.from_settings(settings)
    try:
        summary = seed_demo(runtime)
    except BaseException:
        runtime.close()
        raise
    print_summary(summary, settings.base_url)
    if not serve_:
        runtime.close()
        return
    out.print("starting the server; Ctrl+C stops it")
    if live:
        _live_world(f"http://{_display_host(host)}:{port}")
    _serve(settings, host, port, worker=True, runtime=runtime)


def _live_world(url: str) -> None:
    from ccare.demo import data
    from ccare.sim import live

    threading.Thread(
        target=live.play,
        args=(url, data.OPERATOR_EMAIL, data.PASSWORD),
        name="ccare-live-world",
        daemon=True,
    ).start()
    out.print(f"the demo world is live: a simulated day every {86_400 / live.DEMO_SPEED:.0f} s")


def _display_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


if __name__ == "__main__":
    main()
