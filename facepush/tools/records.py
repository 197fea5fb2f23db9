"""Realistic recognition and alarm records, reproducible from a seed.

`seed` and `terminal` (the emulated terminal's index within a run) together give one
stream of records; a record's `uuid` is a hash of (seed, terminal, its number), so two
streams never share a uuid (seed 1 is not "seed 0, terminal 1"). Without a seed a fresh
random one is drawn (`fresh_seed`): a second run must not re-send the first run's uuids,
which a receiver would only count as duplicates. `factory.seed` tells which one, to repeat
the run.

A site has employees, visitors (with validity windows) and a few blacklisted people; faces
that match nobody come from strangers and spoofs. Frequencies follow what a busy entrance
sees: mostly employees passing by face, a few denials for every abnormal type, and now and
then an alarm whose life is raised → (clearing failed →) cleared under one `trace_id`.
"""

from __future__ import annotations

import hashlib
import random
import secrets
import string
import uuid as uuidlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from facepush.protocol.codes import (
    AbnormalType,
    AlarmCode,
    AlarmStatus,
    EntryMode,
    EventType,
    Mask,
    Mode,
    RecognitionType,
    UserType,
)
from facepush.protocol.times import now_ms
from facepush.tools.faces import ImagePool

_FAMILY = ["王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "Smith", "García", "Novak"]
_GIVEN = ["伟", "芳", "娜", "敏", "静", "磊", "洋", "勇", "艳", "杰", "Anna", "Omar", "Lena"]
_GROUPS = [
    ("1", "Engineering"),
    ("2", "Operations"),
    ("3", "测试3"),
    ("4", "测试4"),
    ("5", "Security"),
]

# (value, weight) tables: plausible frequencies at a busy entrance.
_RECOGNITION = [(1, 74), (2, 10), (3, 9), (4, 3), (5, 2), (0, 2)]
_ENTRY_PASS = [
    (1, 60),
    (3, 8),
    (4, 6),
    (2, 5),
    (8, 4),
    (5, 3),
    (6, 3),
    (7, 2),
    (9, 2),
    (10, 2),
    (11, 4),
    (12, 1),
]
_ABNORMAL_DENY = [
    (10001, 2),
    (10002, 3),
    (10003, 2),
    (20001, 0),
    (20002, 4),
    (30001, 2),
    (30002, 3),
    (30003, 2),
    (40001, 3),
    (70001, 4),
    (70002, 1),
]
_ALARM_CODES = [(10001, 2), (10002, 4), (10003, 5), (10004, 2), (20003, 1)]


@dataclass
class Person:
    index: int
    kind: UserType
    name: str
    user_id: str
    job_number: str
    ic_number: str
    groups: list[tuple[str, str]]
    guest_window: tuple[int, int] = (0, 0)


@dataclass
class _OpenAlarm:
    trace_id: str
    code: int
    steps: list[int]  # statuses still to report


def fresh_seed() -> int:
    """A random seed for a run that names none (print it, so the run can be repeated)."""
    return secrets.randbits(32)


@dataclass
class RecordFactory:
    """Makes push envelopes (`{"type", "data"}` dicts) one at a time."""

    seed: int = field(default_factory=fresh_seed)
    terminal: int = 0  # which emulated terminal of a run: its own stream of uuids
    device_sn: str = "PSC700C0MC22F02542"
    images: bool = True
    employees: int = 40
    visitors: int = 8
    blacklist: int = 2
    alarm_rate: float = 0.01  # chance that a record starts a new alarm
    clock: Callable[[], int] = now_ms  # the terminal's clock (ms): records carry its time
    rng: random.Random = field(init=False)
    people: list[Person] = field(init=False)
    _open: list[_OpenAlarm] = field(init=False, default_factory=list)
    _pool: ImagePool = field(init=False)
    _alarm_serial: int = field(init=False, default=0)
    _made: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self.rng = random.Random(f"facepush-records/{self.seed}/{self.terminal}")
        self._pool = ImagePool(self.seed * 1_000_003 + self.terminal)
        self.people = self._population()

    def __iter__(self) -> Iterator[dict[str, Any]]:
        while True:
            yield self.next()

    def next(self) -> dict[str, Any]:
        """The next record: a pending alarm report, a new alarm, or a recognition."""
        if self._open and self.rng.random() < 0.3:
            return self._alarm_followup()
        if self.rng.random() < self.alarm_rate:
            return self._alarm_raised()
        return self._recognition()

    # --- recognitions -------------------------------------------------------------------

    def _recognition(self) -> dict[str, Any]:
        rng = self.rng
        kind = _pick(rng, _RECOGNITION)
        person = self._person_for(kind)
        passed, abnormal, entry = self._decision(kind, person)
        return self._record(kind, person, passed, abnormal, entry, self.clock())

    def passage(self, person: Person, at_ms: int, passed: bool = True) -> dict[str, Any]:
        """A recognition of `person` at `at_ms` (the record's own time): a pass by face,
        or a denial for a plausible reason."""
        kind = RecognitionType.VISITOR if person.kind == UserType.VISITOR else person.kind
        abnormal = AbnormalType.NONE if passed else _pick(self.rng, _ABNORMAL_DENY)
        entry = EntryMode.FACE if passed else _pick(self.rng, _ENTRY_PASS)
        return self._record(int(kind), person, passed, abnormal, entry, at_ms)

    def _record(
        self, kind: int, person: Person | None, passed: bool, abnormal: int, entry: int, at: int
    ) -> dict[str, Any]:
        rng = self.rng
        temperature = round(rng.gauss(36.5, 0.25), 1)
        if abnormal == AbnormalType.ABNORMAL_TEMPERATURE:
            temperature = round(rng.uniform(37.6, 38.9), 1)
        data: dict[str, Any] = {
            "deviceSN": self.device_sn,
            "recognitionType": int(kind),
            "entry_mode": int(entry),
            "abnormal_type": int(abnormal),
            "uuid": self._uuid(),
            "recognizeScore": round(
                rng.uniform(0.82, 0.99) if person else rng.uniform(0.2, 0.6), 4
            ),
            "mask": _pick(rng, [(Mask.DETECTION_OFF, 3), (Mask.NO_MASK, 5), (Mask.MASK_WORN, 2)]),
            "mode": _pick(
                rng, [(m.value, 6 if m == Mode.FACE_OR_CARD_OR_QR_OR_PIN else 1) for m in Mode]
            ),
            "rgb_image": self._pool.face(person.index if person else 1000 + rng.randrange(50))
            if self.images
            else " ",
            "bodyTemperature": temperature,
            "pass": passed,
            "timestamp": at // 1000,
            "user": _user(person),
        }
        return {"type": EventType.RECOGNITION.value, "data": data}

    def _uuid(self) -> str:
        # A hash of distinct inputs, not a draw from a generator seeded with an integer,
        # which another (seed, terminal) pair could share.
        self._made += 1
        name = f"facepush-uuid/{self.seed}/{self.terminal}/{self._made}".encode()
        digest = hashlib.blake2b(name, digest_size=16).digest()
        return str(uuidlib.UUID(bytes=digest, version=4))

    def _person_for(self, kind: int) -> Person | None:
        wanted = {1: UserType.EMPLOYEE, 2: UserType.VISITOR, 5: UserType.BLACKLIST}.get(kind)
        if wanted is None:
            return None  # strangers, spoofs and unknown faces match nobody
        return self.rng.choice([p for p in self.people if p.kind == wanted])

    def _decision(self, kind: int, person: Person | None) -> tuple[bool, int, int]:
        rng = self.rng
        if kind in (RecognitionType.BLACKLIST, RecognitionType.NOT_LIVE, RecognitionType.STRANGER):
            return False, AbnormalType.NONE, EntryMode.FACE
        if kind == RecognitionType.UNKNOWN:
            return False, AbnormalType.NONE, EntryMode.FACE
        if kind == RecognitionType.VISITOR and person and rng.random() < 0.15:
            return False, AbnormalType.VISITOR_OUTSIDE_VALIDITY, EntryMode.FACE
        if rng.random() < 0.08:
            return False, _pick(rng, _ABNORMAL_DENY), _pick(rng, _ENTRY_PASS)
        return True, AbnormalType.NONE, _pick(rng, _ENTRY_PASS)

    # --- alarms -------------------------------------------------------------------------

    def _alarm_raised(self) -> dict[str, Any]:
        rng = self.rng
        self._alarm_serial += 1
        suffix = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(6))
        trace_id = f"SPX-{self.clock()}-{self._alarm_serial:03d}-{suffix}"
        steps = (
            [AlarmStatus.CLEAR_FAILED, AlarmStatus.CLEARED]
            if rng.random() < 0.2
            else [AlarmStatus.CLEARED]
        )
        alarm = _OpenAlarm(trace_id, _pick(rng, _ALARM_CODES), [int(s) for s in steps])
        self._open.append(alarm)
        return self._alarm_report(alarm, AlarmStatus.RAISED)

    def _alarm_followup(self) -> dict[str, Any]:
        alarm = self._open[0]
        status = alarm.steps.pop(0)
        if not alarm.steps:
            self._open.pop(0)
        return self._alarm_report(alarm, status)

    def _alarm_report(self, alarm: _OpenAlarm, status: int) -> dict[str, Any]:
        data: dict[str, Any] = {
            "trace_id": alarm.trace_id,
            "description": AlarmCode.describe(alarm.code) if status == 1 else "handled on site",
            "code": alarm.code,
            "event_time": self.clock(),
            "status": status,
            "alarm_photo": self._pool.door(self._alarm_serial) if self.images else " ",
        }
        if alarm.code == AlarmCode.PASSWORD_ATTACK:
            data["user_id"] = int(self.rng.choice(self.people).user_id)
        return {"type": EventType.ALARM.value, "data": data}

    # --- the site's people ----------------------------------------------------------------

    def _population(self) -> list[Person]:
        rng = self.rng
        people: list[Person] = []
        counts = [
            (UserType.EMPLOYEE, self.employees),
            (UserType.VISITOR, self.visitors),
            (UserType.BLACKLIST, self.blacklist),
        ]
        for kind, count in counts:
            for _ in range(count):
                index = len(people)
                start = self.clock() - 3_600_000
                people.append(
                    Person(
                        index=index,
                        kind=kind,
                        name=rng.choice(_FAMILY) + rng.choice(_GIVEN),
                        user_id=str(1000 + index),
                        job_number=f"{20000 + index}" if kind == UserType.EMPLOYEE else "",
                        ic_number=f"{rng.getrandbits(32):08X}",
                        groups=rng.sample(_GROUPS, rng.randint(0, 2)),
                        guest_window=(start, start + 8 * 3_600_000)
                        if kind == UserType.VISITOR
                        else (0, 0),
                    )
                )
        return people


def _user(person: Person | None) -> dict[str, Any]:
    if person is None:
        # What real terminals send for a face that matched nobody.
        return {"name": None, "user_id": None, "type": None, "groups": []}
    return {
        "name": person.name,
        "ic_number": person.ic_number,
        "id_number": "",
        "job_number": person.job_number,
        "pin": "",
        "user_id": person.user_id,
        "remark": "",
        "guest_time_start": person.guest_window[0],
        "guest_time_end": person.guest_window[1],
        "type": int(person.kind),
        "groups": [{"id": gid, "name": name} for gid, name in person.groups],
    }


def _pick(rng: random.Random, table: list[tuple[Any, int]]) -> int:
    values, weights = zip(*table, strict=True)
    return int(rng.choices(values, weights=weights)[0])
