"""The receiver side of the push protocol: durable, idempotent ingest, query API, export.

Public API: `create_app(settings)`, `ReceiverSettings`, `open_store(url)`, `Store`.
"""

from __future__ import annotations

from facepush.receiver.app import create_app
from facepush.receiver.settings import ReceiverSettings, Tuning
from facepush.receiver.store import EventFilter, Incoming, Refused, Store, StoreOutcome, open_store

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
