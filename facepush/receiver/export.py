"""`GET /api/export.csv`: every matching event as CSV, streamed page by page.

Pages of a fixed size are read with the same keyset cursor as /api/events and written out
before the next is read, so memory stays bounded whatever the number of rows, and rows
stored during the export do not shift the pages.
"""

from __future__ import annotations

import csv
import io
from functools import partial
from typing import Any

from aiohttp import web

from facepush.protocol.jsontext import dump_json
from facepush.receiver import params
from facepush.receiver.errors import StoreUnavailable
from facepush.receiver.query import Queries
from facepush.receiver.records import image_url, row_item
from facepush.receiver.store import EventRow

PAGE = 1000
COLUMNS = [
    "key",
    "type",
    "occurred_at",
    "received_at",
    "late",
    "device",
    "source",
    "uuid",
    "user_id",
    "user_name",
    "pass",
    "recognitionType",
    "trace_id",
    "status",
    "code",
    "image_url",
    "image_flag",
    "fields",
]


def csv_row(row: EventRow) -> list[Any]:
    item = row_item(row)
    user = item.get("user") if isinstance(item.get("user"), dict) else {}
    user_id = user.get("user_id") if user else item.get("user_id")
    fields = {k: v for k, v in item.items() if k not in _RECEIVER_FIELDS}
    return [
        row.key,
        row.type,
        row.occurred_at,
        row.received_at,
        str(row.late).lower(),
        item.get("deviceSN"),
        row.source,
        item.get("uuid"),
        user_id,
        user.get("name") if user else None,
        _bool(item.get("pass")),
        item.get("recognitionType"),
        item.get("trace_id"),
        item.get("status"),
        item.get("code"),
        image_url(row.image_id),
        row.image_flag,
        dump_json(fields).decode(),
    ]


_RECEIVER_FIELDS = {
    "type",
    "key",
    "received_at",
    "occurred_at",
    "late",
    "image_url",
    "image_flag",
    "source",
}


def _bool(value: Any) -> Any:
    return str(value).lower() if isinstance(value, bool) else value


async def export_csv(queries: Queries, request: web.Request) -> web.StreamResponse:
    flt = params.event_filter(request.query)
    before = params.decode_cursor(request.query)
    # Read the first page before answering, so that a store outage is still a 503 reply.
    page = await queries.run(lambda: queries.store.events(flt, before, PAGE))
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": 'attachment; filename="events.csv"',
        }
    )
    await response.prepare(request)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    while True:
        for row in page:
            writer.writerow(csv_row(row))
        await response.write(buffer.getvalue().encode())
        buffer.seek(0)
        buffer.truncate()
        if len(page) < PAGE:
            break
        try:
            page = await queries.run(partial(queries.store.events, flt, page[-1].id, PAGE))
        except StoreUnavailable:
            # Headers are sent: cut the connection, so that the client sees an incomplete
            # transfer instead of a CSV that looks whole.
            if request.transport is not None:
                request.transport.abort()
            return response
    await response.write_eof()
    return response
