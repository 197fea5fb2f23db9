"""`facepush receiver ...`: the integrator's server."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

import click

from facepush.errors import FacepushError
from facepush.receiver.chaos import Chaos, ChaosSpec
from facepush.receiver.config import (
    DEFAULT_DATA,
    DEFAULT_LATE_AFTER_S,
    DEFAULT_LISTEN,
    DEFAULT_MAX_BODY,
    DEFAULT_PATH,
    ReceiverConfig,
    check_bind,
    default_db_url,
)
from facepush.sitepolicy import allowed_hosts_for
from facepush.web import parse_listen, serve_until_stopped


@click.group()
def receiver() -> None:
    """The integrator's side: ingest, storage, query API and dashboard."""


@receiver.command()
@click.option("--listen", default=DEFAULT_LISTEN, show_default=True, help="HOST:PORT to bind.")
@click.option(
    "--data",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_DATA,
    show_default=True,
    help="Directory of the default SQLite database.",
)
@click.option("--db", "db_url", help="sqlite:///PATH or postgresql://... (default: under --data).")
@click.option("--path", "push_path", default=DEFAULT_PATH, show_default=True, help="Push path.")
@click.option(
    "--token",
    envvar="FACEPUSH_TOKEN",
    show_envvar=True,
    help="Protects everything but the push path and /healthz; at least 16 characters. "
    "Prefer the environment variable: the command line shows in `ps`.",
)
@click.option(
    "--signing-secret",
    envvar="FACEPUSH_SIGNING_SECRET",
    show_envvar=True,
    help="whsec_...: verify Standard Webhooks signatures. Prefer the environment variable: "
    "the command line shows in `ps`.",
)
@click.option(
    "--late-after",
    type=click.FloatRange(min=0),
    default=DEFAULT_LATE_AFTER_S,
    show_default=True,
    help="Seconds after which an arriving record is marked late.",
)
@click.option(
    "--keep-images",
    type=click.FloatRange(min=0, min_open=True),
    help="Days to keep snapshots; older ones are purged, records stay.",
)
@click.option(
    "--max-body",
    type=click.IntRange(min=1024),
    default=DEFAULT_MAX_BODY,
    show_default=True,
    help="Largest push body in bytes; larger ones get 413 and are quarantined.",
)
@click.option(
    "--allow-remote-unauthenticated",
    is_flag=True,
    help="Allow a non-loopback --listen without --token.",
)
@click.option(
    "--allowed-host",
    "allowed_hosts",
    multiple=True,
    metavar="NAME",
    help="Also answer requests for this Host name (repeatable). Bound to loopback, only "
    "loopback names and IP addresses are answered otherwise (DNS-rebinding defence); bound "
    "beyond loopback, any name unless this is given.",
)
@click.option(
    "--chaos",
    "chaos_spec",
    default=None,
    help="Fault injection on the push path, e.g. reset=0.05,http500=0.05,seed=7 "
    "(faults: late hang reset http500 garbage code drop-after-store; see docs/reliability.md).",
)
def serve(
    listen: str,
    data: Path,
    db_url: str | None,
    push_path: str,
    token: str | None,
    signing_secret: str | None,
    late_after: float,
    keep_images: float | None,
    max_body: int,
    allow_remote_unauthenticated: bool,
    allowed_hosts: tuple[str, ...],
    chaos_spec: str | None,
) -> None:
    """Run the receiver: accept pushes, store them durably, serve the query API.

    Secrets may come from the environment instead of the command line (which every user
    of the machine can read with `ps`): FACEPUSH_TOKEN, FACEPUSH_SIGNING_SECRET.
    """
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        host, port = parse_listen(listen)
        check_bind(host, token, allow_remote_unauthenticated)
        config = ReceiverConfig(
            db_url=db_url or default_db_url(data),
            push_path=push_path,
            token=token,
            signing_secret=signing_secret,
            late_after_s=late_after,
            keep_images_days=keep_images,
            max_body=max_body,
            allowed_hosts=allowed_hosts_for(host, allowed_hosts),
        )
        chaos = Chaos(ChaosSpec.parse(chaos_spec)) if chaos_spec else None
        asyncio.run(_serve(config, host, port, chaos))
    except FacepushError as exc:
        click.echo(f"facepush receiver: {exc}", err=True)
        sys.exit(1)


async def _serve(config: ReceiverConfig, host: str, port: int, chaos: Chaos | None) -> None:
    from facepush.receiver.app import create_app
    from facepush.receiver.backends import open_store

    # Opening the store migrates it: an unreachable database fails before binding.
    store = await asyncio.get_running_loop().run_in_executor(None, open_store, config.db_url)
    try:
        middlewares = [chaos.middleware(config.push_path)] if chaos else []
        app = create_app(config, store, middlewares)
        await serve_until_stopped(app, host, port)
    finally:
        store.close()
