"""`facepush device ...`: the terminal's push service."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

import click
from click.core import ParameterSource

from facepush.errors import FacepushError

LISTEN_DEFAULT = "127.0.0.1:8000"  # the vendor's port, on loopback unless asked otherwise


@click.group()
def device() -> None:
    """The terminal side: the push configuration API, the outbox and delivery."""


@device.command()
@click.option("--listen", default=LISTEN_DEFAULT, show_default=True, help="HOST:PORT of the API.")
@click.option(
    "--data",
    "data_dir",
    default="./var/device",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Durable state: configuration, outbox, history, clock.",
)
@click.option("--sn", default=None, help="Terminal serial number (fills a missing deviceSN).")
@click.option(
    "--cache-limit",
    default=50_000,
    show_default=True,
    type=click.IntRange(min=1),
    help="Records cached at most.",
)
@click.option(
    "--when-full",
    type=click.Choice(["drop-oldest", "refuse-newest"]),
    default="drop-oldest",
    show_default=True,
    help="With the cache full: evict the oldest recognition, or refuse the new record.",
)
@click.option(
    "--window",
    type=click.IntRange(1, 1024),
    default=None,
    help="Records in flight at once (adaptive when not given; 1 = strict order).",
)
@click.option("--username", default=None, help="The terminal's admin account.")
@click.option(
    "--password",
    default=None,
    envvar="FACEPUSH_PASSWORD",
    show_envvar=True,
    help="Its password. Prefer the environment variable: the command line shows in `ps`. "
    "From the environment it is used only together with --username.",
)
@click.option(
    "--tls-cert",
    type=click.Path(dir_okay=False, exists=True),
    default=None,
    help="Serve the API over HTTPS with this certificate (PEM, chain included).",
)
@click.option(
    "--tls-key", type=click.Path(dir_okay=False, exists=True), default=None, help="Its key."
)
@click.option(
    "--ca",
    type=click.Path(dir_okay=False, exists=True),
    default=None,
    help="Trust this CA for an https destination (system trust otherwise).",
)
@click.option("--insecure", is_flag=True, help="Do not verify an https destination.")
@click.option(
    "--signing-secret",
    default=None,
    envvar="FACEPUSH_SIGNING_SECRET",
    show_envvar=True,
    help="whsec_... : sign pushes (Standard Webhooks). Prefer the environment variable: "
    "the command line shows in `ps`.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
    default=10.0,
    show_default=True,
    help="Seconds to wait for the receiver's reply to one push.",
)
@click.option(
    "--history-limit",
    default=100_000,
    show_default=True,
    type=click.IntRange(min=1),
    help="Recognition records kept in history (the oldest dropped first).",
)
@click.option(
    "--history-images",
    default=1_000,
    show_default=True,
    type=click.IntRange(min=0),
    help='Newest history records whose snapshot is kept (older ones list rgb_image "").',
)
@click.option(
    "--clock-offset",
    type=click.FloatRange(-(10**9), 10**9),
    default=None,
    help="Set the terminal's clock this many seconds ahead of the host's (negative: behind); "
    "kept in --data.",
)
@click.option(
    "--allow-remote-unauthenticated",
    is_flag=True,
    help="Serve beyond loopback without an account (anyone on the network can configure it).",
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
@click.pass_context
def serve(
    ctx: click.Context,
    listen: str,
    data_dir: Path,
    sn: str | None,
    cache_limit: int,
    when_full: str,
    window: int | None,
    username: str | None,
    password: str | None,
    tls_cert: str | None,
    tls_key: str | None,
    ca: str | None,
    insecure: bool,
    signing_secret: str | None,
    timeout: float,
    history_limit: int,
    history_images: int,
    clock_offset: float | None,
    allow_remote_unauthenticated: bool,
    allowed_hosts: tuple[str, ...],
) -> None:
    """Run one terminal's push service.

    Secrets may come from the environment instead of the command line (which every user
    of the machine can read with `ps`): FACEPUSH_PASSWORD, FACEPUSH_SIGNING_SECRET.
    """
    from facepush.device.server import ServeOptions, run

    if username is None and ctx.get_parameter_source("password") is ParameterSource.ENVIRONMENT:
        password = None  # FACEPUSH_PASSWORD set for the client commands: no account here

    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s"
    )
    options = ServeOptions(
        listen=listen,
        data_dir=data_dir,
        sn=sn,
        cache_limit=cache_limit,
        when_full=when_full,
        window=window,
        username=username,
        password=password,
        tls_cert=tls_cert,
        tls_key=tls_key,
        ca=ca,
        insecure=insecure,
        signing_secret=signing_secret,
        timeout=timeout,
        allow_remote_unauthenticated=allow_remote_unauthenticated,
        allowed_hosts=allowed_hosts,
        history_limit=history_limit,
        history_images=history_images,
        clock_offset=clock_offset,
    )
    try:
        asyncio.run(run(options))
    except FacepushError as exc:
        raise click.ClickException(str(exc)) from None
