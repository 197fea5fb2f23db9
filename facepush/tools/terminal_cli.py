"""`facepush history | info | time | ping | watch`: thin wrappers over TerminalClient (see
docs/commands.md for the Python equivalents)."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import dataclasses
import json
from collections.abc import Callable
from typing import Any

import click
import msgspec

from facepush.client import TerminalClient
from facepush.errors import AuthenticationError, ClientError, StreamClosed
from facepush.protocol.times import now_ms
from facepush.tools.cli import make_client, run, terminal_options
from facepush.tools.when import record_line, to_local, unix_seconds

CSV_COLUMNS = [
    "timestamp",
    "time",
    "uuid",
    "deviceSN",
    "recognitionType",
    "pass",
    "user_id",
    "name",
    "job_number",
    "ic_number",
    "id_number",
    "user_type",
    "groups",
    "entry_mode",
    "abnormal_type",
    "mode",
    "mask",
    "bodyTemperature",
    "recognizeScore",
    "has_image",
]
RECONNECT_CAP_S = 30.0


def _when(end_of_day: bool) -> Callable[[click.Context, click.Parameter, str | None], int | None]:
    def convert(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
        if value is None:
            return None
        try:
            return unix_seconds(value, end_of_day=end_of_day)
        except ValueError as exc:
            raise click.BadParameter(str(exc), ctx, param) from None

    return convert


@click.command()
@click.argument("device_url")
@click.option("--since", callback=_when(False), help="From: ISO date/time or Unix seconds.")
@click.option("--until", callback=_when(True), help="Until this time (a date: its end).")
@click.option("--user-id", help="Only this user's records.")
@click.option("--job-number", help="Only this job number's (when no --user-id).")
@click.option("--ic-number", help="Only this card's (when neither of the above).")
@click.option("--newest-first", is_flag=True, help="Newest first (default: oldest first).")
@click.option(
    "--json", "as_json", is_flag=True, help="One JSON item per line, as the terminal lists it."
)
@click.option("--csv", "as_csv", is_flag=True, help="CSV with a header row (snapshots left out).")
@terminal_options
def history(
    device_url: str,
    since: int | None,
    until: int | None,
    user_id: str | None,
    job_number: str | None,
    ic_number: str | None,
    newest_first: bool,
    as_json: bool,
    as_csv: bool,
    **opts: Any,
) -> None:
    """List a terminal's history of recognitions (every page; filters as the terminal has them)."""
    if as_json and as_csv:
        raise click.UsageError("give --json or --csv, not both")
    if since is not None and until is not None and until < since:
        raise click.BadParameter("is before --since", param_hint="--until")
    writer = csv.writer(_Echo(), lineterminator="\n") if as_csv else None
    if writer is not None:
        writer.writerow(CSV_COLUMNS)

    async def listing() -> int:
        count = 0
        async with make_client(device_url, opts) as terminal:
            async for item in terminal.history(
                since=since,
                until=until,
                user_id=user_id,
                job_number=job_number,
                ic_number=ic_number,
                descending=newest_first,
            ):
                count += 1
                if writer is not None:
                    writer.writerow(_csv_row(item))
                elif as_json:
                    click.echo(json.dumps(item, ensure_ascii=False))
                else:
                    click.echo(record_line(item))
        return count

    count = run(listing())
    click.echo(f"{count} record{'s' if count != 1 else ''}", err=True)


class _Echo:
    def write(self, text: str) -> None:
        click.echo(text, nl=False)


def _csv_row(item: dict[str, Any]) -> list[Any]:
    user = item.get("user") or {}
    groups = item.get("groups") or user.get("groups") or []
    ts = item.get("timestamp")
    return [
        ts,
        to_local(ts) if isinstance(ts, int) else "",
        item.get("uuid"),
        item.get("deviceSN"),
        item.get("recognitionType"),
        item.get("pass"),
        user.get("user_id"),
        user.get("name"),
        user.get("job_number"),
        user.get("ic_number"),
        user.get("id_number"),
        user.get("type"),
        ";".join(str(g.get("name", "")) for g in groups if isinstance(g, dict)),
        item.get("entry_mode"),
        item.get("abnormal_type"),
        item.get("mode"),
        item.get("mask"),
        item.get("bodyTemperature"),
        item.get("recognizeScore"),
        bool(str(item.get("rgb_image") or "").strip()),
    ]


@click.command()
@click.argument("device_url")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@terminal_options
def info(device_url: str, as_json: bool, **opts: Any) -> None:
    """Show a terminal's model, serial number, addresses and versions."""

    async def read() -> dict[str, Any]:
        async with make_client(device_url, opts) as terminal:
            return dict(msgspec.to_builtins(await terminal.info()))

    data = run(read())
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False))
        return
    for name, value in data.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k} {v}" for k, v in value.items())
        click.echo(f"{name}: {value}")


@click.command(name="time")
@click.argument("device_url")
@click.option(
    "--set", "set_to", help="Set the clock by hand: ISO date/time, Unix seconds or 'now'."
)
@click.option("--ntp", is_flag=True, help="Let the terminal follow its NTP server again.")
@click.option("--time-zone", type=click.IntRange(-11, 12), help="Set the time zone (hours).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@terminal_options
def time_command(
    device_url: str,
    set_to: str | None,
    ntp: bool,
    time_zone: int | None,
    as_json: bool,
    **opts: Any,
) -> None:
    """Show a terminal's clock and how far it is off this machine's (or set it)."""
    if set_to and ntp:
        raise click.UsageError("give --set or --ntp, not both")
    local_ms: int | None = None
    if set_to:
        try:
            local_ms = None if set_to == "now" else unix_seconds(set_to) * 1000
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--set") from None

    async def read() -> Any:
        async with make_client(device_url, opts) as terminal:
            if set_to or ntp or time_zone is not None:
                return await terminal.set_time(
                    local_time=now_ms() if set_to == "now" else local_ms,
                    manual_mode=True if set_to else (False if ntp else None),
                    time_zone=time_zone,
                )
            return await terminal.time()

    clock = run(read())
    if as_json:
        click.echo(json.dumps(dataclasses.asdict(clock)))
        return
    mode = "set by hand" if clock.manual_mode else f"NTP {clock.server_address}"
    click.echo(
        f"{device_url}: {to_local(clock.local_time / 1000, ms=True)} ({mode}, time zone "
        f"{clock.time_zone:+d}): {clock.in_words} ({clock.offset_ms:+d} ms, "
        f"measured to ±{clock.rtt_ms / 2:.1f} ms)"
    )


@click.command()
@click.argument("device_url")
@terminal_options
def ping(device_url: str, **opts: Any) -> None:
    """Check that a terminal is up (`/v2/datasync/ping`); exits 1 when it is not."""

    async def check() -> float:
        async with make_client(device_url, opts) as terminal:
            return await terminal.ping()

    click.echo(f"{device_url}: up ({run(check()) * 1000:.1f} ms)")


@click.command()
@click.argument("device_url")
@click.option("--json", "as_json", is_flag=True, help="Each record as one JSON line.")
@click.option("--count", type=click.IntRange(min=1), help="Exit after this many events.")
@click.option(
    "--reconnect/--no-reconnect",
    default=True,
    show_default=True,
    help="When the terminal goes away: connect again (backing off), or exit 1.",
)
@terminal_options
def watch(device_url: str, as_json: bool, count: int | None, reconnect: bool, **opts: Any) -> None:
    """Print one line per recognition as it happens (the terminal's live stream)."""

    def show(message: dict[str, Any]) -> None:
        found = message.get("data")
        data: dict[str, Any] = found if isinstance(found, dict) else {}
        line = json.dumps(data, ensure_ascii=False) if as_json else record_line(data)
        click.echo(line)

    async def follow() -> None:
        async with make_client(device_url, opts) as terminal:
            await _follow(terminal, show, count, reconnect)

    try:
        run(follow())
    except KeyboardInterrupt:
        click.echo("stopped", err=True)


async def _follow(
    terminal: TerminalClient,
    show: Callable[[dict[str, Any]], None],
    count: int | None,
    reconnect: bool,
) -> None:
    """Show events until `count`; after a lost stream connect again, backing off (1 s
    doubling to 30 s), or with `reconnect` False raise. A first connection that fails,
    and a refused login, always raise."""
    seen, connected_once, delay = 0, False, 1.0

    def opened() -> None:
        nonlocal connected_once, delay
        connected_once, delay = True, 1.0
        click.echo(f"watching {terminal.base_url} (one line per recognition)", err=True)

    while True:
        try:
            async with contextlib.aclosing(terminal.events(on_open=opened)) as events:
                async for message in events:
                    show(message)
                    seen += 1
                    if count is not None and seen >= count:
                        return
        except AuthenticationError:
            raise
        except StreamClosed as exc:
            if not reconnect:
                raise
            click.echo(f"{exc}; reconnecting in {delay:g} s", err=True)
        except ClientError as exc:
            if not (reconnect and connected_once):
                raise
            click.echo(f"{exc}; trying again in {delay:g} s", err=True)
        await asyncio.sleep(delay)
        delay = min(delay * 2, RECONNECT_CAP_S)


COMMANDS = [history, info, time_command, ping, watch]
