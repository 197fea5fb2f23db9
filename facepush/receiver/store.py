"""The storage interface: one small abstract class, two backends (SQLite, PostgreSQL),
and `open_store(url)`, which picks the backend for a `--db` URL.

Every method is synchronous and thread-safe: the app runs `ingest` and `purge_images` on one
writer thread (so writes are serialised and group-committed) and queries on a small pool of
reader threads. A backend raises StoreUnavailable when the database cannot be used, never a
driver exception.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import msgspec

from facepush.errors import ReceiverConfigError
from facepush.files import private_dir, private_file

if TYPE_CHECKING:
    from facepush.receiver.attendance import AttendanceDay, AttendanceQuery, Direction

T = TypeVar("T")


class StoreOutcome(enum.Enum):
    """What the store did with one item of an ingest."""

    STORED = "stored"
    DUPLICATE = "duplicate"  # the key was already stored: acknowledged, not stored again
    # The key was already stored with other content: acknowledged (the terminal must not
    # retry forever), not stored again, and to be kept in the quarantine by the caller.
    CONFLICT = "conflict"
    QUARANTINED = "quarantined"  # a refused push, kept with a prefix of its body


class Incoming(msgspec.Struct, frozen=True, kw_only=True):
    """One decoded push, ready to store, made once (records.incoming). `fields` is the
    pushed `data` object as JSON text, unknown fields kept, the base64 image removed (it is
    stored once in the images table); `envelope_extra` the envelope's unknown fields."""

    key: str
    type: int
    device: str | None
    source: str | None
    occurred_at: int | None
    received_at: int
    late: bool
    user_id: str | None
    passed: bool | None
    trace_id: str | None
    status: int | None
    code: int | None
    fields: str
    envelope_extra: str | None = None
    image_id: str | None = None
    image: bytes | None = None
    image_flag: str | None = None
    # Who a recognition matched (recognitionType, or user.type) and the name: attendance.
    user_kind: int | None = None
    user_name: str | None = None
    # A digest of what was pushed (fields, envelope extras, image): a repeat of the key with
    # another digest is a CONFLICT, not a plain duplicate.
    digest: str | None = None
    # How it came: "push" (the push endpoint) or "history" (a terminal's history, read by
    # the reconciliation of managed terminals).
    origin: str = "push"


@dataclass(slots=True)
class Refused:
    """A push the receiver refused (or a conflicting duplicate), kept in the quarantine
    table: why, and the first bytes of its body with the size and sha256 of all of it."""

    received_at: int
    source: str | None
    reason: str  # bad_request, too_large, rejected, conflict
    error: str
    prefix: bytes  # at most QUARANTINE_PREFIX bytes
    size: int  # bytes of the body (as declared, when it was not read to its end)
    sha256: str | None  # of the whole body; None when it was not read to its end
    truncated: bool = False  # the body was larger than --max-body and not read to its end

    @property
    def kept(self) -> int:
        """Bytes this row holds, for the quarantine's byte cap."""
        return len(self.prefix) + len(self.error.encode())


Item = Incoming | Refused


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Filters of /api/events and /api/export.csv; None means no filter."""

    type: int | None = None
    device: str | None = None
    user_id: str | None = None
    passed: bool | None = None
    since: int | None = None  # occurred_at >= since (ms)
    until: int | None = None  # occurred_at <= until (ms)
    origin: str | None = None  # "push" or "history"


@dataclass(frozen=True, slots=True)
class EventRow:
    """A stored event as read back; `id` is its position in the order of receipt."""

    id: int
    key: str
    type: int
    device: str | None
    source: str | None
    occurred_at: int | None
    received_at: int
    late: bool
    fields: str  # JSON text, as stored (see Incoming)
    envelope_extra: str | None
    image_id: str | None
    image_flag: str | None
    origin: str = "push"


@dataclass(frozen=True, slots=True)
class QuarantineRow:
    id: int
    received_at: int
    source: str | None
    reason: str | None  # None for rows kept before schema version 5
    error: str
    prefix: bytes
    size: int
    sha256: str | None  # None for rows kept before schema version 5
    truncated: bool


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list bounded by rows and by bytes; `more`: items beyond it exist."""

    items: list[T]
    more: bool


@dataclass(frozen=True, slots=True)
class QuarantineLimits:
    """How much of refused pushes the quarantine keeps: a prefix of each body, and at most
    `max_rows` rows and `max_bytes` of prefixes and errors (the oldest are dropped and
    counted as `quarantine_dropped`)."""

    prefix: int = 4096
    max_rows: int = 10_000
    max_bytes: int = 32 * 1024 * 1024


class Store(abc.ABC):
    """Durable storage of events, images and quarantined pushes."""

    url: str
    # The time zone of the local days the store counts records by (`devices()["today"]`);
    # None: the machine's. Given when the store is opened (open_store's `zone`).
    zone: tzinfo | None = None
    # Set by whoever runs the store (create_app from the receiver's settings).
    quarantine_limits: QuarantineLimits = QuarantineLimits()
    # Rows this store object dropped from the full quarantine (committed), for /metrics;
    # the database's total is `quarantine_dropped` in stats().
    quarantine_dropped: int = 0

    @abc.abstractmethod
    def migrate(self) -> int:
        """Bring the schema to the newest version; returns that version."""

    @abc.abstractmethod
    def schema_version(self) -> int: ...

    @abc.abstractmethod
    def ingest(self, batch: Sequence[Item]) -> list[StoreOutcome]:
        """Store a batch in ONE transaction, durably; one outcome per item, in order.

        A key already stored (or earlier in the same batch) is a DUPLICATE, or a CONFLICT
        when its digest differs from the stored one. Refused items go to the quarantine,
        which is then trimmed to `quarantine_limits`. Raises StoreUnavailable, and then
        nothing of the batch is stored.
        """

    @abc.abstractmethod
    def events(self, flt: EventFilter, before_id: int | None, limit: int) -> list[EventRow]:
        """Events matching `flt` with id < before_id, newest received first."""

    @abc.abstractmethod
    def event_page(
        self, flt: EventFilter, before_id: int | None, limit: int, max_bytes: int
    ) -> Page[EventRow]:
        """Like `events`, but the page also stops before the row that would take it above
        `max_bytes` of stored text (a row larger than that comes alone, whole)."""

    @abc.abstractmethod
    def event(self, key: str) -> EventRow | None: ...

    @abc.abstractmethod
    def image(self, image_id: str) -> bytes | None: ...

    @abc.abstractmethod
    def stats(self) -> dict[str, int]:
        """recognitions, alarms, duplicates, conflicts, devices, images, quarantined,
        quarantine_dropped."""

    @abc.abstractmethod
    def devices(self, day: str | None = None) -> list[dict[str, Any]]:
        """Per terminal serial: first_seen, last_seen, recognitions, alarms, late,
        last_late_at, last_source (times in ms of receipt), and `today`: the records received
        from it on `day` (a local date, `YYYY-MM-DD`; default today in the store's `zone`)."""

    @abc.abstractmethod
    def device_page(
        self, offset: int, limit: int, max_bytes: int, day: str | None = None
    ) -> Page[dict[str, Any]]:
        """`devices` in order of serial (a stable order to page through: a terminal seen
        for the first time while paging shifts the later pages by one, so that an item may
        repeat but none is skipped), from `offset`, bounded by `limit` and `max_bytes`."""

    @abc.abstractmethod
    def alarm_page(self, offset: int, limit: int, max_bytes: int) -> Page[dict[str, Any]]:
        """`alarms` from `offset` in their order, bounded by `limit` and `max_bytes`."""

    @abc.abstractmethod
    def alarms(self, limit: int) -> list[dict[str, Any]]:
        """Each alarm's lifecycle by trace_id within where it came from (its reports' sender
        address and deviceSN, so that another sender cannot clear it): raised_at,
        clear_failed_at, cleared_at (the event times of its reports), reports, code,
        last_at, source; open alarms first, with
        what its raising report (status 1) said: device, description, user_id, image_url
        (all None when no raising report is stored)."""

    @abc.abstractmethod
    def quarantine(self, before_id: int | None, limit: int) -> list[QuarantineRow]: ...

    @abc.abstractmethod
    def purge_images(self, older_than_ms: int, flag: str) -> int:
        """Delete images not used since `older_than_ms`; their events keep `image_flag=flag`
        and lose `image_id`. Returns how many images were deleted."""

    @abc.abstractmethod
    def attendance(self, query: AttendanceQuery) -> list[AttendanceDay]:
        """One item per person and attendance day of `query` (docs/attendance.md), ordered
        by day and user_id, computed by the database from the stored passages."""

    @abc.abstractmethod
    def directions(self) -> dict[str, Direction]:
        """The directions set through the API, by terminal serial."""

    @abc.abstractmethod
    def set_direction(self, serial: str, direction: Direction | None, at: int) -> bool:
        """Store (None: remove) the direction of a terminal that has pushed; False when no
        terminal with that serial is known."""

    @abc.abstractmethod
    def ping(self) -> None:
        """Raise StoreUnavailable unless the database answers."""

    @abc.abstractmethod
    def close(self) -> None: ...


def check_url(url: str) -> None:
    """Raise ReceiverConfigError saying what is wrong with a database URL (the settings
    name the option: `--db: ...`)."""
    if url.startswith("sqlite:"):
        from facepush.receiver.sqlite_store import path_of

        path_of(url)
    elif url.startswith(("postgresql:", "postgres:")):
        from facepush.receiver.pg_store import split_url

        split_url(url)
    else:
        raise ReceiverConfigError(
            f"expected sqlite:///PATH or postgresql://USER@HOST:PORT/DB, got {url!r}"
        )


def open_store(url: str, *, migrate: bool = True, zone: tzinfo | None = None) -> Store:
    """The store for `sqlite:///PATH` or `postgresql://...`, its schema brought up to date.
    `zone` is the time zone of its local days (per-day counts, `today`); None: the
    machine's. Each backend is imported only when its URL is given (psycopg alone takes
    a third of a second to import, and the backends import this module)."""
    check_url(url)
    store: Store
    if url.startswith("sqlite:"):
        from facepush.receiver.sqlite_store import SQLiteStore, path_of

        _private_database(path_of(url))
        store = SQLiteStore(url, zone=zone)
    else:
        from facepush.receiver.pg_store import PostgresStore

        store = PostgresStore(url, zone=zone)
    if migrate:
        try:
            store.migrate()
        except BaseException:
            store.close()
            raise
    return store


def _private_database(path: Path) -> None:
    """The database's directory (0700) and file (0600) made before SQLite opens it, so
    that the face images in it, and in its -wal and -shm files, are the service's own."""
    try:
        private_dir(path.parent)
        private_file(path)
    except OSError as exc:
        raise ReceiverConfigError(f"cannot create {path}: {exc.strerror or exc}") from None
