"""Fixtures of the forwarding tests: a consumer of each kind (`kind` runs a test against
MQTT, NATS JetStream and a webhook alike) and a fresh SQLite store (forwarding running
in-process on it with short intervals: tests/support/forward.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from facepush.receiver import Store, open_store
from tests.forward.consumers import KINDS, Consumer, consumer


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def sink_consumer(kind: str) -> AsyncIterator[Consumer]:
    made = consumer(kind)
    await made.start()
    try:
        yield made
    finally:
        await made.stop()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path / 'receiver.sqlite3'}")
    try:
        yield opened
    finally:
        opened.close()
