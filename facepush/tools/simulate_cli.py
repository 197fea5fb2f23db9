"""`facepush simulate`: a thin wrapper over the simulator (facepush.tools.simulate) and
the working day (facepush.tools.workday); see docs/commands.md for the Python API."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click

from facepush.client import TerminalClient
from facepush.tools.cli import SEED_HELP, chosen_seed, make_client, run, terminal_options
from facepush.tools.records import RecordFactory
from facepush.tools.simulate import simulate as run_simulation
from facepush.tools.simulate import simulate_records
from facepush.tools.workday import day_of, site_factory, workday


@click.command()
@click.argument("device_url")
@click.option(
    "--count",
    type=click.IntRange(min=1),
    default=None,
    help="Records to hand over, alarm reports included.  [default: 100]",
)
@click.option(
    "--rate",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Records per second (default: as fast as the terminal takes them).",
)
@click.option("--seed", type=int, default=None, help=SEED_HELP)
@click.option("--images/--no-images", default=True, show_default=True, help="JPEG snapshots.")
@click.option("--sn", default="PSC700C0MC22F02542", show_default=True, help="deviceSN in records.")
@click.option(
    "--day",
    metavar="YYYY-MM-DD",
    help="A whole working day instead of --count records: arrivals, lunch, departures, "
    "night shifts, forgotten badge-outs, repeats, with that day's times.",
)
@click.option(
    "--timezone",
    metavar="ZONE",
    help="IANA zone of --day's local times (default: this machine's).",
)
@click.option(
    "--people",
    type=click.IntRange(1, 100_000),
    default=40,
    show_default=True,
    help="Employees of the site (and a fifth as many visitors).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable report.")
@terminal_options
def simulate(
    device_url: str,
    count: int | None,
    rate: float | None,
    seed: int | None,
    images: bool,
    sn: str,
    day: str | None,
    timezone: str | None,
    people: int,
    as_json: bool,
    **opts: Any,
) -> None:
    """Feed realistic recognition and alarm records into a terminal's push service."""
    chosen = chosen_seed(seed)
    site: dict[str, Any] = {"seed": chosen, "device_sn": sn, "images": images}
    site.update(employees=people, visitors=max(1, people // 5))
    factory = RecordFactory(**site)
    records = _working_day(site, day, timezone, count, rate) if day else None
    total = len(records) if records is not None else count or 100
    show_bar = total >= 500 and not as_json and sys.stderr.isatty()

    async def hand(terminal: TerminalClient, progress: Callable[[int], None] | None) -> Any:
        if records is not None:
            return await simulate_records(terminal, records, progress, chosen)
        return await run_simulation(terminal, factory, total, rate, progress=progress)

    async def feed() -> Any:
        async with make_client(device_url, opts) as terminal:
            if not show_bar:
                return await hand(terminal, None)
            with click.progressbar(length=total, label="records", file=sys.stderr) as bar:
                return await hand(terminal, bar.update)

    report = run(feed())
    if as_json:
        click.echo(json.dumps(report.__dict__))
        return
    click.echo(
        f"handed {report.handed} records ({report.alarms} alarm reports) "
        f"in {report.seconds:.1f} s: "
        f"{report.accepted} accepted, {report.skipped} skipped (push disabled), "
        f"{report.evicted} evicted, {report.refused} refused"
    )
    if report.refused:
        click.echo(f"last refusal: {report.last_refusal}", err=True)
        raise SystemExit(1)


def _working_day(
    site: dict[str, Any], day: str, zone_name: str | None, count: int | None, rate: float | None
) -> list[dict[str, object]]:
    if count is not None or rate is not None:
        raise click.UsageError("--day makes a whole day: leave out --count and --rate")
    try:
        zone = ZoneInfo(zone_name) if zone_name else None
    except (ZoneInfoNotFoundError, ValueError):
        raise click.BadParameter(
            f"unknown time zone {zone_name!r}; give an IANA name such as Europe/Berlin",
            param_hint="--timezone",
        ) from None
    try:
        when = day_of(day)
    except ValueError as exc:
        raise click.BadParameter(str(exc).split(": ", 1)[1], param_hint="--day") from None
    return workday(site_factory(when, zone, **site), when, zone)
