"""`kill -9` of the terminal at many points during intake and delivery, restarted each
time: every record it accepted reaches the receiver (checked by identity).

The kills are driven by progress, not by the clock: in each round the terminal is killed
right after the n-th batch it acknowledged (n drawn from a seeded generator), while the
feeder is already handing over the next batch and the terminal is pushing the previous
ones; so every kill hits a busy terminal however fast the machine is."""

from __future__ import annotations

import random
import threading
import urllib.error
from pathlib import Path

from tests.support.processes import Process, free_port
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

KILLS = 22
BATCH = 40
MOST_BATCHES_PER_ROUND = 12
ROUND_TIMEOUT_S = 30


class Feeder(threading.Thread):
    """Hands batches to a terminal until it dies; a batch counts once acknowledged.
    `due` is set as soon as `kill_after` batches of this round were acknowledged."""

    def __init__(self, url: str, round_: int, kill_after: int, accepted: set[str]) -> None:
        super().__init__(daemon=True)
        self.url, self.round, self.kill_after, self.accepted = url, round_, kill_after, accepted
        self.offered = 0
        self.acknowledged = 0
        self.due = threading.Event()
        self.stop = threading.Event()

    def run(self) -> None:
        batch_no = 0
        try:
            while not self.stop.is_set():
                seed = self.round * 1000 + batch_no
                batch = records(BATCH, seed=seed, sn=f"KILL{self.round:04d}")
                batch_no += 1
                self.offered += len(batch)
                try:
                    reply = http_json(self.url + "/push/records", batch, timeout=5)
                except (OSError, urllib.error.URLError):
                    return  # the terminal died mid-request: this batch was never acknowledged
                if reply["code"] == 200 and reply["data"]["accepted"] == len(batch):
                    self.accepted.update(key_of(r) for r in batch)
                    self.acknowledged += 1
                    if self.acknowledged >= self.kill_after:
                        self.due.set()
        finally:
            self.due.set()  # never leave the test waiting for a feeder that stopped


def test_kill_minus_nine_during_intake_and_delivery_loses_nothing(tmp_path: Path) -> None:
    rng = random.Random(2026)
    port = free_port()
    accepted: set[str] = set()
    offered = 0
    busy_at_kill: list[int] = []  # records the terminal still held when it was killed
    receiver, receiver_url = start_receiver(tmp_path)
    device: Process | None = None
    feeder: Feeder | None = None
    try:
        for kill in range(KILLS):
            device, url = start_device(tmp_path, "--timeout", "2", port=port)
            if kill == 0:
                http_json(
                    url + "/v1/event/subscribe",
                    {"event_dest": receiver_url + "/Record", "enabled": True},
                )
            feeder = Feeder(url, kill, rng.randint(1, MOST_BATCHES_PER_ROUND), accepted)
            feeder.start()
            assert feeder.due.wait(ROUND_TIMEOUT_S), f"round {kill}: no batch acknowledged"
            assert feeder.acknowledged >= feeder.kill_after, device.output()[-2000:]
            busy_at_kill.append(http_json(url + "/push/status")["data"]["queued"])
            device.kill9()  # the feeder is handing over the next batch meanwhile
            device.stop()  # (closes its log)
            feeder.stop.set()
            feeder.join(timeout=ROUND_TIMEOUT_S)
            offered += feeder.offered
        device, url = start_device(tmp_path, "--timeout", "2", port=port)  # only drains
        status = wait_drained(url, timeout=60)
        stored = stored_keys(receiver_url)
        stats = http_json(receiver_url + "/api/stats")["data"]
    finally:
        if feeder is not None:
            feeder.stop.set()
            feeder.join(timeout=ROUND_TIMEOUT_S)
        if device is not None:
            device.stop()
        receiver.stop()
    missing = accepted - set(stored)
    report(
        "kill -9 terminal",
        kills_survived=KILLS,
        records_offered=offered,
        records_accepted=len(accepted),
        queued_at_kills=sum(busy_at_kill),
        stored=len(stored),
        duplicates_refused=stats["duplicates"],
        missing=len(missing),
    )
    assert sum(busy_at_kill) > 0  # kills landed while records were still to be delivered
    assert not missing, sorted(missing)[:5]
    assert len(stored) == len(set(stored))  # stored once each
    assert status["set_aside"] == 0
