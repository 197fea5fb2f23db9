"""The receiver side of the push protocol: durable, idempotent ingest, query API, export.

Public API: `create_app(settings)`, `ReceiverSettings`, `open_store(url)`, `Store`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from facepush.receiver.backends import open_store
from facepush.receiver.settings import ReceiverSettings, Tuning
from facepush.receiver.store import EventFilter, Incoming, Refused, Store, StoreOutcome

if TYPE_CHECKING:
    from collections.abc import Sequence

    from aiohttp import web
    from aiohttp.typedefs import Middleware

__all__ = [
    "EventFilter",
    "Incoming",
    "ReceiverSettings",
    "Refused",
    "Store",
    "StoreOutcome",
    "Tuning",
    "create_app",
    "open_store",
]


def create_app(
    settings: ReceiverSettings,
    store: Store | None = None,
    middlewares: Sequence[Middleware] = (),
    tuning: Tuning | None = None,
) -> web.Application:
    """The receiver's aiohttp application (see facepush.receiver.app)."""
    from facepush.receiver.app import create_app as create

    return create(settings, store, middlewares, tuning)
