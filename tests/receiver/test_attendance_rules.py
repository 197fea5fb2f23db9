"""The attendance rules one by one, each with a hand-written expected table, checked on the
plain-Python reference AND on the store's SQL (SQLite and PostgreSQL), in zones that are
neither the machine's nor UTC: Europe/Berlin (daylight saving) and Asia/Kolkata (+05:30).

Times in the tables are local wall times in the test's zone."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from facepush.protocol import decode_push
from facepush.receiver import Store
from facepush.receiver.attendance import AttendanceQuery, AttendanceSettings, DateRange
from facepush.receiver.attendance.rules import (
    Direction,
    Passage,
    day_bounds,
    day_of,
    reference,
)
from facepush.receiver.errors import BadQuery, ReceiverConfigError
from facepush.receiver.records import incoming
from facepush.receiver.settings import ReceiverSettings
from facepush.settings import load
from tests.support.records import body, recognition

BERLIN = ZoneInfo("Europe/Berlin")
KOLKATA = ZoneInfo("Asia/Kolkata")
HOUR = 3_600_000
_uids = itertools.count()


@dataclass
class P:
    """One stored recognition: local time, who, where, and how the terminal judged it."""

    at: str  # "2024-03-04 08:00:00" local
    user: str | None = "7"
    device: str = "GATE-1"
    passed: bool = True
    kind: int | None = 1  # recognitionType
    name: str | None = "Anna"
    user_type: int | None = 1
    received: str | None = None  # local receipt time (default: the record's own time)
    fold: int = 0  # 1: the second occurrence of a wall time repeated by a DST change


def ms(local: str, zone: ZoneInfo, fold: int = 0) -> int:
    when = datetime.fromisoformat(local).replace(tzinfo=zone, fold=fold)
    return int(when.timestamp() * 1000)


def local(value: int | None, zone: ZoneInfo) -> str | None:
    if value is None:
        return None
    return datetime.fromtimestamp(value / 1000, tz=zone).strftime("%Y-%m-%d %H:%M:%S")


def push_of(p: P, at_ms: int) -> dict[str, Any]:
    record = recognition(
        f"att-{next(_uids)}",
        device=p.device,
        user_id=p.user or "",
        passed=p.passed,
        timestamp=at_ms,  # ms: above 10**12, read as ms (ruling 5)
        user={"name": p.name, "user_id": p.user, "type": p.user_type, "groups": []},
    )
    if p.kind is None:
        del record["data"]["recognitionType"]
    else:
        record["data"]["recognitionType"] = p.kind
    return record


class Site:
    """A store and every passage stored in it, as the reference needs them all."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.stored: list[tuple[P, int]] = []


@pytest.fixture
def site(store: Store) -> Site:
    return Site(store)


def compute(
    site: Site,
    passages: list[P],
    zone: ZoneInfo,
    first: str,
    last: str | None = None,
    settings: AttendanceSettings | None = None,
    directions: dict[str, Direction] | None = None,
    user_id: str | None = None,
    device: str | None = None,
) -> list[tuple[Any, ...]]:
    """Store the passages, compute attendance with the SQL and with the reference, require
    both to agree, and return the table in local times."""
    settings = settings or AttendanceSettings(debounce=60)
    directions = directions or {}
    dates = DateRange.parse(first, last or first)
    store = site.store
    times = [(p, ms(p.at, zone, p.fold)) for p in passages]
    site.stored += times
    items = []
    for p, at in times:
        received = ms(p.received, zone) if p.received else at
        items.append(
            incoming(
                decode_push(body(push_of(p, at))),
                source=None,
                received_at=received,
                late_after_ms=300_000,
            )
        )
    store.ingest(items)
    query = AttendanceQuery(
        dates,
        settings.start,
        zone,
        settings.debounce_ms,
        directions,
        user_id=user_id,
        device=device,
    )
    from_sql = store.attendance(query)
    eligible = [
        Passage(
            at, p.user, p.device, p.name, p.passed, p.kind if p.kind is not None else p.user_type, i
        )
        for i, (p, at) in enumerate(site.stored)
        if (user_id is None or p.user == user_id) and (device is None or p.device == device)
    ]
    from_reference = reference(eligible, dates, settings, zone, directions)
    assert from_sql == from_reference
    return [
        (
            d.day,
            d.user_id,
            d.name,
            local(d.first_in, zone),
            local(d.last_out, zone),
            d.passages,
            d.devices,
            d.open,
        )
        for d in from_sql
    ]


def test_only_passed_recognitions_of_known_users_count(site: Site) -> None:
    passages = [
        P("2024-03-04 08:00:00", user="1", name="employee"),
        P("2024-03-04 08:01:00", user="2", name="visitor", kind=2, user_type=2),
        P("2024-03-04 08:02:00", user="3", passed=False, name="denied"),
        P("2024-03-04 08:03:00", user="4", kind=5, user_type=5, name="blacklist"),
        P("2024-03-04 08:04:00", user="5", kind=3, user_type=None, name="stranger"),
        P("2024-03-04 08:05:00", user="", name="no user id"),
        P("2024-03-04 08:06:00", user="6", kind=None, user_type=1, name="old firmware"),
        P("2024-03-04 08:07:00", user="7", kind=0, user_type=None, name="unknown face"),
    ]
    assert compute(site, passages, BERLIN, "2024-03-04") == [
        ("2024-03-04", "1", "employee", "2024-03-04 08:00:00", None, 1, ("GATE-1",), True),
        ("2024-03-04", "2", "visitor", "2024-03-04 08:01:00", None, 1, ("GATE-1",), True),
        ("2024-03-04", "6", "old firmware", "2024-03-04 08:06:00", None, 1, ("GATE-1",), True),
    ]


def test_both_terminals_first_is_in_last_is_out(site: Site) -> None:
    passages = [
        P("2024-03-04 08:02:00"),
        P("2024-03-04 12:01:00"),
        P("2024-03-04 12:47:00"),
        P("2024-03-04 17:30:00"),
        P("2024-03-04 09:00:00", user="8", name="Omar"),  # only one passage: still in
    ]
    assert compute(site, passages, BERLIN, "2024-03-04") == [
        (
            "2024-03-04",
            "7",
            "Anna",
            "2024-03-04 08:02:00",
            "2024-03-04 17:30:00",
            4,
            ("GATE-1",),
            False,
        ),
        ("2024-03-04", "8", "Omar", "2024-03-04 09:00:00", None, 1, ("GATE-1",), True),
    ]


def test_in_and_out_terminals(site: Site) -> None:
    directions: dict[str, Direction] = {"IN-1": "in", "OUT-1": "out"}
    passages = [
        # Anna: in, lunch out and back in, out: closed.
        P("2024-03-04 07:55:00", device="IN-1"),
        P("2024-03-04 12:00:00", device="OUT-1"),
        P("2024-03-04 12:40:00", device="IN-1"),
        P("2024-03-04 17:05:00", device="OUT-1"),
        # Omar forgets to badge out after lunch: his last passage is an in.
        P("2024-03-04 08:10:00", user="8", name="Omar", device="IN-1"),
        P("2024-03-04 12:05:00", user="8", name="Omar", device="OUT-1"),
        P("2024-03-04 12:50:00", user="8", name="Omar", device="IN-1"),
        # Lena only leaves (came in yesterday): no first in, not open.
        P("2024-03-04 06:00:00", user="9", name="Lena", device="OUT-1"),
        # Ines: an out before her first in does not count as her last out.
        P("2024-03-04 07:00:00", user="10", name="Ines", device="OUT-1"),
        P("2024-03-04 07:30:00", user="10", name="Ines", device="IN-1"),
    ]
    assert compute(site, passages, BERLIN, "2024-03-04", directions=directions) == [
        ("2024-03-04", "10", "Ines", "2024-03-04 07:30:00", None, 2, ("IN-1", "OUT-1"), True),
        (
            "2024-03-04",
            "7",
            "Anna",
            "2024-03-04 07:55:00",
            "2024-03-04 17:05:00",
            4,
            ("IN-1", "OUT-1"),
            False,
        ),
        (
            "2024-03-04",
            "8",
            "Omar",
            "2024-03-04 08:10:00",
            "2024-03-04 12:05:00",
            3,
            ("IN-1", "OUT-1"),
            True,
        ),
        ("2024-03-04", "9", "Lena", None, "2024-03-04 06:00:00", 1, ("OUT-1",), False),
    ]


def test_mixed_terminals(site: Site) -> None:
    # A both-terminal at the lobby, an in-gate at the car park.
    directions: dict[str, Direction] = {"CARPARK": "in"}
    passages = [
        P("2024-03-04 08:00:00", device="LOBBY"),  # first passage at a both terminal: in
        P("2024-03-04 12:00:00", device="LOBBY"),  # later at a both terminal: out
        P("2024-03-04 13:00:00", device="CARPARK"),  # back in, never out again: open
    ]
    assert compute(site, passages, BERLIN, "2024-03-04", directions=directions) == [
        (
            "2024-03-04",
            "7",
            "Anna",
            "2024-03-04 08:00:00",
            "2024-03-04 12:00:00",
            3,
            ("CARPARK", "LOBBY"),
            True,
        ),
    ]


def test_debounce_is_measured_from_the_previous_raw_passage(site: Site) -> None:
    passages = [
        # Anna stands at the terminal: 08:00:00, +40 s, +80 s: each within 60 s of the one
        # before, so one passage, although 08:01:20 is 80 s after the counted one.
        P("2024-03-04 08:00:00"),
        P("2024-03-04 08:00:40"),
        P("2024-03-04 08:01:20"),
        # Exactly 60 s after the previous: still a repeat; 61 s: a new passage.
        P("2024-03-04 17:00:00"),
        P("2024-03-04 17:01:00"),
        P("2024-03-04 17:02:01"),
        # Omar at two terminals 10 s apart: two passages (repeats are per terminal).
        P("2024-03-04 09:00:00", user="8", name="Omar", device="GATE-1"),
        P("2024-03-04 09:00:10", user="8", name="Omar", device="GATE-2"),
        # A denied attempt does not start a repeat window: the pass 5 s later counts.
        P("2024-03-04 10:00:00", user="9", name="Lena", passed=False),
        P("2024-03-04 10:00:05", user="9", name="Lena"),
    ]
    assert compute(site, passages, BERLIN, "2024-03-04") == [
        (
            "2024-03-04",
            "7",
            "Anna",
            "2024-03-04 08:00:00",
            "2024-03-04 17:02:01",
            3,
            ("GATE-1",),
            False,
        ),
        (
            "2024-03-04",
            "8",
            "Omar",
            "2024-03-04 09:00:00",
            "2024-03-04 09:00:10",
            2,
            ("GATE-1", "GATE-2"),
            False,
        ),
        ("2024-03-04", "9", "Lena", "2024-03-04 10:00:05", None, 1, ("GATE-1",), True),
    ]


def test_debounce_zero_counts_every_passage_and_repeats_cross_the_range_start(site: Site) -> None:
    passages = [
        P("2024-03-04 23:59:30"),  # the day before the range
        P("2024-03-05 00:00:20"),  # a repeat of it (50 s): not a passage of the 5th
        P("2024-03-05 08:00:00"),
        P("2024-03-05 08:00:01"),
    ]
    assert compute(site, passages, BERLIN, "2024-03-05") == [
        ("2024-03-05", "7", "Anna", "2024-03-05 08:00:00", None, 1, ("GATE-1",), True),
    ]
    everything = compute(site, [], BERLIN, "2024-03-05", settings=AttendanceSettings(debounce=0))
    assert everything == [
        (
            "2024-03-05",
            "7",
            "Anna",
            "2024-03-05 00:00:20",
            "2024-03-05 08:00:01",
            3,
            ("GATE-1",),
            False,
        ),
    ]


def test_day_starts_shifts_the_day_and_keeps_a_night_shift_whole(site: Site) -> None:
    settings = AttendanceSettings(day_starts="04:00", debounce=60)
    passages = [
        P("2024-03-05 02:30:00"),  # before 04:00: the 4th
        P("2024-03-04 22:00:00", user="8", name="Omar"),  # night shift 22:00 to 03:40
        P("2024-03-05 03:40:00", user="8", name="Omar"),
        P("2024-03-05 04:00:00", user="9", name="Lena"),  # 04:00 sharp: the 5th
    ]
    assert compute(site, passages, BERLIN, "2024-03-04", "2024-03-05", settings=settings) == [
        ("2024-03-04", "7", "Anna", "2024-03-05 02:30:00", None, 1, ("GATE-1",), True),
        (
            "2024-03-04",
            "8",
            "Omar",
            "2024-03-04 22:00:00",
            "2024-03-05 03:40:00",
            2,
            ("GATE-1",),
            False,
        ),
        ("2024-03-05", "9", "Lena", "2024-03-05 04:00:00", None, 1, ("GATE-1",), True),
    ]
    assert day_of(ms("2024-03-05 02:30:00", BERLIN), time(4), BERLIN) == "2024-03-04"


def test_the_local_day_of_an_odd_offset_zone(site: Site) -> None:
    # 2024-03-04 20:00 UTC is 01:30 on the 5th in Kolkata (+05:30): the 5th there.
    passages = [P("2024-03-05 01:30:00"), P("2024-03-05 10:00:00")]
    assert compute(site, passages, KOLKATA, "2024-03-04", "2024-03-05") == [
        (
            "2024-03-05",
            "7",
            "Anna",
            "2024-03-05 01:30:00",
            "2024-03-05 10:00:00",
            2,
            ("GATE-1",),
            False,
        ),
    ]
    assert ms("2024-03-05 01:30:00", KOLKATA) == int(
        datetime(2024, 3, 4, 20, 0, tzinfo=ZoneInfo("UTC")).timestamp() * 1000
    )


def test_a_23_hour_day(site: Site) -> None:
    # Berlin, 2024-03-31: clocks go from 02:00 to 03:00.
    (day,) = day_bounds(date(2024, 3, 31), date(2024, 3, 31), time(0), BERLIN)
    assert day[2] - day[1] == 23 * HOUR
    passages = [P("2024-03-31 01:30:00"), P("2024-03-31 03:30:00")]  # one hour apart
    table = compute(site, passages, BERLIN, "2024-03-31")
    assert table == [
        (
            "2024-03-31",
            "7",
            "Anna",
            "2024-03-31 01:30:00",
            "2024-03-31 03:30:00",
            2,
            ("GATE-1",),
            False,
        ),
    ]
    # day_starts inside the skipped hour: read with the offset before the change.
    (late,) = day_bounds(date(2024, 3, 31), date(2024, 3, 31), time(2, 30), BERLIN)
    assert local(late[1], BERLIN) == "2024-03-31 03:30:00"
    assert late[2] - late[1] == 23 * HOUR


def test_a_25_hour_day(site: Site) -> None:
    # Berlin, 2024-10-27: clocks go back from 03:00 to 02:00; 02:30 happens twice.
    (day,) = day_bounds(date(2024, 10, 27), date(2024, 10, 27), time(0), BERLIN)
    assert day[2] - day[1] == 25 * HOUR
    passages = [
        P("2024-10-27 00:30:00"),
        P("2024-10-27 02:30:00", fold=1),  # the second 02:30 (winter time)
        P("2024-10-27 23:30:00"),
        P("2024-10-27 02:30:00", user="8", name="Omar"),  # the first 02:30 (summer time)
        P("2024-10-27 02:30:00", user="8", name="Omar", fold=1),
    ]
    assert compute(site, passages, BERLIN, "2024-10-27") == [
        (
            "2024-10-27",
            "7",
            "Anna",
            "2024-10-27 00:30:00",
            "2024-10-27 23:30:00",
            3,
            ("GATE-1",),
            False,
        ),
        (
            "2024-10-27",
            "8",
            "Omar",
            "2024-10-27 02:30:00",
            "2024-10-27 02:30:00",
            2,
            ("GATE-1",),
            False,
        ),
    ]
    # Anna's day spans 24 hours of wall clock but 25 real hours; Omar's two 02:30s are an
    # hour apart.
    assert ms("2024-10-27 23:30:00", BERLIN) - ms("2024-10-27 00:30:00", BERLIN) == 24 * HOUR
    assert ms("2024-10-27 02:30:00", BERLIN, 1) - ms("2024-10-27 02:30:00", BERLIN) == HOUR


def test_names_filters_and_late_records(site: Site) -> None:
    directions: dict[str, Direction] = {}
    passages = [
        P("2024-03-04 08:00:00", name="Anna Old", device="GATE-1"),
        # Received the next morning (a backlog): still the 4th, by its own time.
        P("2024-03-04 17:00:00", name="Anna New", device="GATE-2", received="2024-03-05 07:00:00"),
        P("2024-03-04 09:00:00", user="8", name="Omar", device="GATE-2"),
    ]
    assert compute(site, passages, BERLIN, "2024-03-04", directions=directions) == [
        (
            "2024-03-04",
            "7",
            "Anna New",
            "2024-03-04 08:00:00",
            "2024-03-04 17:00:00",
            2,
            ("GATE-1", "GATE-2"),
            False,
        ),
        ("2024-03-04", "8", "Omar", "2024-03-04 09:00:00", None, 1, ("GATE-2",), True),
    ]
    assert compute(site, [], BERLIN, "2024-03-04", user_id="8") == [
        ("2024-03-04", "8", "Omar", "2024-03-04 09:00:00", None, 1, ("GATE-2",), True),
    ]
    assert compute(site, [], BERLIN, "2024-03-04", device="GATE-1") == [
        ("2024-03-04", "7", "Anna Old", "2024-03-04 08:00:00", None, 1, ("GATE-1",), True),
    ]
    # A record that arrives after the day was asked for is counted when it is asked again.
    again = compute(
        site, [P("2024-03-04 18:00:00", user="8", name="Omar")], BERLIN, "2024-03-04", user_id="8"
    )
    assert again == [
        (
            "2024-03-04",
            "8",
            "Omar",
            "2024-03-04 09:00:00",
            "2024-03-04 18:00:00",
            2,
            ("GATE-1", "GATE-2"),
            False,
        ),
    ]


def test_the_name_is_the_days_latest_at_one_terminal_too(site: Site) -> None:
    passages = [
        P("2024-03-04 08:00:00", user="20", name="Old Name"),
        P("2024-03-04 12:00:00", user="20", name="New Name"),  # renamed during the day
        P("2024-03-04 12:00:30", user="20", name="Newest"),  # a repeat: still the latest
        P("2024-03-04 08:00:00", user="21", name="Named"),
        P("2024-03-04 09:00:00", user="21", name=None),  # the latest carries no name
    ]
    table = compute(site, passages, KOLKATA, "2024-03-04")
    assert [(row[1], row[2], row[5]) for row in table] == [("20", "Newest", 2), ("21", None, 2)]


def test_bad_ranges_and_settings_are_named() -> None:
    with pytest.raises(BadQuery, match="to: 2024-03-01 is before from"):
        DateRange.parse("2024-03-05", "2024-03-01")
    with pytest.raises(BadQuery, match="367 days; ask for at most 366"):
        DateRange.parse("2024-01-01", "2025-01-01")
    assert DateRange.parse("2024-01-01", "2024-12-31").last == date(2024, 12, 31)
    with pytest.raises(BadQuery, match="from: '2024-3-1' is not a date"):
        DateRange.parse("2024-3-1", None)
    with pytest.raises(BadQuery, match="to: '9999-12-31': give a year from 1970 to 9998"):
        DateRange.parse("2024-01-01", "9999-12-31")
    with pytest.raises(BadQuery, match="from: required"):
        DateRange.parse(None, None)
    # [attendance] is checked with the receiver's settings: in code, and from a file.
    for table, msg in (
        (AttendanceSettings(day_starts="4:00"), "attendance.day_starts: '4:00' is not HH:MM"),
        (AttendanceSettings(day_starts="24:00"), "attendance.day_starts: '24:00' is not HH:MM"),
        (AttendanceSettings(debounce=-1), "attendance.debounce: -1 must be from 0 to 86400"),
        (
            AttendanceSettings(direction={"GATE-1": "inside"}),
            "attendance.direction: 'GATE-1': 'inside' is not a direction",
        ),
    ):
        with pytest.raises(ReceiverConfigError) as info:
            ReceiverSettings(attendance=table)
        assert str(info.value).startswith(msg), info.value


@pytest.mark.parametrize(
    ("toml", "msg"),
    [
        ('day_starts = "4am"', "attendance.day_starts: '4am' is not HH:MM"),
        ("debounse = 60", "attendance: unknown key 'debounse' (did you mean 'debounce'?)"),
        ('debounce = "1m"', "attendance.debounce: expected a number, got a string"),
        (
            '[attendance.direction]\n"GATE-1" = "sideways"',
            "attendance.direction: 'GATE-1': 'sideways'",
        ),
    ],
)
def test_a_bad_attendance_table_is_named_with_its_file(tmp_path: Path, toml: str, msg: str) -> None:
    path = tmp_path / "receiver.toml"
    path.write_text(f"[attendance]\n{toml}\n")
    with pytest.raises(ReceiverConfigError) as info:
        load(ReceiverSettings, config=path, env={})
    assert str(info.value).startswith(f"{path}: {msg}"), info.value


def test_the_attendance_table_is_read_from_the_file(tmp_path: Path) -> None:
    path = tmp_path / "receiver.toml"
    path.write_text(
        'timezone = "Europe/Berlin"\n[attendance]\nday_starts = "04:00"\ndebounce = 30\n'
        '[attendance.direction]\n"GATE-IN-01" = "in"\n'
    )
    settings = load(ReceiverSettings, config=path, env={})
    assert settings.attendance == AttendanceSettings(
        day_starts="04:00", debounce=30, direction={"GATE-IN-01": "in"}
    )
    assert settings.attendance.start == time(4) and settings.attendance.debounce_ms == 30_000


def test_an_older_database_is_backfilled_from_the_stored_fields(
    db_url: str, backend: str, pg_dsn: str
) -> None:
    """Records stored before attendance existed (schema 1, no user_kind/user_name
    columns) count once the schema is upgraded: the migration reads them from the JSON."""
    from facepush.receiver import open_store
    from tests.support.old_schema import v1_database

    old = [
        P("2024-03-04 08:00:00", name="Anna"),
        P("2024-03-04 17:00:00", name="Anna"),
        P("2024-03-04 09:00:00", user="8", kind=None, user_type=2, name="Omar"),  # visitor
        P("2024-03-04 09:30:00", user="9", kind=3, user_type=None, name="stranger"),
    ]
    items = [
        incoming(
            decode_push(body(push_of(p, ms(p.at, BERLIN)))),
            source=None,
            received_at=ms(p.at, BERLIN),
            late_after_ms=300_000,
        )
        for p in old
    ]
    v1_database(db_url, backend, pg_dsn, items)
    store = open_store(db_url)
    try:
        site = Site(store)
        site.stored = [(p, ms(p.at, BERLIN)) for p in old]  # what the reference sees
        table = compute(site, [], BERLIN, "2024-03-04")
    finally:
        store.close()
    assert [(row[1], row[2], row[5]) for row in table] == [("7", "Anna", 2), ("8", "Omar", 1)]
