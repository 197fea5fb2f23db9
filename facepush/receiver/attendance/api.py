"""The attendance endpoints: `GET /api/attendance` (JSON), `/api/attendance.csv`,
`/api/attendance.xlsx`, and `PUT /api/devices/{serial}` (a terminal's direction).

Every answer is computed from the stored records when it is asked for (never cached), a
range at most CHUNK_DAYS days at a time, so that memory stays bounded by one chunk
whatever the range (up to 366 days). The JSON and the CSV are streamed chunk by chunk;
the XLSX is written to a temporary file by XlsxWriter in constant-memory mode, then sent.
The first chunk is computed before the reply starts, so that bad input or a store outage
is still an error reply; after that, a failure cuts the connection (a client sees an
incomplete transfer rather than a file that looks whole).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import tzinfo
from functools import partial
from pathlib import Path
from typing import Any

from aiohttp import web

from facepush.errors import BadQuery, StoreUnavailable
from facepush.protocol.jsontext import dump_json
from facepush.protocol.times import now_ms
from facepush.receiver import params
from facepush.receiver.attendance.directions import DirectionBook
from facepush.receiver.attendance.export import HEADER, csv_cells, csv_text, write_xlsx
from facepush.receiver.attendance.rules import (
    AttendanceDay,
    AttendanceSettings,
    DateRange,
    parse_direction,
)
from facepush.receiver.attendance.sql import AttendanceQuery
from facepush.receiver.store import Store
from facepush.web import envelope

CHUNK_DAYS = 7
_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_PARAMS = frozenset({"from", "to", "user_id", "device", "token"})

Run = Callable[[Callable[[], Any]], Awaitable[Any]]


@dataclass
class AttendanceApi:
    store: Store
    settings: AttendanceSettings
    zone: tzinfo | None
    read: Run  # runs a function on a reader thread
    write: Callable[[Callable[[], int]], Awaitable[int]]  # ... on the writer thread

    @property
    def book(self) -> DirectionBook:
        return DirectionBook(self.store, self.settings.direction)

    def query(self, request: web.Request) -> tuple[DateRange, Callable[[DateRange], Any]]:
        unknown = sorted(set(request.query) - _PARAMS)
        if unknown:
            raise BadQuery(unknown[0], "unknown parameter (known: from, to, user_id, device)")
        dates = DateRange.parse(request.query.get("from"), request.query.get("to"))
        user_id = params.text(request.query, "user_id")
        device = params.text(request.query, "device")
        book = self.book

        def compute(chunk: DateRange) -> list[AttendanceDay]:
            query = AttendanceQuery(
                dates=chunk,
                starts=self.settings.start,
                zone=self.zone,
                debounce_ms=self.settings.debounce_ms,
                directions=book.effective(),
                user_id=user_id,
                device=device,
            )
            return self.store.attendance(query)

        return dates, compute

    async def _stream(
        self,
        request: web.Request,
        headers: dict[str, str],
        encode: Callable[[list[AttendanceDay]], bytes],
        head: bytes = b"",
        tail: bytes = b"",
    ) -> web.StreamResponse:
        dates, compute = self.query(request)
        chunks = list(dates.chunks(CHUNK_DAYS))
        first = await self.read(lambda: encode(compute(chunks[0])))
        headers = dict(headers)
        if "Content-Disposition" in headers:
            headers["Content-Disposition"] = headers["Content-Disposition"].format(_name(dates))
        response = web.StreamResponse(headers=headers)
        await response.prepare(request)
        await response.write(head + first)
        for chunk in chunks[1:]:
            try:
                body = await self.read(partial(_encoded, encode, compute, chunk))
            except StoreUnavailable:
                if request.transport is not None:
                    request.transport.abort()
                return response
            await response.write(body)
        await response.write(tail)
        await response.write_eof()
        return response

    async def items(self, request: web.Request) -> web.StreamResponse:
        """`data.items`, one per person and day (the envelope streamed chunk by chunk)."""
        started = False

        def encode(chunk: list[AttendanceDay]) -> bytes:
            nonlocal started
            text = b",".join(dump_json(item.as_dict()) for item in chunk)
            if text and started:
                text = b"," + text
            started = started or bool(text)
            return text

        zone = getattr(self.zone, "key", None)  # the IANA name; None: the machine's zone
        head = b'{"code":200,"msg":"OK","data":{"timezone":' + dump_json(zone) + b',"items":['
        headers = {"Content-Type": "application/json; charset=utf-8"}
        return await self._stream(request, headers, encode, head, b"]}}")

    async def csv(self, request: web.Request) -> web.StreamResponse:
        headers = {
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": 'attachment; filename="{}.csv"',
        }

        def encode(chunk: list[AttendanceDay]) -> bytes:
            return csv_text(csv_cells(item, self.zone) for item in chunk)

        return await self._stream(request, headers, encode, csv_text([HEADER]))

    async def xlsx(self, request: web.Request) -> web.StreamResponse:
        dates, compute = self.query(request)
        folder = Path(tempfile.mkdtemp(prefix="facepush-attendance-"))
        path = folder / "attendance.xlsx"

        def build() -> int:
            chunks: Iterator[list[AttendanceDay]] = map(compute, dates.chunks(CHUNK_DAYS))
            return write_xlsx(path, chunks, self.zone)

        try:
            await self.read(build)
            response = web.StreamResponse(
                headers={
                    "Content-Type": _XLSX,
                    "Content-Disposition": f'attachment; filename="{_name(dates)}.xlsx"',
                    "Content-Length": str(path.stat().st_size),
                }
            )
            await response.prepare(request)
            with path.open("rb") as file:
                while block := file.read(1 << 16):
                    await response.write(block)
            await response.write_eof()
            return response
        finally:
            for leftover in folder.iterdir():
                leftover.unlink()
            folder.rmdir()

    async def put_device(self, request: web.Request) -> web.Response:
        """`{"direction": "in" | "out" | "both" | null}`: store (null: remove) the direction
        of a terminal; the answer is its direction now and where that comes from."""
        serial = params.checked_text("serial", request.match_info["serial"])
        direction = _direction_body(await request.read())
        book = self.book
        stored = await self.write(
            lambda: int(self.store.set_direction(serial, direction, now_ms()))
        )
        if not stored:
            msg = (
                f"serial: no terminal {params.shown(serial)} has pushed to this receiver; "
                "give a terminal not seen yet its direction in [attendance.direction]"
            )
            return envelope(None, code=404, msg=msg, status=404)
        shown = await self.read(lambda: book.of(serial))
        return envelope({"serial": serial, **shown})


def _direction_body(raw: bytes) -> Any:
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise BadQuery("body", 'is not JSON; send {"direction": "in"|"out"|"both"}') from None
    if not isinstance(body, dict) or "direction" not in body:
        raise BadQuery("body", 'expected {"direction": "in"|"out"|"both"|null}')
    extra = sorted(set(body) - {"direction"})
    if extra:
        raise BadQuery(extra[0], "unknown field (only direction can be set)")
    value = body["direction"]
    if value is None:
        return None
    try:
        return parse_direction(value, "direction")
    except ValueError as exc:
        raise BadQuery("direction", str(exc).split(": ", 1)[1] + " (or null)") from None


def _name(dates: DateRange) -> str:
    if dates.first == dates.last:
        return f"attendance-{dates.first}"
    return f"attendance-{dates.first}-to-{dates.last}"


def _encoded(
    encode: Callable[[list[AttendanceDay]], bytes],
    compute: Callable[[DateRange], list[AttendanceDay]],
    chunk: DateRange,
) -> bytes:
    return encode(compute(chunk))
