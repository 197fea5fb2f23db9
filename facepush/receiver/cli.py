"""`facepush receiver ...`: the integrator's server."""

from __future__ import annotations

import asyncio
import logging
import sys

import click

from facepush.errors import FacepushError
from facepush.receiver.chaos import Chaos, ChaosSpec
from facepush.receiver.settings import ReceiverSettings, check_bind
from facepush.settings import click_options, from_click
from facepush.web import parse_listen, serve_until_stopped


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
    """
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = from_click(ReceiverSettings, ctx)
        host, port = parse_listen(settings.listen)
        check_bind(host, settings.token, settings.allow_remote_unauthenticated)
        asyncio.run(_serve(settings, host, port))
    except FacepushError as exc:
        click.echo(f"facepush receiver: {exc}", err=True)
        sys.exit(1)


async def _serve(settings: ReceiverSettings, host: str, port: int) -> None:
    from facepush.receiver.app import create_app
    from facepush.receiver.store import open_store

    # Opening the store migrates it: an unreachable database fails before binding.
    store = await asyncio.get_running_loop().run_in_executor(
        None, lambda: open_store(settings.db_url, zone=settings.zone)
    )
    try:
        chaos = Chaos(ChaosSpec.parse(settings.chaos)) if settings.chaos else None
        middlewares = [chaos.middleware(settings.path)] if chaos else []
        app = create_app(settings, store, middlewares)
        await serve_until_stopped(app, host, port)
    finally:
        store.close()
