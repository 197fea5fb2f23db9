"""What one group commit writes, shared by the two SQL backends: the statements (with `?`
placeholders; the PostgreSQL backend translates them) and the rows of a batch, each list
sorted so that concurrent writers lock rows in the same order."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import tzinfo
from typing import Any

from facepush.receiver import days
from facepush.receiver.store import Incoming, Item, Refused, StoreOutcome

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
    "status, code, fields, envelope_extra, image_id, image_flag, user_kind, user_name, digest, "
    "origin"
)
EVENT_INSERT_WIDTH = 20


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
    batch: Sequence[Item],
    first: dict[str, int],
    inserted: set[str],
    digests: Callable[[list[str]], dict[str, str | None]],
) -> tuple[list[StoreOutcome], list[Incoming]]:
    """The outcome of each item, and the events stored, in batch order. `digests` reads the
    stored digest of keys (called only when the batch holds repeats)."""
    outcomes: list[StoreOutcome] = []
    stored: list[Incoming] = []
    repeats: list[int] = []
    for index, item in enumerate(batch):
        if isinstance(item, Refused):
            outcomes.append(StoreOutcome.QUARANTINED)
        elif item.key in inserted and first[item.key] == index:
            stored.append(item)
            outcomes.append(StoreOutcome.STORED)
        else:
            outcomes.append(StoreOutcome.DUPLICATE)
            repeats.append(index)
    if repeats:
        keys = sorted({_incoming(batch[i]).key for i in repeats})
        known = {}
        for start in range(0, len(keys), _KEYS_PER_QUERY):
            known.update(digests(keys[start : start + _KEYS_PER_QUERY]))
        for index in repeats:
            item = _incoming(batch[index])
            stored_digest = known.get(item.key)
            # No digest (a row from before schema 5, or one read from history): the content
            # cannot be compared.
            if None not in (stored_digest, item.digest) and item.digest != stored_digest:
                outcomes[index] = StoreOutcome.CONFLICT
    return outcomes, stored


_KEYS_PER_QUERY = 500


def digest_query(count: int) -> str:
    return f"SELECT key, digest FROM events WHERE key IN ({', '.join('?' * count)})"


def _incoming(item: Item) -> Incoming:
    assert isinstance(item, Incoming)
    return item


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


def device_day_rows(stored: Sequence[Incoming], zone: tzinfo | None) -> list[tuple[str, str, int]]:
    """(serial, day of receipt in `zone`, records) per terminal and day of a batch, sorted
    (the same lock order in every writer)."""
    day_of = days.DayCache(zone)
    counts: dict[tuple[str, str], int] = {}
    for item in stored:
        if item.device is not None:
            key = (item.device, day_of(item.received_at))
            counts[key] = counts.get(key, 0) + 1
    return [(serial, day, n) for (serial, day), n in sorted(counts.items())]


def counter_rows(
    stored: Sequence[Incoming], outcomes: Sequence[StoreOutcome], batch: Sequence[Item]
) -> list[tuple[int, str]]:
    alarms = sum(1 for item in stored if item.type == 1)
    # A conflict is a duplicate too; `conflicts` counts those kept in the quarantine. Only
    # pushes count: a history record read again by reconciliation is not a push.
    duplicates = sum(
        1
        for item, o in zip(batch, outcomes, strict=True)
        if (o is StoreOutcome.DUPLICATE or o is StoreOutcome.CONFLICT)
        and isinstance(item, Incoming)
        and item.origin == "push"
    )
    conflicts = sum(1 for i in batch if isinstance(i, Refused) and i.reason == "conflict")
    pairs = [
        (len(stored) - alarms, "recognitions"),
        (alarms, "alarms"),
        (duplicates, "duplicates"),
        (conflicts, "conflicts"),
    ]
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
        item.fields,
        item.envelope_extra,
        item.image_id,
        item.image_flag,
        item.user_kind,
        item.user_name,
        item.digest,
        item.origin,
    )
