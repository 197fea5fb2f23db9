"""What the two SQL backends share: the queries (written with `?` placeholders; the
PostgreSQL backend translates them) and the conversion of rows to the interface's types."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Any

import msgspec

from facepush.receiver import days
from facepush.receiver.records import image_url
from facepush.receiver.store import (
    EventFilter,
    EventRow,
    Incoming,
    Item,
    Outcome,
    QuarantineRow,
    Refused,
    Store,
)

EVENT_COLUMNS = (
    "id, key, type, device, source, occurred_at, received_at, late, fields, envelope_extra, "
    "image_id, image_flag"
)

_ALARMS = """
SELECT trace_id, raised_at, clear_failed_at, cleared_at, code, reports, last_at, source
FROM (
    SELECT trace_id,
        MIN(CASE WHEN status = 1 THEN occurred_at END) AS raised_at,
        MAX(CASE WHEN status = 2 THEN occurred_at END) AS clear_failed_at,
        MAX(CASE WHEN status = 3 THEN occurred_at END) AS cleared_at,
        MAX(code) AS code,
        COUNT(*) AS reports,
        MAX(occurred_at) AS last_at,
        MAX(source) AS source
    FROM events WHERE type = 1 AND trace_id IS NOT NULL
    GROUP BY trace_id
) AS lifecycle
ORDER BY
    CASE WHEN cleared_at IS NOT NULL AND cleared_at >= COALESCE(clear_failed_at, -1)
         THEN 1 ELSE 0 END,
    last_at DESC, trace_id
LIMIT ?
"""


_NO_REPORT: dict[str, Any] = {
    "device": None,
    "description": None,
    "user_id": None,
    "image_url": None,
}
_json = msgspec.json.Decoder(dict[str, Any])

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
ORDER BY d.last_seen DESC, d.serial
"""


def event_where(flt: EventFilter, before_id: int | None) -> tuple[str, list[Any]]:
    """The WHERE clause (possibly empty) and its parameters for a filter and cursor."""
    clauses: list[str] = []
    params: list[Any] = []
    for column, value in (
        ("type", flt.type),
        ("device", flt.device),
        ("user_id", flt.user_id),
        ("pass", flt.passed),
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
    fields = row[8]
    extra = row[9]
    return EventRow(
        id=int(row[0]),
        key=row[1],
        type=int(row[2]),
        device=row[3],
        source=row[4],
        occurred_at=row[5],
        received_at=int(row[6]),
        late=bool(row[7]),
        fields=fields.encode() if isinstance(fields, str) else bytes(fields),
        envelope_extra=extra.encode() if isinstance(extra, str) else extra,
        image_id=row[10],
        image_flag=row[11],
    )


def alarm_state(raised: int | None, clear_failed: int | None, cleared: int | None) -> str:
    """The state of an alarm from the times of its reports: the latest report decides."""
    if cleared is not None and cleared >= (clear_failed if clear_failed is not None else -1):
        return "cleared"
    if clear_failed is not None and clear_failed >= (raised if raised is not None else -1):
        return "clear_failed"
    return "raised"


class SqlStore(Store):
    """The query side of both SQL backends; subclasses supply `_fetch` and the writes."""

    @abc.abstractmethod
    def _fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a read-only query (with `?` placeholders) on this thread's reader."""

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
        rows = self._fetch(_DEVICES, [day or days.today()])
        return [dict(zip(_DEVICE_FIELDS, row, strict=True)) for row in rows]

    def alarms(self, limit: int) -> list[dict[str, Any]]:
        out = []
        for trace, raised, failed, cleared, code, reports, last_at, source in self._fetch(
            _ALARMS, [limit]
        ):
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
                }
            )
        raising = self._raising_reports([a["trace_id"] for a in out])
        for item in out:
            item.update(raising.get(item["trace_id"], _NO_REPORT))
        return out

    def _raising_reports(self, traces: list[str]) -> dict[str, dict[str, Any]]:
        """What each alarm's raising report (status 1; the earliest if several) said: its
        terminal, description, user and photo."""
        if not traces:
            return {}
        marks = ", ".join("?" * len(traces))
        rows = self._fetch(
            "SELECT trace_id, device, user_id, fields, image_id FROM events "
            f"WHERE type = 1 AND status = 1 AND trace_id IN ({marks}) "
            "ORDER BY occurred_at DESC, id DESC",
            traces,
        )
        out: dict[str, dict[str, Any]] = {}
        for trace, device, user_id, fields, image_id in rows:  # the earliest comes last
            description = _json.decode(fields).get("description")
            out[trace] = {
                "device": device,
                "description": description if isinstance(description, str) else None,
                "user_id": user_id,
                "image_url": image_url(image_id),
            }
        return out

    def quarantine(self, before_id: int | None, limit: int) -> list[QuarantineRow]:
        where = " WHERE id < ?" if before_id is not None else ""
        params: list[Any] = [before_id] if before_id is not None else []
        rows = self._fetch(
            "SELECT id, received_at, source, error, body, truncated FROM quarantine"
            f"{where} ORDER BY id DESC LIMIT ?",
            [*params, limit],
        )
        return [
            QuarantineRow(int(r[0]), int(r[1]), r[2], r[3], bytes(r[4]), bool(r[5])) for r in rows
        ]

    def schema_version(self) -> int:
        rows = self._fetch("SELECT MAX(version) FROM schema_migrations")
        return int(rows[0][0] or 0)

    def ping(self) -> None:
        # A read of a real table: on SQLite `SELECT 1` never touches the database file.
        self._fetch("SELECT MAX(version) FROM schema_migrations")


DEVICE_UPSERT = """
INSERT INTO devices (serial, first_seen, last_seen, recognitions, alarms, late, last_late_at,
    last_source)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (serial) DO UPDATE SET
    first_seen = CASE WHEN excluded.first_seen < devices.first_seen
        THEN excluded.first_seen ELSE devices.first_seen END,
    last_seen = CASE WHEN excluded.last_seen > devices.last_seen
        THEN excluded.last_seen ELSE devices.last_seen END,
    recognitions = devices.recognitions + excluded.recognitions,
    alarms = devices.alarms + excluded.alarms,
    late = devices.late + excluded.late,
    last_late_at = CASE WHEN excluded.last_late_at IS NULL THEN devices.last_late_at
        WHEN devices.last_late_at IS NULL OR excluded.last_late_at > devices.last_late_at
        THEN excluded.last_late_at ELSE devices.last_late_at END,
    last_source = COALESCE(excluded.last_source, devices.last_source)
"""

EVENT_INSERT_COLUMNS = (
    "key, type, device, source, occurred_at, received_at, late, user_id, pass, trace_id, "
    "status, code, fields, envelope_extra, image_id, image_flag"
)

DEVICE_DAY_UPSERT = """
INSERT INTO device_days (serial, day, records) VALUES (?, ?, ?)
ON CONFLICT (serial, day) DO UPDATE SET records = device_days.records + excluded.records
"""

COUNTER_UPDATE = "UPDATE counters SET value = value + ? WHERE name = ?"


def first_occurrences(batch: Sequence[Item]) -> dict[str, int]:
    """Each key of the batch's events and the index of its first occurrence: a later
    occurrence of the same key is a duplicate of the first."""
    first: dict[str, int] = {}
    for index, item in enumerate(batch):
        if isinstance(item, Incoming) and item.key not in first:
            first[item.key] = index
    return first


def batch_outcomes(
    batch: Sequence[Item], first: dict[str, int], inserted: set[str]
) -> tuple[list[Outcome], list[Incoming]]:
    """The outcome of each item, and the events stored, in batch order."""
    outcomes: list[Outcome] = []
    stored: list[Incoming] = []
    for index, item in enumerate(batch):
        if isinstance(item, Refused):
            outcomes.append(Outcome.QUARANTINED)
        elif item.key in inserted and first[item.key] == index:
            stored.append(item)
            outcomes.append(Outcome.STORED)
        else:
            outcomes.append(Outcome.DUPLICATE)
    return outcomes, stored


def image_rows(stored: Sequence[Incoming]) -> list[tuple[Any, ...]]:
    """(id, bytes, size, created_at, last_used_at) per distinct image, sorted by id."""
    images: dict[str, Incoming] = {}
    for item in stored:
        if item.image_id is not None and item.image is not None:
            images.setdefault(item.image_id, item)
    rows = []
    for image_id in sorted(images):
        item = images[image_id]
        raw = item.image or b""
        rows.append((image_id, raw, len(raw), item.received_at, item.received_at))
    return rows


def device_rows(stored: Sequence[Incoming]) -> list[tuple[Any, ...]]:
    """One devices upsert row per terminal serial of a batch, sorted by serial (so that
    concurrent writers lock the rows in the same order and cannot deadlock)."""
    acc: dict[str, list[Any]] = {}
    for item in stored:
        if item.device is None:
            continue
        row = acc.get(item.device)
        if row is None:
            row = acc[item.device] = [item.device, item.received_at, item.received_at, 0, 0, 0]
            row += [None, item.source]
        row[1] = min(row[1], item.received_at)
        row[2] = max(row[2], item.received_at)
        row[3 if item.type == 0 else 4] += 1
        if item.late:
            row[5] += 1
            row[6] = item.received_at if row[6] is None else max(row[6], item.received_at)
        row[7] = item.source or row[7]
    return [tuple(acc[serial]) for serial in sorted(acc)]


def device_day_rows(stored: Sequence[Incoming]) -> list[tuple[str, str, int]]:
    """(serial, local day of receipt, records) per terminal and day of a batch, sorted (the
    same lock order in every writer)."""
    day_of = days.DayCache()
    counts: dict[tuple[str, str], int] = {}
    for item in stored:
        if item.device is not None:
            key = (item.device, day_of(item.received_at))
            counts[key] = counts.get(key, 0) + 1
    return [(serial, day, n) for (serial, day), n in sorted(counts.items())]


def counter_rows(stored: Sequence[Incoming], duplicates: int) -> list[tuple[int, str]]:
    alarms = sum(1 for item in stored if item.type == 1)
    pairs = [(len(stored) - alarms, "recognitions"), (alarms, "alarms"), (duplicates, "duplicates")]
    return [(n, name) for n, name in pairs if n]


def event_values(item: Incoming) -> tuple[Any, ...]:
    return (
        item.key,
        item.type,
        item.device,
        item.source,
        item.occurred_at,
        item.received_at,
        item.late,
        item.user_id,
        item.passed,
        item.trace_id,
        item.status,
        item.code,
        item.fields.decode(),
        item.envelope_extra.decode() if item.envelope_extra is not None else None,
        item.image_id,
        item.image_flag,
    )
