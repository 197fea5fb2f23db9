"""The quarantine: what the receiver keeps of a push it refused, bounded.

A refused body is kept as its first `QuarantineLimits.prefix` bytes (4 KiB), with the size
and sha256 of all of it, the reason and the error; the table holds at most `max_rows` rows
and `max_bytes` of prefixes and errors, the oldest dropped first and counted
(`quarantine_dropped` in /api/stats). Pushes with a missing or wrong signature are not kept
at all, only counted (`facepush_receiver_signature_failures_total{reason}`): with
`--signing-secret` they are not from a terminal of this site.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Sequence
from typing import Any

from facepush.receiver.store import QuarantineLimits, QuarantineRow, Refused

MAX_ERROR = 1024  # characters of the error kept (a path can name a long pushed key)

QUARANTINE_INSERT = (
    "INSERT INTO quarantine (received_at, source, reason, error, body, size, sha256, "
    "truncated, kept) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_COUNTER_UPDATE = "UPDATE counters SET value = value + ? WHERE name = ?"

Query = Callable[[str, list[Any]], list[tuple[Any, ...]]]


def refused(
    body: bytes,
    *,
    reason: str,
    error: str,
    received_at: int,
    source: str | None,
    prefix: int,
    truncated_at: int | None = None,
) -> Refused:
    """The quarantine row of a refused `body` (hashes it: for a large body, call this off
    the event loop; hashlib releases the GIL). `truncated_at`: the body was not read to its
    end (larger than --max-body), `body` is its start and `truncated_at` its size; then
    there is no sha256."""
    text = error.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\0")
    if len(text) > MAX_ERROR:
        text = text[: MAX_ERROR - 1] + "…"
    return Refused(
        received_at=received_at,
        source=source,
        reason=reason,
        error=text,
        prefix=body[:prefix],
        size=len(body) if truncated_at is None else truncated_at,
        sha256=hashlib.sha256(body).hexdigest() if truncated_at is None else None,
        truncated=truncated_at is not None,
    )


def values(rows: Sequence[Refused]) -> list[tuple[Any, ...]]:
    """Parameters of QUARANTINE_INSERT, one tuple per row."""
    return [
        (
            r.received_at,
            r.source,
            r.reason,
            r.error,
            r.prefix,
            r.size,
            r.sha256,
            r.truncated,
            r.kept,
        )
        for r in rows
    ]


def trim(query: Query, limits: QuarantineLimits) -> int:
    """Drop the oldest rows until the table is within `limits`, in the caller's
    transaction; counts them in `quarantine_dropped` and returns how many went. The rows
    gone are counted from what the DELETE returns, not from a row count: a PostgreSQL
    ingest runs in pipeline mode, where a row count is not known until the commit."""
    cutoff = _excess(query, limits)
    if cutoff is None:
        return 0
    dropped = len(query("DELETE FROM quarantine WHERE id <= ? RETURNING id", [cutoff]))
    if dropped:
        query(_COUNTER_UPDATE + " RETURNING value", [dropped, "quarantine_dropped"])
    return dropped


def _excess(query: Query, limits: QuarantineLimits) -> int | None:
    """The id up to which the oldest rows must go, or None when the table is within limits."""
    count, kept = query("SELECT COUNT(*), COALESCE(SUM(kept), 0) FROM quarantine", [])[0]
    rows_over, bytes_over = int(count) - limits.max_rows, int(kept) - limits.max_bytes
    cutoff: int | None = None
    after = -1
    while rows_over > 0 or bytes_over > 0:
        page = query("SELECT id, kept FROM quarantine WHERE id > ? ORDER BY id LIMIT 1000", [after])
        if not page:
            break
        for row_id, row_kept in page:
            if rows_over <= 0 and bytes_over <= 0:
                break
            cutoff = after = int(row_id)
            rows_over -= 1
            bytes_over -= int(row_kept or 0)
    return cutoff


def item(row: QuarantineRow) -> dict[str, Any]:
    """One item of `GET /api/quarantine`."""
    return {
        "id": row.id,
        "received_at": row.received_at,
        "source": row.source,
        "reason": row.reason,
        "error": row.error,
        "size": row.size,
        "sha256": row.sha256,
        "truncated": row.truncated,
        "prefix_base64": base64.b64encode(row.prefix).decode(),
    }
