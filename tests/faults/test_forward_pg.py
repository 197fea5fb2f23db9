"""Two receivers on one PostgreSQL database, both ingesting, one sink: exactly one of them
forwards it (nothing sent twice while both live), every record reaches the sink with no
gap although the two commit interleaved, and when the forwarding one is killed (-9) the
other takes the lease within seconds; the only repeats are records sent before the kill
and sent again after it (the hand-over), counted."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from tests.faults.forwarding import check_order, interleaved, push_all, wait_until, write_config
from tests.forward.consumers import WebhookConsumer
from tests.support.processes import free_port
from tests.support.servers import http_json, key_of, report, start_receiver

RECORDS = 3000
DEVICES = 20


def _leased(url: str) -> bool:
    try:
        [sink] = http_json(url + "/api/forward", timeout=2)["data"]["items"]
    except OSError:
        return False
    return bool(sink["leased"])


async def test_two_receivers_one_sink_and_a_lease_hand_over(tmp_path: Path, pg_url: str) -> None:
    hook = WebhookConsumer()
    await hook.start()
    config = write_config(tmp_path / "receiver.toml", [hook.settings("hook")], db=pg_url)
    ports = [free_port(), free_port()]
    procs, urls = [], []
    for n, port in enumerate(ports):
        proc, url = start_receiver(tmp_path, "--config", str(config), port=port, name=f"rx{n}")
        procs.append(proc)
        urls.append(url)
    records = interleaved(RECORDS, DEVICES, seed=47)
    keys = [key_of(r) for r in records]
    pushed: dict[str, int] = {}
    pushing: asyncio.Task[dict[str, int]] | None = None
    try:

        async def one_holder() -> bool:
            return sum([_leased(u) for u in urls]) == 1

        await wait_until(one_holder, 30, "one receiver holding the lease")
        holder = 0 if _leased(urls[0]) else 1
        # Both ingest: the terminals take turns over the two receivers.
        pushing = asyncio.create_task(push_all(urls, records, pushers=DEVICES, counts=pushed))

        async def some_forwarded() -> bool:
            return len(hook.keys()) >= RECORDS // 3

        await wait_until(some_forwarded, 60, f"{RECORDS // 3} forwarded")
        procs[holder].kill9()
        killed_at, arrivals_at_kill = time.monotonic(), len(hook.arrivals)
        survivor = 1 - holder

        async def moved() -> bool:
            return await asyncio.to_thread(_leased, urls[survivor])

        await wait_until(moved, 30, "the survivor taking the lease")
        hand_over_s = time.monotonic() - killed_at
        # Back up (standby now), so that its terminals' pushes get through again.
        procs[holder], urls[holder] = await asyncio.to_thread(
            start_receiver,
            tmp_path,
            "--config",
            str(config),
            port=ports[holder],
            name=f"rx{holder}",
        )
        await asyncio.wait_for(pushing, 180)
        await hook.wait_keys(set(keys), timeout=120)
        restarted_leased = await asyncio.to_thread(_leased, urls[holder])
    finally:
        if pushing is not None:
            pushing.cancel()
        for proc in procs:
            proc.stop()
        await hook.stop()
    arrived = [a.key for a in hook.arrivals]
    by_sender: dict[str, list[str]] = {}
    for arrival in hook.arrivals:
        by_sender.setdefault(arrival.sender, []).append(arrival.key)
    first_holder = hook.arrivals[0].sender
    old = by_sender[first_holder]
    new = [k for sender, got in by_sender.items() if sender != first_holder for k in got]
    repeated = set(old) & set(new)
    report(
        "two receivers on PostgreSQL",
        records=RECORDS,
        arrivals=len(arrived),
        senders=len(by_sender),
        repeats_while_both_live=len(arrived[:arrivals_at_kill])
        - len(set(arrived[:arrivals_at_kill])),
        repeats_across_the_hand_over=len(repeated),
        hand_over_s=round(hand_over_s, 2),
        pushes=pushed.get("attempts"),
    )
    assert set(arrived[:arrivals_at_kill]) <= set(old)  # one forwarder while both live
    assert len(by_sender) == 2  # the first holder, then the survivor
    assert len(old) == len(set(old)) and len(new) == len(set(new))  # none twice from one
    assert set(arrived) == set(keys)  # no gap
    # The only repeats: records the old holder sent that the new one sent again.
    assert len(arrived) - len(set(arrived)) == len(repeated)
    check_order(arrived, records, "webhook")
    assert hand_over_s < 10
    assert not restarted_leased  # the restarted one waits in standby
