"""Managed terminals end to end: real `facepush device serve` and `facepush receiver serve`
processes on loopback. Nothing is lost (a record the push cache evicted comes from history),
nothing is stored twice (pushes and reconciliation racing), a wrong clock is measured and
never applied, and a terminal that dies is offline within two pings and online again after.
"""

from __future__ import annotations

import time
from pathlib import Path

from tests.receiver.managed import (
    USER,
    basic,
    call,
    event_keys,
    labelled,
    receiver_config,
    record,
    start_receiver,
    terminal,
    text,
    wait_for,
)
from tests.support.device import start_device
from tests.support.processes import free_port
from tests.support.receiver import metric_value

PASSWORD = "terminal-pw-7c1e"
AUTH = basic(PASSWORD)
POLL = 0.5


def make_records(device: str, prefix: str, count: int, serial: str, base: int) -> None:
    """Hand `count` records to the terminal, a cache-full at a time (100)."""
    for start in range(0, count, 100):
        batch = [record(n, prefix, serial, base) for n in range(start, min(count, start + 100))]
        assert call(device + "/push/records", batch, AUTH)["accepted"] == len(batch)


def managed(device: str) -> dict[str, object]:
    return {"url": device, "username": USER, "password_env": "TERMINAL_PW"}


def test_zero_loss_every_evicted_record_comes_from_history(tmp_path: Path) -> None:
    """1,000 records while the receiver is down, 900 evicted from a cache of 100: one
    reconciliation stores every one of the 1,000 once; 900 only history had."""
    account = ["--username", USER, "--password", PASSWORD, "--sn", "SN-ZL"]
    device, url = start_device(
        tmp_path, "--data", str(tmp_path / "d"), "--cache-limit", "100", *account
    )
    port = free_port()
    push_url = f"http://127.0.0.1:{port}/Record"  # the receiver's, while it is down
    rx_proc = None
    try:
        call(url + "/v1/event/subscribe", {"event_dest": push_url, "enabled": True}, AUTH)
        base = int(time.time()) - 7200
        make_records(url, "zl", 1000, "SN-ZL", base)
        status = call(url + "/push/status", headers=AUTH)
        assert (status["evicted"], status["queued"], status["history"]) == (900, 100, 1000)

        config = receiver_config(
            tmp_path / "rx.toml", [managed(url)], public_url=push_url, terminal_poll=POLL
        )
        rx_proc, rx = start_receiver(tmp_path, config, env={"TERMINAL_PW": PASSWORD}, port=port)
        first = wait_for(lambda: (t := terminal(rx))["reconciliations"] and t, "a reconciliation")
        assert first["last_reconcile"]["error"] is None and first["reconciliations"] == 1
        expected = sorted(f"r:zl-{n:05d}" for n in range(1000))
        assert sorted(event_keys(rx)) == expected  # every one, each once, by uuid
        assert call(rx + "/api/stats")["recognitions"] == 1000

        # The terminal delivers its cache (at once: a subscription resets its backoff);
        # then what only history had is exactly what the cache had evicted.
        call(url + "/v1/event/subscribe", {"event_dest": push_url, "enabled": True}, AUTH)
        wait_for(lambda: call(url + "/push/status", headers=AUTH)["queued"] == 0, "delivery")
        item = terminal(rx)
        assert item["repaired"] == 900 and item["subscribed"] is True, item
        assert item["reconciled_until"] == (base + 99) * 1000  # the newest record's time
        history = event_keys(rx, origin="history")
        assert len(history) >= 900 and len(history) + len(event_keys(rx, origin="push")) == 1000
        assert call(rx + "/api/stats")["recognitions"] == 1000
        assert labelled(text(rx + "/metrics"), "facepush_receiver_terminal_repaired", url) == 900
    finally:
        if rx_proc is not None:
            rx_proc.stop()
        device.stop()


def test_pushes_and_reconciliation_racing_store_each_record_once(
    tmp_path: Path, db_url: str
) -> None:
    """The backlog is pushed while reconciliations read the same records from history."""
    account = ["--username", USER, "--password", PASSWORD, "--sn", "SN-RACE"]
    device, url = start_device(tmp_path, "--data", str(tmp_path / "d"), *account)
    port = free_port()
    push_url = f"http://127.0.0.1:{port}/Record"
    rx_proc = None
    try:
        call(url + "/v1/event/subscribe", {"event_dest": push_url, "enabled": True}, AUTH)
        make_records(url, "race", 1000, "SN-RACE", int(time.time()) - 600)
        config = receiver_config(
            tmp_path / "rx.toml", [managed(url)], public_url=push_url, terminal_poll=POLL
        )
        rx_proc, rx = start_receiver(
            tmp_path, config, "--db", db_url, env={"TERMINAL_PW": PASSWORD}, port=port
        )
        call(url + "/v1/event/subscribe", {"event_dest": push_url, "enabled": True}, AUTH)
        runs = 0
        while call(url + "/push/status", headers=AUTH)["queued"] and runs < 50:
            call(rx + "/api/terminals/reconcile", {})  # a run while the backlog arrives
            runs += 1
        wait_for(lambda: call(url + "/push/status", headers=AUTH)["queued"] == 0, "delivery")
        final = call(rx + "/api/terminals/reconcile", {})["items"][0]
        assert final["last_reconcile"]["stored"] == 0 and final["last_error"] is None
        assert sorted(event_keys(rx)) == sorted(f"r:race-{n:05d}" for n in range(1000))
        stats = call(rx + "/api/stats")
        assert stats["recognitions"] == 1000
        # Every record came both ways: pushed once, read from history at least once.
        history_dups = metric_value(
            text(rx + "/metrics"), "facepush_receiver_history_duplicates_total"
        )
        pushed_first = len(event_keys(rx, origin="push"))
        assert stats["duplicates"] == 1000 - pushed_first  # the pushes history was first for
        assert history_dups >= 1000, history_dups
        # The push cache held every record: history had none alone.
        assert final["repaired"] == 0, final
    finally:
        if rx_proc is not None:
            rx_proc.stop()
        device.stop()


def test_a_clock_5_minutes_fast_is_measured_and_never_applied(tmp_path: Path) -> None:
    account = ["--username", USER, "--password", PASSWORD, "--sn", "SN-FAST"]
    device, url = start_device(
        tmp_path, "--data", str(tmp_path / "d"), "--clock-offset", "300", *account
    )
    port = free_port()
    push_url = f"http://127.0.0.1:{port}/Record"
    rx_proc = None
    try:
        config = receiver_config(
            tmp_path / "rx.toml", [managed(url)], public_url=push_url, terminal_poll=POLL
        )
        rx_proc, rx = start_receiver(tmp_path, config, env={"TERMINAL_PW": PASSWORD}, port=port)
        item = wait_for(lambda: (t := terminal(rx))["subscribed"] and t, "subscribed")
        assert abs(item["clock_offset_ms"] - 300_000) <= 1000, item
        assert item["clock_offset_words"] == {"en": "clock 5 min fast", "zh": "时钟快 5 分"}
        offset = labelled(
            text(rx + "/metrics"), "facepush_receiver_terminal_clock_offset_seconds", url
        )
        assert abs(offset - 300) <= 1
        # A record keeps the time its terminal gave it: own time, or the fast clock's.
        stamped = record(0, "fast", "SN-FAST", 1_700_000_000)
        unstamped = record(1, "fast", "SN-FAST", 0)
        del unstamped["data"]["timestamp"]
        before = time.time()
        call(url + "/push/records", [stamped, unstamped], AUTH)
        wait_for(lambda: call(rx + "/api/stats")["recognitions"] == 2, "both pushed")
        kept = {k: call(rx + f"/api/events/{k}") for k in ("r:fast-00000", "r:fast-00001")}
        assert kept["r:fast-00000"]["occurred_at"] == 1_700_000_000_000
        late_by = kept["r:fast-00001"]["occurred_at"] / 1000 - before
        assert 299 <= late_by <= 301 + (time.time() - before), late_by
    finally:
        if rx_proc is not None:
            rx_proc.stop()
        device.stop()


def test_a_killed_terminal_is_offline_within_two_pings_and_online_again_after(
    tmp_path: Path,
) -> None:
    data = tmp_path / "d"
    account = ["--username", USER, "--password", PASSWORD, "--sn", "SN-KILL"]
    port = free_port()
    listen = ["--listen", f"127.0.0.1:{port}"]
    device, url = start_device(tmp_path, "--data", str(data), *account, *listen)
    rx_proc = None
    try:
        config = receiver_config(tmp_path / "rx.toml", [managed(url)], terminal_poll=POLL)
        rx_proc, rx = start_receiver(tmp_path, config, env={"TERMINAL_PW": PASSWORD})
        wait_for(lambda: terminal(rx)["reconciliations"] == 1, "online and reconciled")
        before = terminal(rx)
        assert before["online"] and before["last_error"] is None
        device.kill9()
        after = wait_for(lambda: not (t := terminal(rx))["online"] and t, "offline")
        assert after["pings"] - before["pings"] <= 2, (before, after)  # within two intervals
        assert after["last_error"].startswith(f"ping: {url}/v2/datasync/ping: no answer")
        assert after["offline_since"] is not None
        assert labelled(text(rx + "/metrics"), "facepush_receiver_terminal_online", url) == 0

        device, _ = start_device(tmp_path, "--data", str(data), *account, *listen)
        back = wait_for(lambda: (t := terminal(rx))["online"] and t, "online again")
        assert back["last_error"] is None and back["offline_since"] is None
        # Coming back online starts a reconciliation.
        wait_for(lambda: terminal(rx)["reconciliations"] == 2, "a reconciliation on return")
    finally:
        if rx_proc is not None:
            rx_proc.stop()
        device.stop()
