"""`facepush device ...`: the terminal's push service."""

from __future__ import annotations

import asyncio
import logging
import sys

import click

from facepush.device.settings import DeviceSettings
from facepush.errors import FacepushError
from facepush.settings import click_options, from_click


@click.group()
def device() -> None:
    """The terminal side: the push configuration API, the outbox and delivery."""


@device.command()
@click_options(DeviceSettings)
@click.pass_context
def serve(ctx: click.Context, /, **_given: object) -> None:
    """Run one terminal's push service.

    Settings come from (lowest first) the defaults, the --config file, the environment
    (secrets only: FACEPUSH_PASSWORD, FACEPUSH_SIGNING_SECRET, which stay out of `ps`)
    and the command line. See docs/configuration.md.
    """
    from facepush.device.server import run

    try:
        settings = from_click(DeviceSettings, ctx)
        logging.basicConfig(
            level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s"
        )
        asyncio.run(run(settings))
    except FacepushError as exc:
        raise click.ClickException(str(exc)) from None
