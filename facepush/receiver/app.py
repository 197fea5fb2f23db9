"""The receiver's aiohttp application: `create_app(settings)` wires the store, the group-
committing writer, the push endpoint, the query API, the stream, metrics and dashboard."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import tzinfo
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Middleware

from facepush.errors import ReceiverConfigError, StoreUnavailable
from facepush.metrics import CONTENT_TYPE as METRICS_TYPE
from facepush.protocol.signing import parse_secret
from facepush.protocol.times import now_ms
from facepush.receiver import dashboard
from facepush.receiver.attendance.api import AttendanceApi
from facepush.receiver.auth import token_middleware
from facepush.receiver.budget import BodyBudget
from facepush.receiver.export import export_csv
from facepush.receiver.forward import api as forward_api
from facepush.receiver.forward.positions import positions_for
from facepush.receiver.forward.service import Forwarding
from facepush.receiver.health import Health
from facepush.receiver.ingest import Writer
from facepush.receiver.lean import LeanPush
from facepush.receiver.metrics import ReceiverMetrics
from facepush.receiver.push import PushHandler, PushSettings
from facepush.receiver.query import Queries, api_errors
from facepush.receiver.settings import ReceiverSettings, Tuning
from facepush.receiver.store import Incoming, QuarantineLimits, Store, open_store
from facepush.receiver.stream import Broadcaster
from facepush.receiver.stream_feed import StoreFeed
from facepush.receiver.terminals.manager import Terminals
from facepush.receiver.worker_role import SharedMetrics, WorkerRole
from facepush.sitepolicy import SitePolicy, add_headers, allowed_hosts_for
from facepush.sitepolicy import middleware as site_policy
from facepush.throttle import FailureThrottle
from facepush.web import parse_listen

log = logging.getLogger("facepush.receiver")

OPENAPI = Path(__file__).parent / "openapi.yaml"
STORE = web.AppKey("facepush.receiver.store", Store)
WRITER = web.AppKey("facepush.receiver.writer", Writer)
METRICS = web.AppKey("facepush.receiver.metrics", ReceiverMetrics)
BROADCASTER = web.AppKey("facepush.receiver.broadcaster", Broadcaster)
SETTINGS = web.AppKey("facepush.receiver.settings", ReceiverSettings)
TUNING = web.AppKey("facepush.receiver.tuning", Tuning)
THROTTLE = web.AppKey("facepush.receiver.throttle", FailureThrottle)
TERMINALS = web.AppKey("facepush.receiver.terminals", Terminals)
# The lean push path (lean.py), when this app has one: pass LEAN.front to guard.listen.
LEAN = web.AppKey("facepush.receiver.lean", LeanPush)
_DAY_MS = 86_400_000


def create_app(
    settings: ReceiverSettings,
    store: Store | None = None,
    middlewares: Sequence[Middleware] = (),
    tuning: Tuning | None = None,
    worker: WorkerRole | None = None,
) -> web.Application:
    """The receiver app. Without `store`, opens (and migrates) `settings.db_url` and closes
    it on cleanup; a given store stays open (the caller owns it), and must count days in
    the settings' time zone. `middlewares` run outside the receiver's own (e.g. fault
    injection on the push path). `worker`: this app is one of `--workers N` processes
    (its stream is fed from the store, its /metrics shows every worker's)."""
    tuning = tuning or Tuning()
    signing_key = parse_secret(settings.signing_secret) if settings.signing_secret else None
    owned = store is None
    store = store if store is not None else open_store(settings.db_url, zone=settings.zone)
    if _zone_name(store.zone) != _zone_name(settings.zone):
        raise ReceiverConfigError(
            f"the store counts days in {_zone_name(store.zone)}, the settings say "
            f"{_zone_name(settings.zone)}: open it with open_store(url, zone=settings.zone)"
        )
    store.quarantine_limits = QuarantineLimits(
        max_rows=tuning.quarantine_rows, max_bytes=tuning.quarantine_bytes
    )
    metrics = ReceiverMetrics()
    metrics.quarantine_dropped = lambda: store.quarantine_dropped
    broadcaster = Broadcaster(tuning.keepalive_s, tuning.stream_buffer_bytes)

    async def queries_run(func: Callable[[], Any]) -> Any:
        return await queries.run(func)

    try:
        forwarding = Forwarding(settings.forward, store, tuning.forward)
    except BaseException:
        if owned:
            store.close()
        raise

    # With several workers the stream is fed from the store: a client gets every worker's.
    feed = (
        StoreFeed(positions_for(store), queries_run, broadcaster, tuning.stream_poll_s)
        if worker
        else None
    )

    def stored(items: list[Incoming]) -> None:
        if feed is None:
            broadcaster.publish(items)
        else:
            feed.wake()
        forwarding.wake()  # only a wake-up: forwarding reads the store on its own

    writer = Writer(store, metrics, on_stored=stored)
    queries = Queries(
        store,
        metrics,
        tuning.replay_window_ms,
        tuning.page_bytes,
        annotate_devices=lambda items: attendance.book.annotate(items),
    )
    attendance = AttendanceApi(
        store, settings.attendance, settings.zone, read=queries.run, write=writer.run_exclusive
    )
    health = Health(store, writer)
    terminals = Terminals(settings, store, writer, metrics, tuning)
    push = PushHandler(
        writer,
        metrics,
        PushSettings(settings.max_body, int(settings.late_after * 1000), signing_key),
        BodyBudget(
            max(tuning.body_budget, settings.max_body),
            wait_s=tuning.budget_wait_s,
            rate=tuning.large_body_rate,
        ),
    )

    # No cross-site writes, no DNS rebinding; the push path takes any Content-Type.
    host, _port = parse_listen(settings.listen)
    allowed = allowed_hosts_for(host, settings.allowed_host)
    policy = SitePolicy(allowed, lenient_paths=frozenset({settings.path}))
    chain: list[Middleware] = [*middlewares, site_policy(policy)]
    throttle = FailureThrottle()
    if settings.token is not None:
        open_paths = frozenset({settings.path, "/healthz"})
        # A browser opening the dashboard without the token gets a page saying so.
        pages = frozenset({"/"})
        chain.append(token_middleware(settings.token, open_paths, pages, throttle))
    chain.append(api_errors)
    # The push handler enforces max_body itself (413 + quarantine); aiohttp's own limit only
    # has to stay out of its way.
    app = web.Application(middlewares=chain, client_max_size=settings.max_body + 1)
    add_headers(app)
    app[STORE], app[WRITER], app[METRICS], app[BROADCASTER] = store, writer, metrics, broadcaster
    app[SETTINGS], app[TUNING], app[THROTTLE] = settings, tuning, throttle
    app[TERMINALS] = terminals
    if worker:
        worker.add_headers(app)
    # Signed pushes and fault injection need aiohttp's request objects: no lean path then.
    lean = None
    if signing_key is None and not middlewares:
        identity = worker.headers() if worker else []
        lean = app[LEAN] = LeanPush(push, settings.path, policy, identity, tuning.lean_keepalive_s)

    app.router.add_post(settings.path, push.handle)
    app.router.add_get("/api/events", queries.events)
    app.router.add_get("/api/events/{key:.+}", queries.event)
    app.router.add_get("/api/stats", queries.stats)
    app.router.add_get("/api/devices", queries.devices)
    app.router.add_put("/api/devices/{serial}", attendance.put_device)
    app.router.add_get("/api/attendance", attendance.items)
    app.router.add_get("/api/attendance.csv", attendance.csv)
    app.router.add_get("/api/attendance.xlsx", attendance.xlsx)
    app.router.add_get("/api/alarms", queries.alarms)
    app.router.add_get("/api/quarantine", queries.quarantine)
    app.router.add_get("/api/terminals", terminals.list_terminals)
    app.router.add_post("/api/terminals/reconcile", terminals.reconcile_now)

    async def export(request: web.Request) -> web.StreamResponse:
        return await export_csv(queries, request)

    app.router.add_get("/api/export.csv", export)
    app.router.add_get("/api/images/{id}", queries.image)
    app.router.add_get("/api/stream", broadcaster.handle)

    shared = SharedMetrics(worker, metrics.render) if worker else None

    async def metrics_text(request: web.Request) -> web.Response:
        extra = await queries.run(forwarding.metrics_text)
        own = shared.render() if shared else metrics.render()
        response = web.Response(text=own + extra)
        response.headers["Content-Type"] = METRICS_TYPE
        return response

    app.router.add_get("/metrics", metrics_text)
    forward_api.add_routes(app, forwarding, queries.pool)
    app.router.add_get("/healthz", health.handle)
    app.router.add_get("/openapi.yaml", _openapi)
    dashboard.add_routes(app)

    async def lifetime(app: web.Application) -> AsyncIterator[None]:
        """Start the writer, the managed terminals, forwarding, the workers' shared parts and
        image retention; on cleanup stop them and close what the app holds (whatever part of
        the start-up got done)."""
        purge: asyncio.Task[None] | None = None
        try:
            writer.start()
            await terminals.start()
            forwarding.start()
            if lean is not None:
                lean.start()
            for part in (feed, shared):
                if part is not None:
                    part.start()
            if settings.keep_images is not None:
                purge = asyncio.create_task(_purge_loop(app, settings.keep_images))
            yield
        finally:
            if purge is not None:
                purge.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await purge
            for part in (feed, shared):
                if part is not None:
                    await part.stop()
            if lean is not None:
                await lean.stop()
            await forwarding.stop()
            await writer.stop()
            push.close()
            queries.pool.shutdown(wait=True)
            forwarding.close()
            health.close()
            if owned:
                store.close()

    async def shutdown(app: web.Application) -> None:
        # The shutdown phase, before cleanup: long-lived stream responses end now, not at
        # the timeout, and the terminals stop before the writer (a reconciliation may be
        # submitting).
        broadcaster.close()
        await terminals.stop()

    app.cleanup_ctx.append(lifetime)
    app.on_shutdown.append(shutdown)
    return app


async def purge_images_now(app: web.Application, keep_days: float) -> int:
    """Delete snapshots older than `keep_days` (records stay, flagged); returns how many."""
    cutoff = now_ms() - int(keep_days * _DAY_MS)
    flag = f"purged: older than {keep_days:g} days (--keep-images)"
    store = app[STORE]
    return await app[WRITER].run_exclusive(lambda: store.purge_images(cutoff, flag))


async def _purge_loop(app: web.Application, keep_days: float) -> None:
    while True:
        try:
            purged = await purge_images_now(app, keep_days)
            if purged:
                log.info("purged %d snapshots older than %g days", purged, keep_days)
        except StoreUnavailable as exc:
            log.warning("image retention could not run: %s", exc)
        await asyncio.sleep(app[TUNING].purge_interval_s)


def _zone_name(zone: tzinfo | None) -> str:
    return "the machine's time zone" if zone is None else str(zone)


async def _openapi(request: web.Request) -> web.FileResponse:
    return web.FileResponse(OPENAPI, headers={"Content-Type": "application/yaml"})
