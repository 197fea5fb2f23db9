"""`facepush device ...`: the terminal's push service."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

import click

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
    help="Durable state: configuration and outbox.",
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
@click.option("--password", default=None, help="Its password.")
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
@click.option("--signing-secret", default=None, help="whsec_... : sign pushes (Standard Webhooks).")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
    default=10.0,
    show_default=True,
    help="Seconds to wait for the receiver's reply to one push.",
)
@click.option(
    "--allow-remote-unauthenticated",
    is_flag=True,
    help="Serve beyond loopback without an account (anyone on the network can configure it).",
)
def serve(
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
    allow_remote_unauthenticated: bool,
) -> None:
    """Run one terminal's push service."""
    from facepush.device.server import ServeOptions, run

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
    )
    try:
        asyncio.run(run(options))
    except FacepushError as exc:
        raise click.ClickException(str(exc)) from None
