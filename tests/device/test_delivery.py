"""Delivery through a real socket to a real receiver with chaos, or to the recording
stand-in receiver: the acknowledgement rule, every failure kind, recovery, order, alarms
first, set-aside, configuration changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from facepush.backoff import Backoff
from tests.support.chaos import failing_receiver
from tests.support.device import ServiceFactory, eventually
from tests.support.processes import LOOPBACK, free_port
from tests.support.records import akey, alarm, recognition, rkey
from tests.support.standin import StandIn


def dead_url() -> str:
    return f"http://{LOOPBACK}:{free_port()}/Record"


@pytest.mark.parametrize("field", ["msg", "message"])
async def test_acknowledged_with_code_200_and_either_text_field(
    make_service: ServiceFactory, standin: StandIn, field: str
) -> None:
    standin.reply_text_field = field
    service = await make_service()
    await service.subscribe({"event_dest": standin.url, "enabled": True})
    assert (await service.record(recognition(1))).accepted == 1
    await standin.wait_acked({rkey(1)})
    await eventually(lambda: service.status()["delivered"] == 1, what="delivered 1")
    status = service.status()
    assert status["queued"] == 0 and status["state"] == "online"
    assert status["last_delivery_at"] is not None and status["last_error"] is None


FAILURES = {
    "http500": "HTTP 500",
    "code500": "reply code 500: chaos: refused for testing",
    "garbage": "not a JSON reply",
    "timeout": "no reply within 0.3 s",
    "reset": "connection to",
    "404": "HTTP 404",  # a wrong path: refuses everything
    "refuse": "HTTP 400",  # refuses everything
    "code400": "reply code 400",  # refuses everything
}


@pytest.mark.parametrize("mode", list(FAILURES))
async def test_each_failure_keeps_the_record_until_the_receiver_recovers(
    make_service: ServiceFactory, tmp_path: Path, mode: str
) -> None:
    """A real receiver behind the chaos middleware fails each push (HTTP 400 and 404 to
    everything: the stand-in) until it recovers."""
    async with failing_receiver(mode, f"sqlite:///{tmp_path / 'receiver.sqlite3'}") as receiver:
        service = await make_service(timeout=0.3, window=2)
        await service.subscribe({"event_dest": receiver.url, "enabled": True})
        await service.record([recognition(n) for n in range(3)])
        # Enough attempts that a refusal would have been set aside (max 5) if it could be.
        attempts = 8 if mode != "timeout" else 4
        await eventually(lambda: receiver.attempts() >= attempts, what=f"{attempts} attempts")
        status = service.status()
        assert status["queued"] == 3 and status["delivered"] == 0 and status["set_aside"] == 0
        assert FAILURES[mode] in (status["last_error"] or ""), status["last_error"]
        receiver.recover()
        await receiver.wait_acked({rkey(n) for n in range(3)})
        await eventually(lambda: service.status()["queued"] == 0, what="queue empty")
        assert service.status()["set_aside"] == 0 and service.status()["delivered"] == 3


async def test_status_says_offline_while_the_receiver_is_down(
    make_service: ServiceFactory,
) -> None:
    service = await make_service()
    await service.subscribe({"event_dest": dead_url(), "enabled": True})
    await service.record(recognition(1))
    await eventually(lambda: service.status()["state"] == "offline", what="offline")
    assert "cannot connect" in service.status()["last_error"]


@pytest.mark.parametrize("window", [1, None])
async def test_recovery_after_an_outage_delivers_the_whole_backlog(
    make_service: ServiceFactory, window: int | None
) -> None:
    port = free_port()
    service = await make_service(window=window)
    await service.subscribe({"event_dest": f"http://{LOOPBACK}:{port}/Record", "enabled": True})
    for start in range(0, 300, 50):
        await service.record([recognition(n) for n in range(start, start + 50)])
    await eventually(lambda: service.status()["state"] == "offline", what="offline")
    receiver = StandIn()
    await receiver.start(port=port)
    try:
        expected = [rkey(n) for n in range(300)]
        await receiver.wait_acked(set(expected))
        acked = list(dict.fromkeys(receiver.acked_keys()))
        if window == 1:
            assert acked == expected  # strict accept order, each once
            assert len(receiver.pushes) == 300
        else:
            assert sorted(acked) == expected
        await eventually(lambda: service.status()["queued"] == 0, what="queue empty")
        assert service.status()["state"] == "online"
    finally:
        await receiver.stop()


async def test_alarms_overtake_a_recognition_backlog(
    make_service: ServiceFactory, standin: StandIn
) -> None:
    service = await make_service(window=1)
    await service.subscribe({"event_dest": dead_url(), "enabled": True})
    await service.record([recognition(n) for n in range(200)])
    await service.record(alarm(1))
    await service.record([recognition(n) for n in range(200, 210)])
    await service.subscribe({"event_dest": standin.url})
    await standin.wait_acked({akey(1)})
    assert standin.acked_keys()[0] == akey(1)  # the first push after recovery
    # A live alarm during a draining backlog goes out next, not after the backlog.
    standin.delay = 0.005
    await eventually(lambda: len(standin.pushes) > 20, what="draining")
    await service.record(alarm(2))
    await standin.wait_acked({akey(2)})
    assert len(standin.acked_keys()) < 100
    await standin.wait_acked(211 + 1)


async def test_a_specifically_refused_record_is_set_aside_and_replayable(
    make_service: ServiceFactory, standin: StandIn
) -> None:
    standin.refuse_keys = {rkey(3)}
    service = await make_service(window=1)
    await service.subscribe({"event_dest": standin.url, "enabled": True})
    await service.record([recognition(n) for n in range(10)])
    others = {rkey(n) for n in range(10)} - {rkey(3)}
    await standin.wait_acked(others)
    await eventually(lambda: service.status()["set_aside"] == 1, what="set aside")
    status = service.status()
    assert status["queued"] == 0 and status["delivered"] == 9
    (item,) = await service.list_set_aside()
    assert item["key"] == rkey(3) and item["attempts"] == 5
    assert "422" in item["reason"] and item["record"] == recognition(3)
    assert [p.key for p in standin.pushes].count(rkey(3)) == 5
    standin.refuse_keys = set()
    assert await service.replay([item["id"]]) == 1
    await standin.wait_acked({rkey(3)})
    await eventually(lambda: service.status()["set_aside"] == 0, what="replayed")


async def test_a_change_of_destination_takes_effect_at_once(
    make_service: ServiceFactory, standin: StandIn
) -> None:
    # A long backoff: only the configuration change can explain a quick delivery.
    service = await make_service(backoff=Backoff(base=20, cap=30))
    await service.subscribe({"event_dest": dead_url(), "enabled": True})
    await service.record([recognition(n) for n in range(20)])
    await eventually(lambda: service.status()["state"] == "offline", what="offline")
    await service.subscribe({"event_dest": standin.url})
    await standin.wait_acked({rkey(n) for n in range(20)}, timeout=5)


async def test_disabled_push_queues_nothing_new_and_keeps_the_cache(
    make_service: ServiceFactory, standin: StandIn
) -> None:
    service = await make_service()
    result = await service.record(recognition(0))
    assert (result.accepted, result.skipped) == (0, 1)
    assert service.status()["state"] == "unconfigured"
    standin.mode = "http500"
    await service.subscribe({"event_dest": standin.url, "enabled": True})
    await service.record([recognition(n) for n in range(1, 4)])
    await service.subscribe({"enabled": False})
    result = await service.record([recognition(n) for n in range(4, 6)])
    assert (result.accepted, result.skipped) == (0, 2)
    status = service.status()
    assert status["state"] == "disabled" and status["queued"] == 3
    standin.mode = "ok"
    await service.subscribe({"enabled": True})
    await standin.wait_acked({rkey(n) for n in range(1, 4)})
    await eventually(lambda: service.status()["queued"] == 0, what="drained")
    assert {rkey(0), rkey(4), rkey(5)}.isdisjoint(standin.seen_keys())


async def test_the_cap_evicts_oldest_recognitions_with_drop_oldest(
    make_service: ServiceFactory, standin: StandIn
) -> None:
    service = await make_service(cache_limit=10)
    await service.subscribe({"event_dest": dead_url(), "enabled": True})
    await service.record(alarm(1))
    for n in range(14):
        await service.record(recognition(n))
    status = service.status()
    assert status["evicted"] == 5 and status["queued"] == 10 and status["queued_alarms"] == 1
    await service.subscribe({"event_dest": standin.url})
    await standin.wait_acked(10)
    assert set(standin.acked_keys()) == {akey(1)} | {rkey(n) for n in range(5, 14)}


async def test_restart_resumes_the_backlog(
    make_service: ServiceFactory, standin: StandIn, tmp_path: Path
) -> None:
    first = await make_service(tmp_path / "d")
    await first.subscribe({"event_dest": dead_url(), "enabled": True})
    await first.record([recognition(n) for n in range(30)])
    await first.subscribe({"event_dest": standin.url, "enabled": False})
    await first.stop()
    second = await make_service(tmp_path / "d")
    assert second.subscription is not None and not second.subscription.enabled
    assert second.status()["queued"] == 30
    await second.subscribe({"enabled": True})
    await standin.wait_acked({rkey(n) for n in range(30)})


async def test_memory_backend_serves_embedding(
    make_service: ServiceFactory, standin: StandIn
) -> None:
    service = await make_service(None)
    await service.subscribe({"event_dest": standin.url, "enabled": True})
    await service.record([recognition(n) for n in range(50)] + [alarm(1)])
    await standin.wait_acked(51)
    assert await service.wait_idle(5)
    assert service.status()["delivered"] == 51


async def test_evictions_and_a_filling_cache_are_logged(
    make_service: ServiceFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="facepush.device")
    service = await make_service(cache_limit=10)
    await service.subscribe({"event_dest": dead_url(), "enabled": True})
    await service.record([recognition(n) for n in range(7)])
    assert "cache is" not in caplog.text
    await service.record(recognition(7))
    assert "cache is 80% full (8 of 10 records)" in caplog.text
    await service.record([recognition(n) for n in range(8, 12)])
    assert f"evicted 2 oldest record(s): {rkey(0)}, {rkey(1)}" in caplog.text
    assert service.status()["evicted"] == 2
