"""`kill -9` of the terminal at random points during intake and delivery, restarted each
time: every record it accepted reaches the receiver (checked by identity)."""

from __future__ import annotations

import random
import threading
import time
import urllib.error
from pathlib import Path

from tests.faults.conftest import (
    http_json,
    key_of,
    records,
    report,
    start_device,
    start_receiver,
    stored_keys,
    wait_drained,
)
from tests.support import free_port

KILLS = 22
BATCH = 40


def test_kill_minus_nine_during_intake_and_delivery_loses_nothing(tmp_path: Path) -> None:
    rng = random.Random(2026)
    receiver, receiver_url = start_receiver(tmp_path)
    port = free_port()
    accepted: set[str] = set()
    offered = 0
    try:
        for kill in range(KILLS + 1):
            device, url = start_device(tmp_path, "--timeout", "2", port=port)
            if kill == 0:
                http_json(
                    url + "/v1/event/subscribe",
                    {"event_dest": receiver_url + "/Record", "enabled": True},
                )
            if kill == KILLS:  # the last start only drains
                status = wait_drained(url, timeout=60)
                device.stop()
                break
            stop = threading.Event()
            feeder = threading.Thread(target=_feed, args=(url, kill, stop, accepted))
            feeder.start()
            time.sleep(rng.uniform(0.1, 0.9))
            device.kill9()
            stop.set()
            feeder.join(timeout=30)
            offered += _offered[kill]
    finally:
        stored = stored_keys(receiver_url)
        stats = http_json(receiver_url + "/api/stats")["data"]
        receiver.stop()
    missing = accepted - set(stored)
    report(
        "kill -9 terminal",
        kills_survived=KILLS,
        records_offered=offered,
        records_accepted=len(accepted),
        stored=len(stored),
        duplicates_refused=stats["duplicates"],
        missing=len(missing),
    )
    assert len(accepted) > KILLS * BATCH  # the kills really hit a busy terminal
    assert not missing, sorted(missing)[:5]
    assert len(stored) == len(set(stored))  # stored once each
    assert status["set_aside"] == 0


_offered: dict[int, int] = {}


def _feed(url: str, round_: int, stop: threading.Event, accepted: set[str]) -> None:
    """Hand over batches until the terminal dies; a batch counts only once acknowledged."""
    batch_no = 0
    _offered[round_] = 0
    while not stop.is_set():
        batch = records(BATCH, seed=round_ * 1000 + batch_no, sn=f"KILL{round_:04d}")
        batch_no += 1
        _offered[round_] += len(batch)
        try:
            reply = http_json(url + "/push/records", batch, timeout=5)
        except (OSError, urllib.error.URLError):
            return  # the terminal died mid-request: this batch was never acknowledged
        if reply["code"] == 200 and reply["data"]["accepted"] == len(batch):
            accepted.update(key_of(r) for r in batch)
