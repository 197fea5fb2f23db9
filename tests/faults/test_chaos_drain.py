"""A terminal with 10,000 cached records drains through a chaos receiver that answers late,
hangs, resets, answers 500, garbage or a failing code, and drops connections after storing:
every record is stored exactly once (by identity) and none is set aside."""

from __future__ import annotations

import time
from pathlib import Path

from tests.support.servers import (
    http_json,
    key_of,
    records,
    report,
    start_device,
    start_receiver,
    stored_keys,
    wait_drained,
)

RECORDS = 10_000
CHAOS = (
    "late=0.02,late-ms=100,hang=0.0005,hang-s=3,reset=0.005,http500=0.005,garbage=0.003,"
    "code=0.003,drop-after-store=0.005,seed=11"
)


def test_ten_thousand_records_drain_through_chaos(tmp_path: Path) -> None:
    batch = records(RECORDS, seed=31, sn="CHAOS0001")
    receiver, rx = start_receiver(tmp_path, "--chaos", CHAOS)
    device = None
    try:
        device, dev = start_device(tmp_path, "--timeout", "1")
        # Cache everything first (push configured, receiver not yet chosen), then let it go.
        http_json(dev + "/v1/event/subscribe", {"event_dest": rx + "/Nowhere", "enabled": True})
        for start in range(0, RECORDS, 500):
            reply = http_json(dev + "/push/records", batch[start : start + 500])
            assert reply["data"]["accepted"] == len(batch[start : start + 500])
        started = time.monotonic()
        http_json(dev + "/v1/event/subscribe", {"event_dest": rx + "/Record", "enabled": True})
        status = wait_drained(dev, timeout=240)
        seconds = time.monotonic() - started
        stored = stored_keys(rx)
        stats = http_json(rx + "/api/stats")["data"]
    finally:
        if device is not None:
            device.stop()
        receiver.stop()
    report(
        "drain through chaos",
        records=RECORDS,
        seconds=round(seconds, 1),
        stored=len(stored),
        duplicates_refused=stats["duplicates"],
        delivered=status["delivered"],
        set_aside=status["set_aside"],
    )
    assert sorted(stored) == sorted(key_of(r) for r in batch)  # all, each exactly once
    assert status["set_aside"] == 0 and status["queued"] == 0
    assert stats["duplicates"] > 0  # drop-after-store really made the terminal re-send
