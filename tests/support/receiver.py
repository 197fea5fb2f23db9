"""An in-process receiver on a real loopback socket (`running`), the database URLs of the
two backends (a fresh SQLite file or a fresh PostgreSQL schema per test), the receiver's
item of a record (`make`), and the OpenAPI document's reply schemas."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp
import jsonschema_rs
import psycopg
from aiohttp import web
from aiohttp.typedefs import Middleware

from facepush.guard import ConnectionGuard, bound_port, listen
from facepush.protocol import decode_push
from facepush.receiver import ReceiverSettings, Store, Tuning, create_app
from facepush.receiver.app import LEAN
from facepush.receiver.records import incoming
from facepush.receiver.store import Incoming
from tests.support.records import body

TIMEOUT = aiohttp.ClientTimeout(total=30)
BACKENDS = ["sqlite", "postgresql"]
TUNING = {f.name for f in dataclasses.fields(Tuning)}


def fresh_pg_url(pg_dsn: str) -> tuple[str, str]:
    """A URL of a new PostgreSQL schema on `pg_dsn`, and the schema's name."""
    schema = f"fp_test_{os.getpid()}_{uuid.uuid4().hex[:10]}"
    sep = "&" if "?" in pg_dsn else "?"
    return f"{pg_dsn}{sep}schema={schema}", schema


def drop_schema(pg_dsn: str, schema: str) -> None:
    with psycopg.connect(pg_dsn, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def metric_value(text: str, name: str) -> float:
    """The value of an unlabelled sample in Prometheus text."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in metrics:\n{text}")


@dataclass
class Running:
    url: str
    app: web.Application
    store: Store
    session: aiohttp.ClientSession
    settings: ReceiverSettings

    async def push(
        self, payload: bytes | dict[str, Any], headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, Any]]:
        data = payload if isinstance(payload, bytes) else body(payload)
        async with self.session.post(
            self.url + self.settings.path, data=data, headers=headers
        ) as resp:
            return resp.status, await resp.json(content_type=None)

    async def get(self, path: str, **params: Any) -> dict[str, Any]:
        async with self.session.get(self.url + path, params=params) as resp:
            reply: dict[str, Any] = await resp.json(content_type=None)
            assert resp.status == 200, reply
            assert reply["code"] == 200, reply
            return reply

    async def status_of(self, path: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
        async with self.session.get(self.url + path, **kwargs) as resp:
            return resp.status, await resp.json(content_type=None)


# `await serve(token=..., keepalive_s=0.2)`: the `serve` fixture's starter (receiver conftest).
Serve = Callable[..., Awaitable[Running]]


@contextlib.asynccontextmanager
async def running(
    settings: ReceiverSettings,
    store: Store,
    tuning: Tuning | None = None,
    middlewares: Sequence[Middleware] = (),
    guard: ConnectionGuard | None = None,
) -> AsyncIterator[Running]:
    app = create_app(settings, store, middlewares, tuning=tuning)
    # Served as `facepush receiver serve` serves it: through the guard and the lean path.
    guard = guard or ConnectionGuard()
    app.middlewares.insert(0, guard.middleware)
    lean = app.get(LEAN)
    runner = web.AppRunner(app, shutdown_timeout=5)
    await runner.setup()
    listener = None
    try:
        front = lean.front(guard) if lean else None
        listener = await listen(runner, "127.0.0.1", 0, guard, front=front)
        port = bound_port(listener)
        async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
            yield Running(f"http://127.0.0.1:{port}", app, store, session, settings)
    finally:
        if listener is not None:
            listener.close()
        if lean is not None:
            await lean.drain()
        await runner.cleanup()


def configured(db_url: str, **overrides: Any) -> ReceiverSettings:
    return ReceiverSettings(db=db_url, **overrides)


def make(
    record: dict[str, object], received_at: int = 1_000, late_after_ms: int = 300_000
) -> Incoming:
    """The receiver's item of `record`, as the push path builds it (for the store's tests)."""
    return incoming(
        decode_push(body(record)),
        source="127.0.0.1",
        received_at=received_at,
        late_after_ms=late_after_ms,
    )


def reply_validator(document: dict[str, Any], path: str) -> jsonschema_rs.Draft202012Validator:
    """The documented schema of `GET path`'s 200 reply, its `$ref`s resolved in `document`."""
    escaped = quote(path.replace("~", "~0").replace("/", "~1"), safe="~")  # JSON pointer in a URI
    pointer = f"#/paths/{escaped}/get/responses/200/content/application~1json/schema"
    return jsonschema_rs.Draft202012Validator({**document, "$ref": pointer})
