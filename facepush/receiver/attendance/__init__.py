"""Attendance: first in and last out per person per local day (docs/attendance.md).

`rules` holds the rules (and a plain-Python reference of them), `sql` the store's portable
query, `api` the endpoints, `export` the CSV and XLSX files.
"""

from facepush.receiver.attendance.rules import (
    AttendanceDay,
    AttendanceSettings,
    DateRange,
    Direction,
)
from facepush.receiver.attendance.sql import AttendanceQuery

__all__ = [
    "AttendanceDay",
    "AttendanceQuery",
    "AttendanceSettings",
    "DateRange",
    "Direction",
]
