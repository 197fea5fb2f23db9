"""The query side the two SQL backends share: the queries (written with `?` placeholders;
the PostgreSQL backend translates them) and the conversion of rows to the interface's types.
The write side and the connections are `facepush.receiver.sql.SqlStore`'s."""

from __future__ import annotations

import abc
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, ClassVar

import msgspec

from facepush.receiver import days
from facepush.receiver.attendance import sql as attendance_sql
from facepush.receiver.attendance.rules import DIRECTIONS, AttendanceDay, Direction
from facepush.receiver.attendance.sql import AttendanceQuery
from facepush.receiver.records import image_url
from facepush.receiver.schema import Dialect
from facepush.receiver.store import (
    EventFilter,
    EventRow,
    Page,
    QuarantineRow,
    Store,
)

EVENT_COLUMNS = (
    "id, key, type, device, source, occurred_at, received_at, late, fields, envelope_extra, "
    "image_id, image_flag, origin"
)

# The lifecycle of each alarm, in its order; `{columns}` of `lifecycle`. One lifecycle per
# trace_id *and sender* (address and deviceSN): a report with the same trace_id from
# elsewhere is another alarm, so that it cannot clear this one.
_ALARMS = """
SELECT {columns}
FROM (
    SELECT trace_id, source, device,
        MIN(CASE WHEN status = 1 THEN occurred_at END) AS raised_at,
        MAX(CASE WHEN status = 2 THEN occurred_at END) AS clear_failed_at,
        MAX(CASE WHEN status = 3 THEN occurred_at END) AS cleared_at,
        MAX(code) AS code,
        COUNT(*) AS reports,
        MAX(occurred_at) AS last_at
    FROM events WHERE type = 1 AND trace_id IS NOT NULL
    GROUP BY trace_id, source, device
) AS lifecycle
ORDER BY
    CASE WHEN cleared_at IS NOT NULL AND cleared_at >= COALESCE(clear_failed_at, -1)
         THEN 1 ELSE 0 END,
    last_at DESC, trace_id, source, device
LIMIT ? OFFSET ?
"""
_LIFECYCLE = (
    "trace_id, source, device, raised_at, clear_failed_at, cleared_at, code, reports, last_at"
)

# What an item adds to a page besides its stored text: the receiver's own fields and JSON.
ITEM_OVERHEAD = 256
# What /api/alarms shows of an alarm's raising report (device, user_id and the description
# from its fields) comes from a report of at most this many bytes: more (only in rows stored
# before the ingest limits) leaves them null there; /api/events/{key} has the whole report.
RAISING_REPORT_BYTES = 64 * 1024


def fit(sizes: Iterable[int], limit: int, max_bytes: int) -> tuple[int, bool]:
    """How many rows (their sizes, in page order) make a page of at most `limit` rows and
    `max_bytes` (the first row always: a larger one comes alone), and whether rows are left.
    Stops reading `sizes` at the first row that does not fit."""
    taken = used = 0
    for size in sizes:
        if taken == limit or (taken and used + size > max_bytes):
            return taken, True
        taken += 1
        used += size
    return taken, False


_NO_REPORT: dict[str, Any] = {
    "description": None,
    "user_id": None,
    "image_url": None,
}
_json = msgspec.json.Decoder(dict[str, Any])
_REPORT_COLUMNS = ("user_id", "fields")

_DEVICE_FIELDS = (
    "serial",
    "first_seen",
    "last_seen",
    "recognitions",
    "alarms",
    "late",
    "last_late_at",
    "last_source",
    "today",
)
# One row per terminal: `today` is read from the per-day counter the writer keeps, not
# counted from events (see the schema's migration 2).
_DEVICES = """
SELECT d.serial, d.first_seen, d.last_seen, d.recognitions, d.alarms, d.late, d.last_late_at,
    d.last_source, COALESCE(dd.records, 0)
FROM devices AS d LEFT JOIN device_days AS dd ON dd.serial = d.serial AND dd.day = ?
"""
_DEVICES_ALL = _DEVICES + "ORDER BY d.last_seen DESC, d.serial"
# The page's serials are picked from the index first: rows skipped by OFFSET are not read.
_DEVICES_PAGE = (
    _DEVICES
    + "WHERE d.serial IN (SELECT serial FROM devices ORDER BY serial LIMIT ? OFFSET ?) "
    + "ORDER BY d.serial"
)


def event_where(flt: EventFilter, before_id: int | None) -> tuple[str, list[Any]]:
    """The WHERE clause (possibly empty) and its parameters for a filter and cursor."""
    clauses: list[str] = []
    params: list[Any] = []
    for column, value in (
        ("type", flt.type),
        ("device", flt.device),
        ("user_id", flt.user_id),
        ("pass", flt.passed),
        ("origin", flt.origin),
    ):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if flt.since is not None:
        clauses.append("occurred_at >= ?")
        params.append(flt.since)
    if flt.until is not None:
        clauses.append("occurred_at <= ?")
        params.append(flt.until)
    if before_id is not None:
        clauses.append("id < ?")
        params.append(before_id)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def to_event(row: Sequence[Any]) -> EventRow:
    return EventRow(
        id=int(row[0]),
        key=row[1],
        type=int(row[2]),
        device=row[3],
        source=row[4],
        occurred_at=row[5],
        received_at=int(row[6]),
        late=bool(row[7]),
        fields=row[8],
        envelope_extra=row[9],
        image_id=row[10],
        image_flag=row[11],
        origin=row[12],
    )


def alarm_state(raised: int | None, clear_failed: int | None, cleared: int | None) -> str:
    """The state of an alarm from the times of its reports: the latest report decides."""
    if cleared is not None and cleared >= (clear_failed if clear_failed is not None else -1):
        return "cleared"
    if clear_failed is not None and clear_failed >= (raised if raised is not None else -1):
        return "clear_failed"
    return "raised"


class SqlReads(Store):
    """The query side of both SQL backends; `SqlStore` supplies `_fetch` and the writes."""

    # How the dialect counts the bytes of a text value (SQLite 3.40 has no octet_length).
    OCTETS = "octet_length({})"
    dialect: ClassVar[Dialect]

    @abc.abstractmethod
    def _fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a read-only query (with `?` placeholders) on this thread's reader."""

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a read-only query of portable SQL (`?` placeholders): a primitive for the
        receiver's other parts (facepush.receiver.terminals) that keep their SQL in their
        own module."""
        return self._fetch(sql, params)

    def _scan(self, sql: str, params: Sequence[Any] = ()) -> Iterator[tuple[Any, ...]]:
        """The rows of a read-only query, read one at a time where the backend can, so that
        a caller that stops early does not read the rest."""
        return iter(self._fetch(sql, params))

    def _bytes(self, *columns: str) -> str:
        """SQL for the bytes of stored text in `columns` (NULL counts 0), plus the overhead."""
        parts = [f"COALESCE({self.OCTETS.format(c)}, 0)" for c in columns]
        return " + ".join([str(ITEM_OVERHEAD), *parts])

    def event_page(
        self, flt: EventFilter, before_id: int | None, limit: int, max_bytes: int
    ) -> Page[EventRow]:
        # First the sizes (no text is read into this process), then the rows that fit.
        where, params = event_where(flt, before_id)
        size = self._bytes("key", "fields", "envelope_extra", "source", "image_flag")
        sql = f"SELECT id, {size} FROM events{where} ORDER BY id DESC LIMIT ?"
        ids: list[int] = []

        def sizes(rows: Iterator[tuple[Any, ...]]) -> Iterator[int]:
            for row_id, row_size in rows:
                ids.append(int(row_id))
                yield int(row_size)

        rows = self._scan(sql, [*params, limit + 1])
        try:
            taken, more = fit(sizes(rows), limit, max_bytes)
        finally:
            close = getattr(rows, "close", None)
            if close is not None:
                close()
        if not taken:
            return Page([], False)
        marks = ", ".join("?" * taken)
        found = self._fetch(
            f"SELECT {EVENT_COLUMNS} FROM events WHERE id IN ({marks}) ORDER BY id DESC",
            ids[:taken],
        )
        return Page([to_event(r) for r in found], more)

    def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """A read-only query (`?` placeholders) on the calling thread's own reader
        connection: a thread of its own (forwarding's) gets a connection of its own."""
        return self._fetch(sql, params)

    def events(self, flt: EventFilter, before_id: int | None, limit: int) -> list[EventRow]:
        where, params = event_where(flt, before_id)
        sql = f"SELECT {EVENT_COLUMNS} FROM events{where} ORDER BY id DESC LIMIT ?"
        return [to_event(r) for r in self._fetch(sql, [*params, limit])]

    def event(self, key: str) -> EventRow | None:
        rows = self._fetch(f"SELECT {EVENT_COLUMNS} FROM events WHERE key = ?", [key])
        return to_event(rows[0]) if rows else None

    def image(self, image_id: str) -> bytes | None:
        rows = self._fetch("SELECT bytes FROM images WHERE id = ?", [image_id])
        return bytes(rows[0][0]) if rows else None

    def stats(self) -> dict[str, int]:
        out = {name: int(value) for name, value in self._fetch("SELECT name, value FROM counters")}
        for name, table in (("devices", "devices"), ("images", "images")):
            out[name] = int(self._fetch(f"SELECT COUNT(*) FROM {table}")[0][0])
        out["quarantined"] = int(self._fetch("SELECT COUNT(*) FROM quarantine")[0][0])
        return out

    def devices(self, day: str | None = None) -> list[dict[str, Any]]:
        rows = self._fetch(_DEVICES_ALL, [day or days.today(self.zone)])
        return [dict(zip(_DEVICE_FIELDS, row, strict=True)) for row in rows]

    def device_page(
        self, offset: int, limit: int, max_bytes: int, day: str | None = None
    ) -> Page[dict[str, Any]]:
        size = self._bytes("serial", "last_source")
        rows = self._fetch(
            f"SELECT {size} FROM devices ORDER BY serial LIMIT ? OFFSET ?", [limit + 1, offset]
        )
        taken, more = fit((int(r[0]) for r in rows), limit, max_bytes)
        if not taken:
            return Page([], False)
        found = self._fetch(_DEVICES_PAGE, [day or days.today(self.zone), taken, offset])
        return Page([dict(zip(_DEVICE_FIELDS, row, strict=True)) for row in found], more)

    def alarms(self, limit: int) -> list[dict[str, Any]]:
        return self.alarm_page(0, limit, 2**62).items

    def alarm_page(self, offset: int, limit: int, max_bytes: int) -> Page[dict[str, Any]]:
        # The sizes of the lifecycles first (no text is read into this process), then the
        # lifecycles that fit; what their raising reports add may end the page sooner.
        size = self._bytes("trace_id", "source", "device")
        sizes = self._fetch(_ALARMS.format(columns=size), [limit + 1, offset])
        taken, more = fit((int(r[0]) for r in sizes), limit, max_bytes)
        if not taken:
            return Page([], False)
        lifecycle = self._fetch(_ALARMS.format(columns=_LIFECYCLE), [taken, offset])
        items, item_sizes = self._alarm_items(lifecycle)
        kept, cut = fit(item_sizes, len(items), max_bytes)
        return Page(items[:kept], more or cut)

    def _alarm_items(
        self, lifecycle: list[tuple[Any, ...]]
    ) -> tuple[list[dict[str, Any]], list[int]]:
        """The items of `lifecycle` rows, and the bytes of text each has."""
        out = []
        for trace, source, device, raised, failed, cleared, code, reports, last_at in lifecycle:
            out.append(
                {
                    "trace_id": trace,
                    "state": alarm_state(raised, failed, cleared),
                    "code": code,
                    "raised_at": raised,
                    "clear_failed_at": failed,
                    "cleared_at": cleared,
                    "reports": int(reports),
                    "last_at": last_at,
                    "source": source,
                    "device": device,
                }
            )
        raising = self._raising_reports(sorted({a["trace_id"] for a in out}))
        sizes = []
        for item in out:
            scope = (item["trace_id"], item["source"], item["device"])
            report, report_size = raising.get(scope, (_NO_REPORT, 0))
            item.update(report)
            text = sum(len((item[k] or "").encode()) for k in ("trace_id", "source", "device"))
            sizes.append(ITEM_OVERHEAD + text + report_size)
        return out, sizes

    def _raising_reports(
        self, traces: list[str]
    ) -> dict[tuple[Any, ...], tuple[dict[str, Any], int]]:
        """What each alarm's raising report (status 1; the earliest if several) said, by
        (trace_id, source, device): its description, user and photo; and the bytes of that
        text."""
        if not traces:
            return {}
        marks = ", ".join("?" * len(traces))
        size = " + ".join(f"COALESCE({self.OCTETS.format(c)}, 0)" for c in _REPORT_COLUMNS)
        small = f"{size} <= {RAISING_REPORT_BYTES}"
        shown = ", ".join(f"CASE WHEN {small} THEN {c} END" for c in _REPORT_COLUMNS)
        rows = self._fetch(
            f"SELECT trace_id, source, device, {shown}, image_id, "
            f"CASE WHEN {small} THEN {size} ELSE 0 END "
            f"FROM events WHERE type = 1 AND status = 1 AND trace_id IN ({marks}) "
            "ORDER BY occurred_at DESC, id DESC",
            traces,
        )
        out: dict[tuple[Any, ...], tuple[dict[str, Any], int]] = {}
        for trace, source, device, user_id, fields, image_id, size_of in rows:  # earliest last
            description = _json.decode(fields).get("description") if fields else None
            report = {
                "description": description if isinstance(description, str) else None,
                "user_id": user_id,
                "image_url": image_url(image_id),
            }
            out[(trace, source, device)] = (report, int(size_of))
        return out

    def quarantine(self, before_id: int | None, limit: int) -> list[QuarantineRow]:
        where = " WHERE id < ?" if before_id is not None else ""
        params: list[Any] = [before_id] if before_id is not None else []
        rows = self._fetch(
            "SELECT id, received_at, source, reason, error, body, size, sha256, truncated "
            f"FROM quarantine{where} ORDER BY id DESC LIMIT ?",
            [*params, limit],
        )
        return [
            QuarantineRow(
                id=int(r[0]),
                received_at=int(r[1]),
                source=r[2],
                reason=r[3],
                error=r[4],
                prefix=bytes(r[5]),
                size=int(r[6]) if r[6] is not None else len(r[5]),
                sha256=r[7],
                truncated=bool(r[8]),
            )
            for r in rows
        ]

    def attendance(self, query: AttendanceQuery) -> list[AttendanceDay]:
        return attendance_sql.attendance(self._fetch, query)

    def directions(self) -> dict[str, Direction]:
        rows = self._fetch("SELECT serial, direction FROM device_directions")
        return {serial: d for serial, d in rows if d in DIRECTIONS}

    def schema_version(self) -> int:
        rows = self._fetch("SELECT MAX(version) FROM schema_migrations")
        return int(rows[0][0] or 0)

    def ping(self) -> None:
        # A read of a real table: on SQLite `SELECT 1` never touches the database file.
        self._fetch("SELECT MAX(version) FROM schema_migrations")
