"""A real ccare server (uvicorn, in a thread) over a temporary SQLite database, and Chromium.

Chromium is Debian's (`apt-get install chromium`); Playwright's own browser downloads are
not used. A missing browser fails the browser tests instead of skipping them.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ccare.config import Settings
from ccare.core.db import Base
from ccare.runtime import Runtime

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    hint = "install it with `apt-get install chromium` (CI installs it)"
    configured = os.environ.get("CCARE_CHROMIUM", "")
    if configured:
        if not Path(configured).exists():
            pytest.fail(f"CCARE_CHROMIUM={configured} does not exist: {hint}", pytrace=False)
        return configured
    for path in ("/usr/bin/chromium", "/usr/bin/chromium-browser"):
        if Path(path).exists():
            return path
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    pytest.fail(f"the browser tests need Debian's Chromium: {hint}", pytrace=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    runtime: Runtime


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    import uvicorn

    import ccare.products  # noqa: F401  (registers every table)
    from ccare.web.app import create_app

    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'e2e.sqlite3'}",
        data_dir=tmp_path,
        analytics_path=str(tmp_path / "analytics.duckdb"),
        broker_url="",
        _env_file=None,  # type: ignore[call-arg]
    )
    runtime = Runtime.from_settings(settings)
    Base.metadata.create_all(runtime.db.engine)
    # The sandbox world (/sandbox/...): a second SQLite file in the data dir, same schema.
    assert runtime.sandbox is not None
    Base.metadata.create_all(runtime.sandbox.engine)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(runtime, start_worker=True),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="on",
        )
    )
    thread = threading.Thread(target=server.run, name="ccare-e2e-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the ccare server did not start")
        time.sleep(0.05)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", runtime)
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()
