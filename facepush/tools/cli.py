"""`facepush subscribe | subscription | fleet | demo`: thin wrappers over TerminalClient,
the fleet and the demo, and the options every terminal command shares (see
docs/commands.md for the Python equivalents)."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import click

from facepush.client import TerminalClient
from facepush.device.settings import MAX_WINDOW, TIMEOUT_S
from facepush.errors import FacepushError
from facepush.protocol import Subscription
from facepush.redact import redact
from facepush.tools.records import fresh_seed

T = TypeVar("T")
PARALLEL_TERMINALS = 16
SEED_HELP = "Same seed, same records (default: a fresh random seed, printed on stderr)."


def terminal_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The options every command that talks to a terminal shares (one spelling each)."""
    options = [
        click.option("--username", help="The terminal's account (logs in for a JWT)."),
        click.option(
            "--password",
            default="",
            envvar="FACEPUSH_PASSWORD",
            show_envvar=True,
            help="The account's password. Prefer the environment variable: the command line "
            "shows in `ps`.",
        ),
        click.option("--basic", is_flag=True, help="Use HTTP Basic instead of a JWT login."),
        click.option("--ca", type=click.Path(exists=True, dir_okay=False), help="Trust this CA."),
        click.option("--insecure", is_flag=True, help="Do not verify the terminal's certificate."),
        click.option("--timeout", type=float, default=10.0, show_default=True, help="Seconds."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def make_client(url: str, opts: dict[str, Any]) -> TerminalClient:
    return TerminalClient(
        url,
        username=opts.get("username"),
        password=opts.get("password"),
        auth="basic" if opts.get("basic") else "jwt",
        ca=opts.get("ca"),
        insecure=bool(opts.get("insecure")),
        timeout=float(opts.get("timeout") or 10.0),
    )


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine; a FacepushError becomes its message on stderr and exit code 1."""
    try:
        return asyncio.run(coro)
    except FacepushError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(1) from None


def chosen_seed(seed: int | None) -> int:
    """The seed given, or a fresh one, said on stderr so that the run can be repeated."""
    if seed is not None:
        return seed
    seed = fresh_seed()
    click.echo(f"seed {seed} (repeat this run with --seed {seed})", err=True)
    return seed


def _config(sub: Subscription | None) -> dict[str, Any] | None:
    return None if sub is None else {"event_dest": sub.event_dest, "enabled": sub.enabled}


@click.command()
@click.argument("device_urls", nargs=-1)
@click.option(
    "--dest", required=True, help="Where the terminal pushes, e.g. http://host:8080/Record."
)
@click.option("--disable", is_flag=True, help="Store the destination but turn push off.")
@click.option(
    "--file",
    "url_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A file with one terminal URL per line (# comments allowed).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@terminal_options
def subscribe(
    device_urls: tuple[str, ...],
    dest: str,
    disable: bool,
    url_file: Path | None,
    as_json: bool,
    **opts: Any,
) -> None:
    """Set the push configuration of one or more terminals (DEVICE_URL like http://host:8000)."""
    urls = list(device_urls) + (_read_urls(url_file) if url_file else [])
    if not urls:
        raise click.UsageError("give at least one DEVICE_URL (or --file FILE)")
    results = asyncio.run(_subscribe_all(urls, dest, not disable, opts))
    failed = [r for r in results if not r["ok"]]
    if as_json:
        click.echo(json.dumps(results, ensure_ascii=False, indent=2))
    for result in results:
        if result["ok"] and not as_json:
            state = "enabled" if result["config"]["enabled"] else "disabled"
            shown = redact(result["config"]["event_dest"])
            click.echo(f"{result['terminal']}: push {state} to {shown}")
        elif not result["ok"]:
            click.echo(f"{result['terminal']}: {result['error']}", err=True)
    if failed:
        raise SystemExit(1)


async def _subscribe_all(
    urls: list[str], dest: str, enabled: bool, opts: dict[str, Any]
) -> list[dict[str, Any]]:
    limit = asyncio.Semaphore(PARALLEL_TERMINALS)

    async def one(url: str) -> dict[str, Any]:
        async with limit, make_client(url, opts) as terminal:
            try:
                config = await terminal.subscribe(dest, enabled)
            except FacepushError as exc:
                return {"terminal": url, "ok": False, "error": str(exc)}
            return {"terminal": url, "ok": True, "config": _config(config)}

    return list(await asyncio.gather(*(one(url) for url in urls)))


def _read_urls(path: Path) -> list[str]:
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


@click.command()
@click.argument("device_url")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@terminal_options
def subscription(device_url: str, as_json: bool, **opts: Any) -> None:
    """Show a terminal's push configuration."""

    async def read() -> Subscription | None:
        async with make_client(device_url, opts) as terminal:
            return await terminal.subscription()

    config = run(read())
    if as_json:
        click.echo(json.dumps(_config(config)))
    elif config is None:
        click.echo(f"{device_url}: push was never configured")
    else:
        state = "enabled" if config.enabled else "disabled"
        click.echo(f"{device_url}: push {state}, event_dest {redact(config.event_dest)}")


@click.command()
@click.option(
    "--listen",
    default="127.0.0.1:8080",
    show_default=True,
    help="HOST:PORT of the receiver (port 0 picks a free one).",
)
@click.option("--terminals", type=click.IntRange(1, 50), default=2, show_default=True)
@click.option(
    "--rate",
    type=click.FloatRange(min=0, min_open=True),
    default=2.0,
    show_default=True,
    help="Records per second per terminal.",
)
@click.option(
    "--data",
    "data_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("var/demo"),
    show_default=True,
    help="Where the demo keeps its state.",
)
@click.option("--images/--no-images", default=True, show_default=True)
@click.option("--seed", type=int, default=None, help=SEED_HELP)
@click.option(
    "--duration",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Stop after this many seconds (default: run until Ctrl-C).",
)
@click.option(
    "--forward",
    type=click.Choice(["auto", "webhook", "mqtt", "none"]),
    default="auto",
    show_default=True,
    help="Where the receiver forwards every record: MQTT on 127.0.0.1:1883, the demo's own "
    "webhook consumer (no broker needed), auto (MQTT when a broker answers), or none.",
)
def demo(
    listen: str,
    terminals: int,
    rate: float,
    data_dir: Path,
    images: bool,
    seed: int | None,
    duration: float | None,
    forward: str,
) -> None:
    """The whole system on one machine: a receiver, emulated terminals, live traffic, and
    forwarding of every record (MQTT, or a built-in webhook consumer)."""
    from facepush.tools.demo import DemoOptions, run_demo

    options = DemoOptions(
        listen=listen,
        terminals=terminals,
        rate=rate,
        data_dir=data_dir,
        images=images,
        seed=chosen_seed(seed),
        duration=duration,
        forward=forward,
    )
    run(run_demo(options, say=lambda text: click.echo(text)))
    click.echo("facepush demo stopped")


@click.command()
@click.argument("push_url")
@click.option(
    "--devices",
    type=click.IntRange(1, 5000),
    default=10,
    show_default=True,
    help="Terminals to emulate.",
)
@click.option(
    "--backlog",
    type=click.IntRange(min=0),
    default=100,
    show_default=True,
    help="Records each terminal holds when the fleet comes online.",
)
@click.option(
    "--rate",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Live records per second per terminal, during --duration.",
)
@click.option(
    "--duration",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Seconds of live traffic.",
)
@click.option(
    "--window",
    type=click.IntRange(1, MAX_WINDOW),
    default=None,
    help="Records in flight per terminal (adaptive when not given).",
)
@click.option("--images/--no-images", default=False, show_default=True)
@click.option("--seed", type=int, default=None, help=SEED_HELP)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
    default=TIMEOUT_S,
    show_default=True,
    help="Seconds to wait for the reply to one push.",
)
@click.option(
    "--deadline",
    type=click.FloatRange(min=1),
    default=600.0,
    show_default=True,
    help="Give up when not everything is acknowledged after this many seconds.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable report.")
def fleet(
    push_url: str,
    devices: int,
    backlog: int,
    rate: float,
    duration: float,
    window: int | None,
    images: bool,
    seed: int | None,
    timeout: float,
    deadline: float,
    as_json: bool,
) -> None:
    """Emulate many terminals pushing to a receiver's PUSH_URL (e.g. http://host:8080/Record)."""
    from facepush.protocol.subscription import validate_dest
    from facepush.tools.fleet import Fleet, FleetOptions, run_fleet

    try:
        validate_dest(push_url)
    except FacepushError as exc:
        raise click.BadParameter(str(exc), param_hint="PUSH_URL") from None
    options = FleetOptions(
        push_url=push_url,
        devices=devices,
        backlog=backlog,
        rate=rate,
        duration=duration,
        window=window,
        images=images,
        seed=chosen_seed(seed),
        timeout=timeout,
        deadline=deadline,
    )
    tty = sys.stderr.isatty()

    def progress(state: Fleet) -> None:
        line = (
            f"acknowledged {state.acknowledged():,}/{state.report.records:,}  "
            f"queued {state.queued():,}  requests {state.report.sent:,}"
        )
        click.echo(("\r" + line) if tty else line, err=True, nl=not tty)

    report = run(run_fleet(options, None if as_json else progress))
    if tty and not as_json:
        click.echo("", err=True)
    summary = report.summary()
    if as_json:
        click.echo(json.dumps(summary))
    else:
        lat = summary["latency_ms"]
        click.echo(
            f"{report.devices} terminals, {report.records:,} records: "
            f"{report.acknowledged:,} acknowledged, {report.sent:,} requests sent, "
            f"{report.retried:,} retried, {report.set_aside} set aside, "
            f"in {report.seconds:.1f} s ({report.throughput:,.0f} records/s); "
            f"latency p50 {lat['p50']} ms, p90 {lat['p90']} ms, p99 {lat['p99']} ms, "
            f"max {lat['max']} ms"
        )
    if not report.complete:
        click.echo(f"error: not every record was acknowledged within {deadline:g} s", err=True)
        raise SystemExit(1)


COMMANDS = [subscribe, subscription, fleet, demo]  # simulate: facepush.tools.simulate_cli
