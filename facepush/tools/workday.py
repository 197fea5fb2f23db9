"""A realistic working day at one terminal (`facepush simulate --day`), reproducible from
a seed: the records a terminal makes from one morning to the next, with their own times.

For each of the site's people (RecordFactory's population): employees arrive spread
around the start time, most go out for lunch and come back, and leave about a working
day later; a few stay home, a few forget to badge out, a few work overnight (in in the
evening, out after midnight: the next calendar morning, which `day_starts` keeps on the
same attendance day); visitors come for an hour or two. People are recognised again a few
seconds later now and then (standing in front of the terminal: repeats), and denied now
and then (and then try again). Blacklisted people are turned away.

The terminal keeps every record it is handed until the receiver has it: a receiver that is
down all day gets the whole day late, in order, with the records' own times.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, tzinfo
from typing import Any

from facepush.protocol.codes import UserType
from facepush.tools.records import Person, RecordFactory

MINUTE = 60_000
HOUR = 60 * MINUTE


@dataclass(frozen=True)
class WorkdayPlan:
    """How the day goes; the defaults are an office with a day shift."""

    start: time = time(8, 30)  # the usual arrival
    hours: float = 8.5  # arrival to departure, lunch included
    absent: float = 0.05  # share of employees who do not come
    lunch: float = 0.6  # share who go out for lunch (and come back)
    forget_out: float = 0.05  # share who leave without being recognised
    overnight: int = 3  # employees on a night shift (20:00 to about 04:30)
    repeat: float = 0.1  # share of passages recognised again within seconds
    denied: float = 0.03  # share of passages first denied, then passed


def site_factory(
    day: date, zone: tzinfo | None, plan: WorkdayPlan | None = None, **options: Any
) -> RecordFactory:
    """The site's RecordFactory for `day`: its clock at the day's start, so that visitors'
    validity windows are that day's (and the same seed gives the same records)."""
    start = int(datetime.combine(day, (plan or WorkdayPlan()).start, tzinfo=zone).timestamp())
    return RecordFactory(clock=lambda: start * 1000, **options)


def workday(
    factory: RecordFactory, day: date, zone: tzinfo | None, plan: WorkdayPlan | None = None
) -> list[dict[str, Any]]:
    """The day's records (push envelopes) in time order."""
    plan = plan or WorkdayPlan()
    rng = random.Random(f"{factory.seed}-{day.isoformat()}")
    start = int(datetime.combine(day, plan.start, tzinfo=zone).timestamp() * 1000)
    employees = [p for p in factory.people if p.kind == UserType.EMPLOYEE]
    night = set(rng.sample(range(len(employees)), min(plan.overnight, len(employees))))
    walks: list[tuple[int, Person, bool]] = []  # (time, person, passed)
    for n, person in enumerate(employees):
        if n in night:
            evening = start + int((11.5 + rng.gauss(0, 0.25)) * HOUR)  # about 20:00
            times = [evening, evening + int((8.5 + rng.gauss(0, 0.3)) * HOUR)]
        elif rng.random() < plan.absent:
            continue
        else:
            times = _office_day(rng, start, plan)
        walks += [(t, person, True) for t in times]
    for person in (p for p in factory.people if p.kind == UserType.VISITOR):
        if rng.random() < 0.5:
            arrive = start + int(rng.uniform(1.5, 6.5) * HOUR)
            walks += [
                (arrive, person, True),
                (arrive + int(rng.uniform(0.5, 2) * HOUR), person, True),
            ]
    for person in (p for p in factory.people if p.kind == UserType.BLACKLIST):
        walks.append((start + int(rng.uniform(0, 8) * HOUR), person, False))
    walks.sort(key=lambda walk: walk[0])  # then each record is made in time order
    records = [pair for walk in walks for pair in _walk(factory, rng, plan, *walk)]
    records.sort(key=lambda pair: pair[0])
    return [record for _, record in records]


def _office_day(rng: random.Random, start: int, plan: WorkdayPlan) -> list[int]:
    arrive = start + int(rng.gauss(0, 20) * MINUTE)
    times = [arrive]
    if rng.random() < plan.lunch:
        out = start + int((3.5 + rng.gauss(0, 0.4)) * HOUR)  # about noon
        times += [out, out + int(rng.uniform(25, 60) * MINUTE)]
    if rng.random() >= plan.forget_out:
        times.append(arrive + int((plan.hours + rng.gauss(0, 0.5)) * HOUR))
    return times


def _walk(
    factory: RecordFactory,
    rng: random.Random,
    plan: WorkdayPlan,
    at: int,
    person: Person,
    passed: bool,
) -> list[tuple[int, dict[str, Any]]]:
    """The records of one walk past the terminal: a denial first now and then, the passage,
    and now and then the same face again a few seconds later."""
    out = []
    if passed and rng.random() < plan.denied:
        before = at - rng.randint(5, 30) * 1000
        out.append((before, factory.passage(person, before, False)))
    out.append((at, factory.passage(person, at, passed)))
    if passed and rng.random() < plan.repeat:
        again = at + rng.randint(2, 20) * 1000
        out.append((again, factory.passage(person, again, True)))
    return out


def day_of(text: str) -> date:
    """`--day YYYY-MM-DD`; ValueError naming the option otherwise."""
    try:
        return date.fromisoformat(text) if len(text) == 10 else date.fromisoformat("x")
    except ValueError:
        raise ValueError(f"--day {text!r}: expected a date YYYY-MM-DD") from None
