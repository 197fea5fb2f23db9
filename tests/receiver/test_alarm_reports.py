"""/api/alarms carries what each alarm's raising report said (description, user, photo,
terminal), so that a client need not look for it in /api/events; both backends."""

from __future__ import annotations

import time
from typing import Any

from facepush.receiver import Store
from tests.support.receiver import Serve, make
from tests.support.records import alarm, jpeg


def report(
    trace: str, status: int, at: int, photo: bytes | None = None, **fields: object
) -> dict[str, Any]:
    record = alarm(trace, status, at, photo=photo)
    record["data"].update(fields)
    return record


def test_raising_report_fields(store: Store) -> None:
    t = 1_700_000_000_000
    store.ingest(
        [
            make(report("A", 1, t, description="case opened", user_id=42, photo=jpeg(3))),
            make(report("A", 3, t + 50, description="closed again", user_id=7, photo=jpeg(4))),
            # Two raising reports: the earlier one is the raising report.
            make(report("B", 1, t + 20, description="second", deviceSN="SN-B")),
            make(report("B", 1, t + 10, description="first", deviceSN="SN-B", photo=jpeg(5))),
            # The raising report never arrived: nothing to say.
            make(report("C", 3, t + 30, description="cleared only", photo=jpeg(6))),
            make(report("D", 1, t + 40, description=" ")),  # the vendor's blank
        ]
    )
    alarms = {a["trace_id"]: a for a in store.alarms(10)}
    a = alarms["A"]
    assert a["state"] == "cleared"
    assert (a["description"], a["user_id"], a["device"]) == ("case opened", "42", None)
    photo_a = make(report("A", 1, t, photo=jpeg(3))).image_id
    assert a["image_url"] == f"/api/images/{photo_a}"
    b = alarms["B"]
    assert (b["description"], b["device"], b["user_id"]) == ("first", "SN-B", None)
    assert b["image_url"] == f"/api/images/{make(report('B', 1, t, photo=jpeg(5))).image_id}"
    assert b["raised_at"] == t + 10 and b["reports"] == 2
    c = alarms["C"]
    assert c["state"] == "cleared"
    assert (c["description"], c["user_id"], c["image_url"], c["device"]) == (None,) * 4
    assert alarms["D"]["description"] == " " and alarms["D"]["image_url"] is None


async def test_alarms_api_has_the_raising_report(serve: Serve) -> None:
    rx = await serve()
    t = int(time.time() * 1000)
    await rx.push(report("R-1", 1, t, description="door forced", user_id=1001, photo=jpeg(8)))
    await rx.push(report("R-1", 2, t + 1, description="clearing failed"))
    await rx.push(report("R-2", 1, t + 2, description="tamper"))
    (first, second) = (await rx.get("/api/alarms"))["data"]["items"]
    assert first["trace_id"] == "R-2" and first["image_url"] is None
    assert first["description"] == "tamper" and first["user_id"] is None
    assert second["trace_id"] == "R-1" and second["state"] == "clear_failed"
    assert (second["description"], second["user_id"]) == ("door forced", "1001")
    async with rx.session.get(rx.url + second["image_url"]) as resp:
        assert resp.status == 200 and await resp.read() == jpeg(8)
    raised = (await rx.get(f"/api/events/a:R-1:1:{t}"))["data"]
    assert raised["image_url"] == second["image_url"]
