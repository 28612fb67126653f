"""The demo's world in motion: once the server answers, the demo's own consumers visit
its shops on a compressed clock, so the consoles' charts move while one watches."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta, timezone

import httpx

from ccare.sim import runner, world
from ccare.sim.api import Api

BEIJING = timezone(timedelta(hours=8))  # the platform's local time (ccare.core.time)
DEMO_SPEED = 288.0  # a simulated day every five minutes
DAYS = 3_650  # until the demo stops
log = logging.getLogger(__name__)


def wait_until_up(http: httpx.Client, seconds: float = 60.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if http.get("/healthz").status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    return False


def play(
    url: str, operator_email: str, operator_password: str, *, speed: float = DEMO_SPEED
) -> None:
    """Run in a daemon thread beside the server; returns if the server never comes up."""
    with httpx.Client(base_url=url, timeout=30) as http:
        if not wait_until_up(http):
            log.warning("the live world did not start: %s never answered", url)
            return
        api = Api(http)
        found = world.discover(api, 1, operator_email, operator_password)
        log.info(
            "live world: %d consumers visiting %d shops, a day every %.0f s",
            len(found.people),
            len(found.shops),
            runner.DAY / speed,
        )
        # The simulated day starts at the local time of day now, so a demo opened at
        # noon shows its lunch rush, not the small hours.
        now = datetime.now(BEIJING)
        start = now.hour * 3_600 + now.minute * 60
        runner.run(api, found, days=DAYS, speed=speed, start=start)
