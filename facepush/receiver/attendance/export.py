"""Attendance as files: CSV (streamed) and XLSX (XlsxWriter in constant_memory mode: each
row goes to a temporary file as it is written, so memory does not grow with the rows).

Both have one row per person and day, a header row, and times as local date-times in the
site's zone (`--timezone`): text `YYYY-MM-DD HH:MM:SS` in the CSV, spreadsheet
date-times in the XLSX. `hours` is the real time between first in and last out (a day
with a daylight-saving change has its 23 or 25 hours).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Iterator
from datetime import date, datetime, tzinfo
from pathlib import Path
from typing import Any

import xlsxwriter

from facepush.receiver.attendance.rules import AttendanceDay
from facepush.receiver.export import neutral

HEADER = ["day", "user_id", "name", "first_in", "last_out", "hours", "passages", "devices", "open"]
TITLES = [
    "Day",
    "User ID",
    "Name",
    "First in",
    "Last out",
    "Hours",
    "Passages",
    "Terminals",
    "Open",
]
_MAX_WIDTH = 60


def local(ms: int | None, zone: tzinfo | None) -> datetime | None:
    """A time in ms as a naive local date-time in `zone` (what a spreadsheet shows)."""
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=zone).replace(tzinfo=None)


def hours(item: AttendanceDay) -> float | None:
    if item.first_in is None or item.last_out is None:
        return None
    return round((item.last_out - item.first_in) / 3_600_000, 2)


def csv_cells(item: AttendanceDay, zone: tzinfo | None) -> list[Any]:
    def shown(ms: int | None) -> str:
        when = local(ms, zone)
        return when.isoformat(" ", timespec="seconds") if when is not None else ""

    worked = hours(item)
    cells = [
        item.day,
        item.user_id,
        item.name or "",
        shown(item.first_in),
        shown(item.last_out),
        "" if worked is None else f"{worked:.2f}",
        item.passages,
        " ".join(item.devices),
        "true" if item.open else "false",
    ]
    return [neutral(cell) for cell in cells]


def csv_text(rows: Iterable[list[Any]]) -> bytes:
    """RFC 4180 lines (CRLF; a field with a comma, quote or line break quoted)."""
    lines = []
    for row in rows:
        fields = []
        for cell in row:
            text = "" if cell is None else str(cell)
            if any(c in text for c in ',"\r\n'):
                text = '"' + text.replace('"', '""') + '"'
            fields.append(text)
        lines.append(",".join(fields) + "\r\n")
    return "".join(lines).encode()


def write_xlsx(path: Path, chunks: Iterator[list[AttendanceDay]], zone: tzinfo | None) -> int:
    """Write every item of `chunks` to a one-sheet workbook at `path`; returns the rows."""
    workbook = xlsxwriter.Workbook(str(path), {"constant_memory": True, "tmpdir": str(path.parent)})
    try:
        sheet = workbook.add_worksheet("Attendance")
        bold = workbook.add_format({"bold": True})
        day_format = workbook.add_format({"num_format": "yyyy-mm-dd"})
        time_format = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        hours_format = workbook.add_format({"num_format": "0.00"})
        widths = [_width(title) for title in TITLES]
        widths[3] = widths[4] = 19  # the date-times
        sheet.write_row(0, 0, TITLES, bold)
        sheet.freeze_panes(1, 0)
        row = 0
        for chunk in chunks:
            for item in chunk:
                row += 1
                sheet.write_datetime(row, 0, date.fromisoformat(item.day), day_format)
                sheet.write_string(row, 1, item.user_id)
                sheet.write_string(row, 2, item.name or "")
                for col, ms in ((3, item.first_in), (4, item.last_out)):
                    when = local(ms, zone)
                    if when is not None:
                        sheet.write_datetime(row, col, when, time_format)
                worked = hours(item)
                if worked is not None:
                    sheet.write_number(row, 5, worked, hours_format)
                sheet.write_number(row, 6, item.passages)
                terminals = " ".join(item.devices)
                sheet.write_string(row, 7, terminals)
                sheet.write_boolean(row, 8, item.open)
                for col, text in ((1, item.user_id), (2, item.name or ""), (7, terminals)):
                    widths[col] = max(widths[col], _width(text))
        # Column widths may be set last: constant_memory writes the column table at close.
        for col, width in enumerate(widths):
            sheet.set_column(col, col, min(width, _MAX_WIDTH) + 2)
        sheet.autofilter(0, 0, row, len(TITLES) - 1)
    finally:
        workbook.close()
    return row


def _width(text: str) -> int:
    """Columns a text takes in a spreadsheet: wide (CJK) characters count twice."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
