"""`ccare simulate`: a seeded world acting on a running ccare through its HTTP API."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from ccare.cli.errors import OperatorError, out


def percentile(sample: list[float], q: float) -> float:
    if not sample:
        return 0.0
    ordered = sorted(sample)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def simulate(
    url: Annotated[str, typer.Option(help="the running platform")] = "http://127.0.0.1:8000",
    operator_email: Annotated[str, typer.Option(help="an operator account")] = (
        "operator@ccare.demo"
    ),
    operator_password: Annotated[str, typer.Option()] = "ccare-demo",
    seed: Annotated[int, typer.Option(help="the same seed replays the same world")] = 1,
    merchants: Annotated[int, typer.Option(min=1, max=200)] = 6,
    consumers: Annotated[int, typer.Option(min=5, max=100_000)] = 60,
    days: Annotated[int, typer.Option(min=1, max=365)] = 1,
    speed: Annotated[
        float, typer.Option(help="simulated seconds per second; 0: as fast as possible")
    ] = 0.0,
) -> None:
    """Build a world of merchants, consumers and a scalper ring through the API, then
    play its days (a day at --speed 144 takes ten minutes)."""
    import logging

    import httpx

    from ccare.sim import cast, runner, world

    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per call drowns the table
    from ccare.sim.api import Api, CallFailed

    with httpx.Client(base_url=url, timeout=30) as http:
        api = Api(http)
        try:
            built = world.build(
                api,
                cast.draw(seed, merchants=merchants, consumers=consumers),
                operator_email,
                operator_password,
            )
        except CallFailed as refused:
            raise OperatorError(f"could not build the world at {url}: {refused}") from refused
        report = runner.run(api, built, days=days, speed=speed or None)
    table = Table("call", "count", "errors", "p50 ms", "p99 ms")
    for name in sorted(api.stats.latencies):
        sample = api.stats.latencies[name]
        errors = sum(
            n
            for (call, status), n in api.stats.calls.items()
            if call == name and (status >= 500 or status == 0)
        )
        table.add_row(
            name,
            str(api.stats.seen[name]),
            str(errors),
            f"{percentile(sample, 0.5):.1f}",
            f"{percentile(sample, 0.99):.1f}",
        )
    out.print(table)
    out.print(
        f"{report.events} simulated events over {days} day(s) in {report.wall_seconds:.1f} s; "
        f"{api.stats.total()} calls, {api.stats.errors()} errors"
    )
