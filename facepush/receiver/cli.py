"""`facepush receiver ...`: the integrator's server."""

from __future__ import annotations

import click


@click.group()
def receiver() -> None:
    """The integrator's side: ingest, storage, query API and dashboard."""
