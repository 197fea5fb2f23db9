"""The receiver side of the push protocol: durable, idempotent ingest, query API, export.

Public API: `create_app(config)`, `ReceiverConfig`, `open_store(url)`, `Store`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from facepush.receiver.backends import open_store
from facepush.receiver.config import ReceiverConfig
from facepush.receiver.store import EventFilter, Incoming, Outcome, Refused, Store

if TYPE_CHECKING:
    from collections.abc import Sequence

    from aiohttp import web
    from aiohttp.typedefs import Middleware

__all__ = [
    "EventFilter",
    "Incoming",
    "Outcome",
    "ReceiverConfig",
    "Refused",
    "Store",
    "create_app",
    "open_store",
]


def create_app(
    config: ReceiverConfig,
    store: Store | None = None,
    middlewares: Sequence[Middleware] = (),
) -> web.Application:
    """The receiver's aiohttp application (see facepush.receiver.app)."""
    from facepush.receiver.app import create_app as create

    return create(config, store, middlewares)
