"""A page of a terminal's history as the rows the Writer stores: each item read as the push
of the same record (`facepush.protocol.history.history_push`), decoded by the one lenient
decoder, limited as a push is, and made a row by the push path's own `incoming()`, with
`origin` "history". What the decoder or the limits refuse becomes a quarantine row naming
the reason, as a refused push does. Runs on a worker thread, off the event loop.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from facepush.errors import DecodeError
from facepush.protocol.decode import decode_object
from facepush.protocol.history import history_push
from facepush.protocol.jsontext import dump_json
from facepush.protocol.times import now_ms, to_ms
from facepush.receiver import quarantine, schema
from facepush.receiver.records import incoming
from facepush.receiver.store import Item, Refused

BAD_RECORD, TOO_LARGE, REJECTED = "bad_record", "too_large", "rejected"


@dataclass(frozen=True, slots=True)
class PageContext:
    url: str  # the terminal's, for the quarantine's reason
    source: str | None  # the terminal's address, as a push's peer address is kept
    serial: str | None  # the terminal's serial: a record without deviceSN is its
    late_after_ms: int
    max_body: int  # a push body's limit: an item larger than a push could be is refused


@dataclass(slots=True)
class DecodedPage:
    items: list[Item] = field(default_factory=list)  # in page order
    reasons: dict[int, str] = field(default_factory=dict)  # index in items -> why refused
    newest_ms: int | None = None  # the newest item's time (ruling 5), refused ones too
    originals: list[dict[str, Any]] = field(default_factory=list)  # the item of each row
    refused_digests: set[str] = field(default_factory=set)  # of the items refused now


def decode_page(
    batch: list[dict[str, Any]], ctx: PageContext, refused_before: set[str]
) -> DecodedPage:
    """The rows of one page. An item refused by an earlier run (its digest in
    `refused_before`: the overlap reads it again) is not quarantined twice."""
    page = DecodedPage()
    received_at = now_ms()
    where = f"history of {ctx.url}"
    for item in batch:
        at = to_ms(item["timestamp"])  # an integer: TerminalClient checked the page
        page.newest_ms = at if page.newest_ms is None else max(page.newest_ms, at)
        image = item.get("rgb_image")
        try:
            if isinstance(image, str) and len(image) > ctx.max_body:
                limit = ctx.max_body
                raise _Refusal(
                    TOO_LARGE, f"{where}: rgb_image: larger than the limit of {limit} bytes"
                )
            try:
                push = decode_object(history_push(item))
            except DecodeError as exc:
                raise _Refusal(BAD_RECORD, f"{where}: {exc}") from None
        except _Refusal as refusal:
            _refuse(page, item, refusal, ctx, received_at, refused_before)
            continue
        row = incoming(
            push,
            source=ctx.source,
            received_at=received_at,
            late_after_ms=ctx.late_after_ms,
            origin="history",
            serial=ctx.serial or None,
        )
        page.items.append(row)
        page.originals.append(item)
    return page


class _Refusal(Exception):
    def __init__(self, reason: str, text: str) -> None:
        self.reason = reason
        self.text = text


def _refuse(
    page: DecodedPage,
    item: dict[str, Any],
    refusal: _Refusal,
    ctx: PageContext,
    received_at: int,
    refused_before: set[str],
) -> None:
    body = dump_json(item)
    digest = hashlib.sha256(body).hexdigest()
    if digest in refused_before:  # refused by an earlier run (the overlap): not again
        return
    page.refused_digests.add(digest)
    page.reasons[len(page.items)] = refusal.reason
    page.items.append(_kept(body, refusal.reason, refusal.text, ctx, received_at))
    page.originals.append(item)


def rejected(exc: Exception, original: dict[str, Any], ctx: PageContext) -> Refused:
    """The quarantine row of a history item the database itself refused (RecordRejected)."""
    text = f"history of {ctx.url}: {exc}"
    return _kept(dump_json(original), REJECTED, text, ctx, now_ms())


# The quarantine's reasons for a history item's refusals (a bad record is a bad request).
_QUARANTINE_REASON = {BAD_RECORD: "bad_request", TOO_LARGE: "too_large", REJECTED: "rejected"}


def _kept(body: bytes, reason: str, text: str, ctx: PageContext, at: int) -> Refused:
    """What the quarantine keeps of a refused history item: its prefix, size and sha256."""
    return quarantine.refused(
        body,
        reason=_QUARANTINE_REASON[reason],
        error=text,
        received_at=at,
        source=ctx.source,
        prefix=schema.PREFIX_BYTES,
    )
