"""What TerminalClient returns for the terminal's other endpoints: a history page, the
terminal's clock as measured, and the paging through all of history."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from facepush.errors import BadResponse
from facepush.protocol.device import DeviceTime
from facepush.protocol.history import HistoryQuery

_PAGE_FIELDS = ("offset", "limit", "count", "total")


@dataclass(frozen=True, slots=True)
class HistoryPage:
    """`POST /v1/event/records` data: this page's items and how many match in all."""

    offset: int
    limit: int
    count: int
    total: int
    items: list[dict[str, Any]]

    @classmethod
    def from_data(cls, data: Any, where: str) -> HistoryPage:
        if not isinstance(data, dict) or any(type(data.get(f)) is not int for f in _PAGE_FIELDS):
            raise BadResponse(f"{where}: a history page needs integer {', '.join(_PAGE_FIELDS)}")
        items = data.get("items")
        if not isinstance(items, list) or not all(
            isinstance(i, dict) and type(i.get("timestamp")) is int for i in items
        ):
            raise BadResponse(f"{where}: history items must be objects with an integer timestamp")
        return cls(data["offset"], data["limit"], data["count"], data["total"], items)


@dataclass(frozen=True, slots=True)
class TerminalTime:
    """The terminal's clock (`GET /v1/device/time`) and its measured offset (ruling T1)."""

    local_time: int  # ms since the epoch, by the terminal's clock, when it answered
    manual_mode: bool
    time_zone: int
    server_address: str
    offset_ms: int  # terminal's clock minus this machine's: positive when it is fast
    rtt_ms: float  # the round trip of the measuring request; the offset is good to half of it

    @classmethod
    def measured(cls, clock: DeviceTime, offset_ms: int, rtt_s: float) -> TerminalTime:
        return cls(
            clock.local_time,
            clock.manual_mode,
            clock.time_zone,
            clock.server_address,
            offset_ms,
            round(rtt_s * 1000, 3),
        )

    @property
    def in_words(self) -> str:
        return offset_in_words(self.offset_ms)


# The words of `offset_in_words`: units, and the sentence around them, per language.
_UNITS = {"en": ("d", "h", "min", "s"), "zh": ("天", "小时", "分", "秒")}
_CLOCK = {
    "en": ("clock right", "clock {span} fast", "clock {span} slow"),
    "zh": ("时钟准确", "时钟快 {span}", "时钟慢 {span}"),
}
LANGUAGES = tuple(_UNITS)


def offset_in_words(offset_ms: int, tolerance_ms: int = 1000, lang: str = "en") -> str:
    """A clock offset for people: "clock 3 min 12 s fast", "clock 2 h 5 min slow", "clock
    right" (within `tolerance_ms`); `lang` "zh" says it in Chinese ("时钟快 3 分 12 秒").
    The one place these words are made: the CLI and the dashboard (through the receiver's
    `clock_offset_words`) both show them."""
    right, fast, slow = _CLOCK[lang]
    if abs(offset_ms) < tolerance_ms:
        return right
    seconds = round(abs(offset_ms) / 1000)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    units = _UNITS[lang]
    parts = [f"{n} {unit}" for n, unit in zip((days, hours, minutes), units, strict=False) if n]
    if secs and not days:
        parts.append(f"{secs} {units[3]}")
    return (fast if offset_ms > 0 else slow).format(span=" ".join(parts[:2]))


def offset_words(offset_ms: int | None) -> dict[str, str] | None:
    """`offset_in_words` in every language the dashboard speaks, or None without an offset."""
    if offset_ms is None:
        return None
    return {lang: offset_in_words(offset_ms, lang=lang) for lang in LANGUAGES}


PageFetch = Callable[[HistoryQuery], Awaitable[HistoryPage]]


async def history_pages(
    fetch: PageFetch, query: HistoryQuery
) -> AsyncGenerator[dict[str, Any], None]:
    """Every item matching `query`, page after page (see `history_batches`)."""
    async with contextlib.aclosing(history_batches(fetch, query)) as batches:
        async for batch in batches:
            for item in batch:
                yield item


async def history_batches(
    fetch: PageFetch, query: HistoryQuery
) -> AsyncGenerator[list[dict[str, Any]], None]:
    """Every item matching `query`, one list per page fetched (items already yielded at a
    page boundary left out, so a list may be shorter than the page, or empty).

    Pages move by time rather than by offset alone: each next request starts at the last
    second seen (`begin_time`, or `end_time` newest first) and passes over, by `uuid`, the
    items of that second already yielded. So records the terminal drops meanwhile (its
    retention) or makes meanwhile never shift an item out of the listing. A second with
    more than half a page of records is passed over by count instead.
    """
    ascending = not query.descending
    bound = query.begin_time if ascending else query.end_time
    offset = query.offset
    at_bound: set[str] = set()  # uuids already yielded from the second `bound`
    while True:
        if ascending:
            step = dataclasses.replace(query, offset=offset, begin_time=bound)
        else:
            step = dataclasses.replace(query, offset=offset, end_time=bound)
        page = await fetch(step)
        yield [
            item
            for item in page.items
            if item["timestamp"] != bound or item.get("uuid") not in at_bound
        ]
        if not page.items or page.limit == 0 or page.count < page.limit:
            return
        last = page.items[-1]["timestamp"]
        if last <= 0:  # 0 means "unbounded" as a bound: go on by offset alone
            offset += len(page.items)
            continue
        if last != bound:
            at_bound = set()
        at_bound.update(
            i["uuid"]
            for i in page.items
            if i["timestamp"] == last and isinstance(i.get("uuid"), str)
        )
        bound = last
        offset = len(at_bound) if len(at_bound) >= page.limit // 2 else 0
