"""A record whose identity cannot travel in an HTTP header never gets stuck: the terminal
refuses it at intake with the field named; one already cached (by an older version) is
refused by the delivery loop and set aside; and any error in an attempt is a counted
failure, never an exception that kills the delivery task."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp

from facepush.device.delivery import Deliverer
from facepush.device.memory_outbox import MemoryOutbox
from facepush.device.outbox import NewRecord
from facepush.device.sender import Destination
from facepush.protocol import dump_json
from tests.support.device import ServiceFactory, eventually, start_device
from tests.support.records import alarm, recognition, rkey
from tests.support.standin import StandIn

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def with_uuid(uuid: str) -> dict[str, Any]:
    record = recognition(1)
    record["data"]["uuid"] = uuid
    return record


def with_trace_id(trace_id: str) -> dict[str, Any]:
    record = alarm(1)
    record["data"]["trace_id"] = trace_id
    return record


async def post(url: str, body: Any) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as session, session.post(url, json=body) as resp:
        return resp.status, dict(json.loads(await resp.read()))


REFUSED = [
    (with_uuid("a\r\nX-Injected: 1"), "data.uuid", "U+000D (CR) at offset 1"),
    (with_uuid("a\nb"), "data.uuid", "U+000A (LF)"),
    (with_uuid("a\x00b"), "data.uuid", "U+0000 (NUL)"),
    (with_uuid("a\x1bb"), "data.uuid", "U+001B"),
    (with_uuid("abc "), "data.uuid", "ends with a space"),
    (with_uuid("u" * 1025), "data.uuid", "longer than 1024 bytes"),
    (with_trace_id("SPX\r\n1"), "data.trace_id", "U+000D (CR)"),
    ([recognition(1), recognition(2), with_uuid("x\x7f")], "[2].data.uuid", "(DEL)"),
]


async def test_intake_refuses_identities_that_cannot_travel_in_a_header(
    tmp_path: Path, standin: StandIn
) -> None:
    proc, url = start_device(tmp_path, "--data", str(tmp_path / "d"), "--signing-secret", SECRET)
    try:
        status, reply = await post(
            url + "/v1/event/subscribe", {"event_dest": standin.url, "enabled": True}
        )
        assert reply["code"] == 200, reply
        for body, field, problem in REFUSED:
            status, reply = await post(url + "/push/records", body)
            assert status == 400 and reply["code"] == 400, reply
            assert reply["msg"].startswith(f"{field}: "), reply["msg"]
            assert problem in reply["msg"], reply["msg"]
        async with aiohttp.ClientSession() as session, session.get(url + "/push/status") as resp:
            queued = json.loads(await resp.read())["data"]["queued"]
        assert queued == 0  # nothing of a refused batch was stored
    finally:
        proc.stop()


async def test_identities_that_travel_are_accepted(tmp_path: Path, standin: StandIn) -> None:
    proc, url = start_device(tmp_path, "--data", str(tmp_path / "d"), "--signing-secret", SECRET)
    try:
        await post(url + "/v1/event/subscribe", {"event_dest": standin.url, "enabled": True})
        fine = [with_uuid("王五-0001"), with_uuid("a b"), with_uuid("u" * 1024)]
        _, reply = await post(url + "/push/records", fine)
        assert reply["code"] == 200 and reply["data"]["accepted"] == 3, reply
        await standin.wait_acked(3)
        signed = {p.key: p.headers["webhook-id"] for p in standin.pushes}
        assert signed["r:王五-0001"] == "r:王五-0001"
    finally:
        proc.stop()


async def test_a_cached_record_that_cannot_be_signed_is_set_aside_not_stuck(
    make_service: ServiceFactory, standin: StandIn
) -> None:
    # As a record cached by a version that did not check identities at intake.
    outbox = MemoryOutbox(1000)
    bad = with_uuid("bad\r\nX-Injected: 1")
    outbox.add([NewRecord(0, "r:bad\r\nX-Injected: 1", dump_json(bad))], 0)
    service = await make_service(None, outbox=outbox, signing_secret=SECRET, max_refusals=3)
    await service.subscribe({"event_dest": standin.url, "enabled": True})
    for n in range(2, 12):
        await service.record(recognition(n))
        await standin.wait_acked({rkey(n)})  # the others keep getting through meanwhile
    await eventually(lambda: service.status()["set_aside"] == 1, what="bad record set aside")
    aside = await service.list_set_aside()
    assert aside[0]["key"] == "r:bad\r\nX-Injected: 1"
    assert "cannot be the webhook-id header" in aside[0]["reason"]
    assert "U+000D (CR)" in aside[0]["reason"]
    assert service.status()["queued"] == 0
    assert all("\r" not in p.key for p in standin.pushes)  # never sent, never injected
    await service.record(recognition(99))  # the loop is alive
    await standin.wait_acked({rkey(99)})


async def test_any_error_in_an_attempt_is_a_counted_failure(standin: StandIn) -> None:
    session = aiohttp.ClientSession()
    await session.close()  # every request now raises RuntimeError, not a network error
    outbox = MemoryOutbox(100)
    outbox.add([NewRecord(0, rkey(1), dump_json(recognition(1)))], 0)
    deliverer = Deliverer(outbox, Destination(standin.url), session=session)
    await deliverer.start()
    try:
        await eventually(lambda: deliverer.stats.last_error is not None, what="a failure")
        assert deliverer.stats.last_error == "not sent: RuntimeError: Session is closed"
        # It keeps trying (the delivery task did not die), backing off as nothing gets
        # through; and since nothing gets through the record is not blamed: it stays
        # queued, not set aside.
        await eventually(lambda: outbox.peek(0, 0, 1)[0].attempts >= 3, what="retries")
        assert deliverer.failing
        assert outbox.counts().queued == 1 and deliverer.stats.set_aside == 0
    finally:
        await deliverer.stop()
