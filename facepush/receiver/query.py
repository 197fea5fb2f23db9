"""The query API: events, one event, stats, devices, alarms, quarantine, images, metrics.

Every reply but images uses the envelope `{"code", "msg", "data"}`. Queries run on a small
pool of reader threads, so that a slow query never blocks the push path's event loop.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from aiohttp import web

from facepush.errors import BadQuery, StoreUnavailable
from facepush.metrics import CONTENT_TYPE as METRICS_TYPE
from facepush.protocol.jsontext import dump_json
from facepush.protocol.times import now_ms
from facepush.receiver import params, quarantine
from facepush.receiver.metrics import ReceiverMetrics
from facepush.receiver.records import row_item
from facepush.receiver.settings import PAGE_BYTES
from facepush.receiver.store import Page, Store
from facepush.web import envelope

T = TypeVar("T")
_IMAGE_ID = re.compile(r"[0-9a-f]{64}")
READERS = 4


class Queries:
    def __init__(
        self,
        store: Store,
        metrics: ReceiverMetrics,
        replay_window_ms: int,
        page_bytes: int = PAGE_BYTES,
        annotate_devices: Callable[[list[dict[str, Any]]], None] | None = None,
    ) -> None:
        self.store = store
        self.metrics = metrics
        self.replay_window_ms = replay_window_ms
        self.page_bytes = page_bytes
        self.annotate_devices = annotate_devices  # adds fields to /api/devices items
        self.pool = ThreadPoolExecutor(max_workers=READERS, thread_name_prefix="facepush-read")

    async def run(self, func: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.pool, func)

    async def reply(self, func: Callable[[], Any]) -> web.Response:
        """The envelope of what `func` returns, read, built and encoded on a reader thread,
        not on the event loop that serves pushes (a page can be megabytes)."""
        body = await self.run(lambda: dump_json({"code": 200, "msg": "OK", "data": func()}))
        return web.Response(body=body, content_type="application/json")

    async def events(self, request: web.Request) -> web.Response:
        flt = params.event_filter(request.query)
        before = params.decode_cursor(request.query)
        limit = params.limit(request.query)

        def page() -> dict[str, Any]:
            found = self.store.event_page(flt, before, limit, self.page_bytes)
            rows = found.items
            following = params.encode_cursor(rows[-1].id) if found.more and rows else None
            return {"items": [row_item(r) for r in rows], "next": following}

        return await self.reply(page)

    async def event(self, request: web.Request) -> web.Response:
        key = params.checked_text("key", request.match_info["key"])
        row = await self.run(lambda: self.store.event(key))
        if row is None:
            msg = f"no event with key {params.shown(key)}"
            return envelope(None, code=404, msg=msg, status=404)
        return await self.reply(lambda: row_item(row))

    async def stats(self, request: web.Request) -> web.Response:
        return envelope(await self.run(self.store.stats))

    async def devices(self, request: web.Request) -> web.Response:
        offset = params.decode_cursor(request.query, params.DEVICES) or 0
        limit = params.limit(request.query, default=params.MAX_LIMIT)

        def page() -> dict[str, Any]:
            found = self.store.device_page(offset, limit, self.page_bytes)
            now = now_ms()
            for row in found.items:
                late = row["last_late_at"]
                row["replaying"] = late is not None and now - late <= self.replay_window_ms
            if self.annotate_devices is not None:
                self.annotate_devices(found.items)
            return {"items": found.items, "next": _following(found, offset, params.DEVICES)}

        return await self.reply(page)

    async def alarms(self, request: web.Request) -> web.Response:
        offset = params.decode_cursor(request.query, params.ALARMS) or 0
        limit = params.limit(request.query)

        def page() -> dict[str, Any]:
            found = self.store.alarm_page(offset, limit, self.page_bytes)
            return {"items": found.items, "next": _following(found, offset, params.ALARMS)}

        return await self.reply(page)

    async def quarantine(self, request: web.Request) -> web.Response:
        before = params.decode_cursor(request.query)
        limit = params.limit(request.query)
        rows = await self.run(lambda: self.store.quarantine(before, limit + 1))
        more = len(rows) > limit
        rows = rows[:limit]
        items = [quarantine.item(row) for row in rows]
        following = params.encode_cursor(rows[-1].id) if more and rows else None
        return envelope({"items": items, "next": following})

    async def image(self, request: web.Request) -> web.Response:
        image_id = request.match_info["id"]
        if not _IMAGE_ID.fullmatch(image_id):
            return envelope(None, code=400, msg="id: expected 64 hex digits (sha256)", status=400)
        data = await self.run(lambda: self.store.image(image_id))
        if data is None:
            text = f"no image {image_id} (never stored, or purged by --keep-images)"
            return envelope(None, code=404, msg=text, status=404)
        # Content-addressed: the bytes behind an id never change.
        headers = {"Cache-Control": "private, max-age=31536000, immutable"}
        return web.Response(body=data, content_type="image/jpeg", headers=headers)

    async def metrics_text(self, request: web.Request) -> web.Response:
        response = web.Response(text=self.metrics.render())
        response.headers["Content-Type"] = METRICS_TYPE
        return response


def _following(found: Page[Any], offset: int, kind: str) -> str | None:
    """The cursor of the page after `found` (taken from `offset` of a list), or None."""
    return params.encode_cursor(offset + len(found.items), kind) if found.more else None


@web.middleware
async def api_errors(
    request: web.Request, handler: Callable[[web.Request], Any]
) -> web.StreamResponse:
    """Bad parameters → 400 naming the parameter; a store outage → 503; an unknown path or
    method → its HTTP error in the envelope (the dashboard's static files excepted)."""
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except BadQuery as exc:
        return envelope(None, code=400, msg=str(exc), status=400)
    except StoreUnavailable as exc:
        return envelope(None, code=503, msg=f"storage unavailable: {exc}", status=503)
    except web.HTTPException as exc:
        if exc.status >= 400 and not request.path.startswith("/static/"):
            return envelope(None, code=exc.status, msg=exc.reason, status=exc.status)
        raise
