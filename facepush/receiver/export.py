"""`GET /api/export.csv`: every matching event as CSV, streamed page by page.

Pages of at most 1,000 rows and about `page_bytes` (4 MiB) of stored text are read with the
same keyset cursor as /api/events and written out before the next is read, so memory stays
bounded whatever the number and size of the rows, and rows stored during the export do not
shift the pages.

Cells are neutralised against formula injection (OWASP "CSV Injection"): a cell whose text
begins with `=`, `+`, `-`, `@`, a tab or a CR (or the full-width `＝＋－＠`, which some
spreadsheets in CJK locales also read as formulas) gets a leading `'`, so that LibreOffice
and Excel show it as text instead of evaluating it. A plain number (`-1.5`, `-20`) is
left alone: it cannot run anything and stays a number for the spreadsheet.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import partial
from typing import Any

from aiohttp import web

from facepush.errors import StoreUnavailable
from facepush.protocol.jsontext import dump_json
from facepush.receiver import params
from facepush.receiver.query import Queries
from facepush.receiver.records import RECEIVER_FIELDS, image_url, row_item
from facepush.receiver.store import EventRow

PAGE = 1000
_FORMULA_START = frozenset("=+-@\t\r\uff1d\uff0b\uff0d\uff20")
_PLAIN_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?", re.ASCII)
_NEEDS_QUOTES = re.compile(r'[",\r\n]')
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
    "origin",
]


def neutral(value: Any) -> Any:
    """A cell that no spreadsheet evaluates as a formula (see the module's docstring)."""
    if value is None or isinstance(value, bool | int | float):
        return value
    text = str(value)
    if text and text[0] in _FORMULA_START and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def csv_row(row: EventRow) -> list[Any]:
    return [neutral(cell) for cell in _cells(row)]


def _cells(row: EventRow) -> list[Any]:
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
        row.origin,
    ]


# The receiver's own names have columns of their own; what was pushed beside the record
# (envelope_extra, pushed_extra) stays in the `fields` column.
_RECEIVER_FIELDS = RECEIVER_FIELDS - {"envelope_extra", "pushed_extra"}


def _bool(value: Any) -> Any:
    return str(value).lower() if isinstance(value, bool) else value


def _field(value: Any) -> str:
    """One CSV field, quoted as csv.QUOTE_MINIMAL would (RFC 4180)."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    if _NEEDS_QUOTES.search(text):
        return '"' + text.replace('"', '""') + '"'
    return text


def _csv(rows: Iterable[list[Any]]) -> bytes:
    # Not csv.writer: it builds each row four bytes a character and took 1.8 s for one row
    # of 16 MiB (old rows can be that large); joining quoted fields, a tenth of that.
    return "".join(",".join(_field(cell) for cell in row) + "\r\n" for row in rows).encode()


async def export_csv(queries: Queries, request: web.Request) -> web.StreamResponse:
    flt = params.event_filter(request.query)
    before = params.decode_cursor(request.query)

    def read(before_id: int | None) -> tuple[bytes, int | None]:
        """The next chunk of CSV, and the cursor after it (None: the export is complete).
        Built on a reader thread: a chunk of megabytes would stall the event loop."""
        page = queries.store.event_page(flt, before_id, PAGE, queries.page_bytes)
        after = page.items[-1].id if page.more and page.items else None
        return _csv(csv_row(row) for row in page.items), after

    # Read the first page before answering, so that a store outage is still a 503 reply.
    chunk, after = await queries.run(partial(read, before))
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": 'attachment; filename="events.csv"',
        }
    )
    await response.prepare(request)
    await response.write(_csv([COLUMNS]))
    while True:
        await response.write(chunk)
        chunk = b""  # not held while the next one is built
        if after is None:
            break
        try:
            chunk, after = await queries.run(partial(read, after))
        except StoreUnavailable:
            # Headers are sent: cut the connection, so that the client sees an incomplete
            # transfer instead of a CSV that looks whole.
            if request.transport is not None:
                request.transport.abort()
            return response
    await response.write_eof()
    return response
