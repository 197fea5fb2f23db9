"""`facepush receiver ...`: the integrator's server."""

from __future__ import annotations

import asyncio
import logging
import sys

import click

from facepush.errors import FacepushError
from facepush.receiver.serving import run_receiver
from facepush.receiver.settings import ReceiverSettings, check_bind
from facepush.receiver.workers import serve_workers
from facepush.settings import click_options, from_click
from facepush.web import parse_listen


@click.group()
def receiver() -> None:
    """The integrator's side: ingest, storage, query API and dashboard."""


@receiver.command()
@click_options(ReceiverSettings)
@click.pass_context
def serve(ctx: click.Context, /, **_given: object) -> None:
    """Run the receiver: accept pushes, store them durably, serve the query API.

    Settings come from (lowest first) the defaults, the --config file, the environment
    (secrets only: FACEPUSH_TOKEN, FACEPUSH_SIGNING_SECRET, which stay out of `ps`) and
    the command line. See docs/configuration.md.

    Managed terminals are [[terminal]] tables of the file (url, username, password or
    password_env, ca or insecure, subscribe): pinged every --terminal-poll seconds,
    subscribed to --public-url, their history reconciled. See docs/receiver.md.

    --workers N runs N processes on the one port and store, supervised by this one: a
    worker that dies is restarted, SIGTERM or SIGINT stops them all. See docs/receiver.md.
    """
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = from_click(ReceiverSettings, ctx)
        host, port = parse_listen(settings.listen)
        check_bind(host, settings.token, settings.allow_remote_unauthenticated)
        if settings.workers > 1:
            asyncio.run(serve_workers(settings, host, port))
        else:
            asyncio.run(run_receiver(settings, host, port))
    except FacepushError as exc:
        click.echo(f"facepush receiver: {exc}", err=True)
        sys.exit(1)
