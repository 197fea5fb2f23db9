"""Running one receiver process: open (and migrate) the store, build the app, serve it
until stopped. `facepush receiver serve` runs this once, or in each of its workers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from facepush.receiver.chaos import Chaos, ChaosSpec
from facepush.receiver.settings import ReceiverSettings
from facepush.receiver.worker_role import WorkerRole
from facepush.web import serve_until_stopped


async def run_receiver(
    settings: ReceiverSettings,
    host: str,
    port: int,
    *,
    worker: WorkerRole | None = None,
    stopped: asyncio.Event | None = None,
    announce: Callable[[str], None] | None = None,
) -> None:
    from facepush.receiver.app import LEAN, create_app
    from facepush.receiver.store import open_store

    # Opening the store migrates it: an unreachable database fails before binding.
    store = await asyncio.get_running_loop().run_in_executor(
        None, lambda: open_store(settings.db_url, zone=settings.zone)
    )
    try:
        chaos = Chaos(ChaosSpec.parse(settings.chaos)) if settings.chaos else None
        middlewares = [chaos.middleware(settings.path)] if chaos else []
        app = create_app(settings, store, middlewares, worker=worker)
        lean = app.get(LEAN)
        await serve_until_stopped(
            app,
            host,
            port,
            announce=announce,
            stopped=stopped,
            reuse_port=worker is not None,
            front=lean.front if lean else None,
            drain=lean.drain if lean else None,
        )
    finally:
        store.close()
