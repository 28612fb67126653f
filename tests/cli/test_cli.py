"""`ccare` on the command line: operator mistakes are one red line and exit status 2."""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ccare.cli import app
from ccare.config import get_settings
from ccare.migrations import head

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """A fresh SQLite database and data directory of the test's own."""
    values = {
        "CCARE_DATA_DIR": str(tmp_path / "var"),
        "CCARE_DATABASE_URL": f"sqlite:///{tmp_path / 'var' / 'cli.sqlite3'}",
        "CCARE_ANALYTICS_PATH": ":memory:",
        "CCARE_BROKER_URL": "",
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield values
    get_settings.cache_clear()


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def use_url(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("CCARE_DATABASE_URL", url)
    get_settings.cache_clear()


# -- database URLs ------------------------------------------------------------------------


def test_unknown_driver(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    use_url(monkeypatch, "nosuchdb://x")
    code, _, err = invoke("db", "upgrade")
    assert code == 2
    assert err == (
        "error: unsupported database URL 'nosuchdb://x': unknown driver 'nosuchdb' "
        "(use sqlite:///path/to/file.sqlite3 or postgresql://user:password@host:5432/dbname)\n"
    )


def test_unparseable_url(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    use_url(monkeypatch, "not a url")
    code, _, err = invoke("db", "upgrade")
    assert code == 2
    assert err == (
        "error: cannot parse database URL 'not a url' "
        "(use sqlite:///path/to/file.sqlite3 or postgresql://user:password@host:5432/dbname)\n"
    )


def test_unreachable_postgres(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    use_url(monkeypatch, "postgresql://nobody@127.0.0.1:1/x")
    code, _, err = invoke("db", "upgrade")
    assert code == 2
    assert err == (
        "error: cannot connect to database postgresql://nobody@127.0.0.1:1/x: "
        "connection refused (is the server running and accepting TCP/IP connections?)\n"
    )


def test_password_is_never_printed(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    use_url(monkeypatch, "postgresql://nobody:s3cret@127.0.0.1:1/x")
    code, out, err = invoke("serve")
    assert code == 2
    assert "s3cret" not in out + err
    assert err.startswith(
        "error: cannot connect to database postgresql://nobody:***@127.0.0.1:1/x: "
    )


def test_every_database_command_checks_the_url(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    use_url(monkeypatch, "nosuchdb://x")
    commands = [
        "serve",
        "worker",
        "seed",
        "demo --no-serve",
        "db current",
        "create consumer --name A --phone 13900000000 --city Hangzhou",
    ]
    for command in commands:
        code, _, err = invoke(*command.split())
        assert code == 2, command
        assert err.startswith("error: unsupported database URL 'nosuchdb://x'"), command
        assert err.count("\n") == 1


def test_unmigrated_database(env: dict[str, str]) -> None:
    code, _, err = invoke("serve", "--no-check-assets")
    assert code == 2
    assert err == "error: the database is not migrated (empty): run `ccare db upgrade`\n"


# -- db -----------------------------------------------------------------------------------


def test_db_upgrade_then_current(env: dict[str, str]) -> None:
    from ccare import migrations

    code, out, _ = invoke("db", "upgrade")
    assert code == 0
    assert out.rstrip().endswith(f"at revision {migrations.head()}")
    code, out, _ = invoke("db", "upgrade")
    assert code == 0
    assert "is up to date" in out
    code, out, _ = invoke("db", "current")
    assert code == 0
    assert f": {migrations.head()} (latest {migrations.head()})" in out


# -- create -------------------------------------------------------------------------------

MERCHANT = shlex.split(
    "create merchant --name 'Lane Breakfast' --industry catering --city Hangzhou"
    " --owner-email owner@lane.test --owner-password pass-word-1"
)


def test_create_merchant_twice_is_a_conflict(env: dict[str, str]) -> None:
    assert invoke("db", "upgrade")[0] == 0
    code, out, err = invoke(*MERCHANT)
    assert code == 0, err
    assert "created merchant" in out
    assert "owner signs in as owner@lane.test" in out

    code, out, err = invoke(*MERCHANT)
    assert code == 2
    assert err == "error: staff.email_taken: this email is taken\n"


def test_create_merchant_bad_industry(env: dict[str, str]) -> None:
    assert invoke("db", "upgrade")[0] == 0
    args = list(MERCHANT)
    args[args.index("catering")] = "casino"
    code, _, err = invoke(*args)
    assert code == 2
    assert err.startswith("error: invalid industry: ")
    assert err.count("\n") == 1


def test_create_consumer(env: dict[str, str]) -> None:
    assert invoke("db", "upgrade")[0] == 0
    args = shlex.split(
        "create consumer --name 'Xiao Wang' --phone 13900001111 --city Hangzhou --level gold"
    )
    code, out, err = invoke(*args)
    assert code == 0, err
    assert "created consumer" in out
    code, _, err = invoke(*args)
    assert code == 2
    assert err.startswith("error: consumer.")


def test_create_operator_twice(env: dict[str, str]) -> None:
    assert invoke("db", "upgrade")[0] == 0
    args = shlex.split("create operator --email ops@x.test --password op-pass-12")
    code, out, err = invoke(*args)
    assert code == 0, err
    code, _, err = invoke(*args)
    assert code == 2
    assert err == "error: operator.email_taken: an operator with this email exists\n"


# -- serve --------------------------------------------------------------------------------


def test_port_in_use(env: dict[str, str]) -> None:
    assert invoke("db", "upgrade")[0] == 0
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, _, err = invoke("serve", "--port", str(port), "--no-check-assets")
    assert code == 2
    assert err == (
        f"error: port {port} on 127.0.0.1 is already in use "
        "(stop the other server or pass --port)\n"
    )


def test_missing_assets(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert invoke("db", "upgrade")[0] == 0
    monkeypatch.setenv("CCARE_ASSETS_DIR", str(tmp_path / "no_node_modules"))
    get_settings.cache_clear()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code, _, err = invoke("serve", "--port", str(port))
    assert code == 2
    missing = tmp_path / "no_node_modules"
    assert err.startswith(
        f"error: front-end assets are missing ({missing} not found): run `npm ci`"
    )
    assert err.count("\n") == 1


# -- the installed entry point --------------------------------------------------------------


def test_entry_point_prints_one_line_without_traceback(tmp_path: Path) -> None:
    environ = {**os.environ, "CCARE_DATABASE_URL": "nosuchdb://x", "CCARE_DATA_DIR": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-c", "from ccare.cli import main; main()", "db", "upgrade"],
        capture_output=True,
        text=True,
        env=environ,
        cwd=tmp_path,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.startswith("error: unsupported database URL 'nosuchdb://x'")
    assert "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1


def test_analytics_store_locked_by_another_process(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert invoke("db", "upgrade")[0] == 0
    path = tmp_path / "analytics.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({str(path)!r});"
            " print('ready', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        monkeypatch.setenv("CCARE_ANALYTICS_PATH", str(path))
        get_settings.cache_clear()
        code, _, err = invoke("seed")
    finally:
        holder.kill()
        holder.wait()
    assert code == 2
    assert err == (
        f"error: the analytics store {path} is in use by another process (PID {holder.pid}): "
        "stop it (a running `ccare demo` or `ccare serve`?) or set CCARE_ANALYTICS_PATH\n"
    )


# -- demo, seed, worker ---------------------------------------------------------------------


def test_demo_without_serving_migrates_seeds_and_prints_the_way_in(env: dict[str, str]) -> None:
    from ccare.demo import data, world

    code, out, err = invoke("demo", "--no-serve", "--port", "8123")
    assert code == 0, err
    # The live database and the sandbox world's, each to the latest revision.
    assert out.count(f"applied {head()}") == 2
    for path in ("/app", "/console/login", "/api/docs"):
        assert f"http://127.0.0.1:8123{path}" in out
    for _console, _who, email, _password in world.credentials():
        assert email in out
    assert f"Every demo password is {data.PASSWORD}." in out

    code, out, err = invoke("seed")
    assert code == 0, err
    assert "this run added nothing; 0 events relayed" in out


def test_worker_once_runs_the_periodic_jobs(env: dict[str, str]) -> None:
    assert invoke("db", "upgrade")[0] == 0
    code, out, err = invoke("worker", "--once")
    assert code == 0, err
    assert "identity.purge_sessions: 0" in out
    assert "orders.close_overdue: 0" in out


def test_unreachable_broker(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    assert invoke("db", "upgrade")[0] == 0
    monkeypatch.setenv("CCARE_BROKER_URL", "redis://127.0.0.1:1/0")
    get_settings.cache_clear()
    for command in ("worker", "serve --no-check-assets"):
        code, _, err = invoke(*command.split())
        assert code == 2
        assert err.startswith("error: cannot connect to broker redis://127.0.0.1:1/0: ")
        assert err.count("\n") == 1
