"""`facepush device ...`: the terminal's push service."""

from __future__ import annotations

import click


@click.group()
def device() -> None:
    """The terminal side: the push configuration API, the outbox and delivery."""
