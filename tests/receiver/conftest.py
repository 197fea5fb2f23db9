"""Fixtures of the receiver tests. `backend` runs a test on SQLite and on the real
PostgreSQL server, each test in a fresh SQLite file or a fresh PostgreSQL schema."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest
from aiohttp.typedefs import Middleware

from facepush.receiver import Store, Tuning, open_store
from tests.support.receiver import (
    BACKENDS,
    TUNING,
    Running,
    Serve,
    configured,
    drop_schema,
    fresh_pg_url,
    running,
)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db_url(backend: str, tmp_path: Path, pg_dsn: str) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'receiver.sqlite3'}"
        return
    url, schema = fresh_pg_url(pg_dsn)
    try:
        yield url
    finally:
        drop_schema(pg_dsn, schema)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'receiver.sqlite3'}"


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    opened = open_store(db_url)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
async def serve(store: Store) -> AsyncIterator[Serve]:
    """Start an in-process receiver on the test's store: `await serve(token=..., ...)`,
    with ReceiverSettings fields and Tuning fields (the intervals and bounds tests shorten,
    e.g. `keepalive_s=0.2`), and `middlewares` outside the receiver's own."""
    async with AsyncExitStack() as stack:

        async def start(middlewares: Sequence[Middleware] = (), **overrides: Any) -> Running:
            tuning = Tuning(**{k: overrides.pop(k) for k in list(overrides) if k in TUNING})
            return await stack.enter_async_context(
                running(configured(store.url, **overrides), store, tuning, middlewares)
            )

        yield start
