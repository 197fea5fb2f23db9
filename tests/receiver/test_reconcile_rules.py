"""Reconciliation's rules on both backends, against a fake terminal on a real socket: what
only history had is stored with `origin` "history" (its snapshot too) through the push
path's rules, what the receiver has is a duplicate, an unknown face is read as the push of
one, an item without a uuid is refused with its reason (once, though the overlap reads it
again), `repaired` counts only what no push delivered, and the mark is durable."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from facepush.receiver import Store, Tuning
from facepush.receiver.terminals.settings import TerminalSettings
from tests.receiver.fake_terminal import FakeTerminal, history_item
from tests.support.receiver import Running, configured, metric_value, running
from tests.support.records import jpeg, recognition

SERIAL = "FAKE-1"
TUNING = Tuning(reconcile_overlap_s=300.0)


@pytest.fixture
async def fake() -> AsyncIterator[FakeTerminal]:
    terminal = FakeTerminal(SERIAL)
    await terminal.start()
    try:
        yield terminal
    finally:
        await terminal.stop()


async def terminal_item(rx: Running) -> dict[str, Any]:
    items = (await rx.get("/api/terminals"))["data"]["items"]
    assert len(items) == 1
    return dict(items[0])


async def until_reconciled(rx: Running, runs: int = 1, timeout: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        item = await terminal_item(rx)
        if item["reconciliations"] >= runs and not item["reconciling"]:
            return item
        assert time.monotonic() < deadline, f"no reconciliation within {timeout} s: {item}"
        await asyncio.sleep(0.05)


async def reconcile(rx: Running) -> dict[str, Any]:
    async with rx.session.post(rx.url + "/api/terminals/reconcile", json={}) as resp:
        reply = await resp.json()
    assert resp.status == 200 and reply["code"] == 200, reply
    return dict(reply["data"]["items"][0])


async def events(rx: Running, **params: Any) -> dict[str, dict[str, Any]]:
    items = (await rx.get("/api/events", limit=1000, **params))["data"]["items"]
    return {item["key"]: item for item in items}


def push_of(item: dict[str, Any]) -> dict[str, Any]:
    return recognition(item["uuid"], device=SERIAL, timestamp=item["timestamp"])


async def test_history_fills_the_gaps_and_repaired_counts_what_only_history_had(
    store: Store, fake: FakeTerminal
) -> None:
    base = int(time.time()) - 3600  # an hour ago: these records are late
    snapshot = jpeg(3)
    items = [
        history_item("h-1", base, image=base64.b64encode(snapshot).decode()),
        history_item("h-2", base + 1),
        history_item("h-3", base + 1, user_id=""),  # a face that matched nobody
        history_item(None, base + 2),  # older firmware: no uuid
        history_item("h-4", base + 3),
    ]
    settings = configured(store.url, terminal=(TerminalSettings(url=fake.url),))
    async with running(settings, store, TUNING) as rx:
        first = await until_reconciled(rx)  # the receiver's start: the history was empty
        assert first["serial"] == SERIAL and first["reconciled_until"] is None
        assert (await rx.push(push_of(items[1])))[0] == 200  # h-2 came by push
        fake.items = items

        after = await reconcile(rx)
        run = after["last_reconcile"]
        assert (run["read"], run["stored"], run["duplicates"], run["refused"]) == (5, 3, 1, 1)
        assert after["repaired"] == 3 and after["refused"] == 1 and after["last_error"] is None
        assert after["reconciled_until"] == (base + 3) * 1000

        stored = await events(rx)
        assert set(stored) == {"r:h-1", "r:h-2", "r:h-3", "r:h-4"}
        assert stored["r:h-2"]["origin"] == "push"
        for key in ("r:h-1", "r:h-3", "r:h-4"):
            record = stored[key]
            assert record["origin"] == "history" and record["late"] is True, record
            assert record["deviceSN"] == SERIAL and record["source"] == "127.0.0.1"
            assert record["occurred_at"] == record["timestamp"] * 1000  # its own time
        assert set(await events(rx, origin="history")) == {"r:h-1", "r:h-3", "r:h-4"}
        image_url = stored["r:h-1"]["image_url"]
        async with rx.session.get(rx.url + image_url) as resp:
            assert await resp.read() == snapshot
        # groups beside user are the user's; an unknown face's empty strings are not values
        assert stored["r:h-1"]["user"]["groups"] == [{"id": "1", "name": "staff"}]
        assert "user_id" not in stored["r:h-3"]["user"]
        assert stored["r:h-3"]["recognitionType"] == 0
        assert set(await events(rx, user_id="5")) == {"r:h-1", "r:h-2", "r:h-4"}

        quarantine = (await rx.get("/api/quarantine"))["data"]["items"]
        assert len(quarantine) == 1
        assert quarantine[0]["error"] == (
            f"history of {fake.url}: data.uuid: required field is missing"
        )
        text = await (await rx.session.get(rx.url + "/metrics")).text()
        assert 'facepush_receiver_history_refused_total{reason="bad_record"} 1' in text
        assert metric_value(text, "facepush_receiver_history_stored_total") == 3
        assert f'facepush_receiver_terminal_repaired{{terminal="{fake.url}"}} 3' in text

        # The overlap reads all of it again: duplicates, and no second quarantine.
        again = await reconcile(rx)
        run = again["last_reconcile"]
        assert (run["read"], run["stored"], run["duplicates"], run["refused"]) == (5, 0, 4, 0)
        assert (
            again["refused"] == 1 and len((await rx.get("/api/quarantine"))["data"]["items"]) == 1
        )

        # A push of a record history stored: history did not have it alone after all.
        for _ in range(2):  # the same push twice counts once
            assert (await rx.push(push_of(items[4])))[0] == 200
            assert (await terminal_item(rx))["repaired"] == 2
        stats = (await rx.get("/api/stats"))["data"]
        assert stats["recognitions"] == 4
        assert stats["duplicates"] == 2  # the pushes, not the history items read again

    # The mark and the count are the store's: a receiver started again goes on from them.
    fake.items.append(history_item("h-5", base + 10))
    async with running(settings, store, TUNING) as rx:
        item = await until_reconciled(rx)
        assert item["repaired"] == 3 and item["reconciled_until"] == (base + 10) * 1000
        assert item["last_reconcile"]["stored"] == 1  # h-5; read from the mark less 5 min
        assert len(await events(rx)) == 5
