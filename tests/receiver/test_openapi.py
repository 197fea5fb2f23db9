"""The OpenAPI document: shipped in the package, copied to docs/, served, in step with the
app's routes (every route documented, every documented path routed), and true of what the
API sends (the dashboard reads the replies exactly as documented)."""

from __future__ import annotations

import re
from pathlib import Path

import jsonschema_rs
import pytest
import yaml

from facepush.receiver.app import OPENAPI
from tests.support.receiver import Serve, reply_validator
from tests.support.records import alarm, jpeg, recognition

DOCS = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"


@pytest.fixture
def backend() -> str:
    return "sqlite"


def test_docs_copy_is_the_shipped_document() -> None:
    assert DOCS.read_bytes() == OPENAPI.read_bytes(), "copy facepush/receiver/openapi.yaml to docs/"


async def test_document_matches_the_routes(serve: Serve) -> None:
    rx = await serve()
    routed: set[tuple[str, str]] = set()
    for route in rx.app.router.routes():
        if route.method == "HEAD":
            continue
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter") or ""
        if "prefix" in info:  # the dashboard's static files
            path = info["prefix"].rstrip("/") + "/{path}"
        path = re.sub(r"\{(\w+):[^}]+\}", r"{\1}", path)
        routed.add((route.method.lower(), path))
    document = yaml.safe_load(OPENAPI.read_text())
    documented = {
        (method, path)
        for path, operations in document["paths"].items()
        for method in operations
        if method in {"get", "post", "put", "delete", "patch"}
    }
    assert routed == documented


async def test_document_is_served(serve: Serve) -> None:
    rx = await serve()
    async with rx.session.get(rx.url + "/openapi.yaml") as resp:
        assert resp.status == 200
        assert yaml.safe_load(await resp.text())["openapi"].startswith("3.")


async def test_replies_are_what_the_document_says(serve: Serve) -> None:
    """Every reply the dashboard reads has the documented fields with their types, and the
    receiver's own objects (devices, alarms, stats, quarantine) carry nothing undocumented."""
    rx = await serve()
    timeless = recognition("no-time", image=jpeg(1))
    del timeless["data"]["timestamp"], timeless["data"]["user"]
    pushes = [
        recognition("with-all", image=jpeg(2), timestamp=1_700_000_000),
        timeless,
        alarm("T-doc", 1, 1_700_000_000_000, photo=jpeg(3)),
        alarm("T-doc", 2, 1_700_000_001_000),
        alarm("T-doc", 3, 1_700_000_002_000),
    ]
    for push in pushes:
        assert (await rx.push(push))[0] == 200
    assert (await rx.push(b'{"type": 5, "data": {}}'))[0] == 400  # kept in quarantine

    document = yaml.safe_load(OPENAPI.read_text())
    replies = {
        path: await rx.get(path)
        for path in (
            "/api/events",
            "/api/stats",
            "/api/devices",
            "/api/alarms",
            "/api/quarantine",
            "/dashboard/labels.json",
        )
    }
    assert len(replies["/api/events"]["data"]["items"]) == len(pushes)
    assert replies["/api/alarms"]["data"]["items"][0]["state"] == "cleared"
    assert replies["/api/devices"]["data"]["items"] and replies["/api/quarantine"]["data"]["items"]
    for path, reply in replies.items():
        errors = [e.message for e in reply_validator(document, path).iter_errors(reply)]
        assert not errors, (path, errors)
    one = await rx.get("/api/events/r:no-time")
    assert one["data"]["occurred_at"] is None
    assert not list(reply_validator(document, "/api/events/{key}").iter_errors(one))
    # Attendance (the pushed recognition happened on 2023-11-14, UTC) and a direction set.
    days = await rx.get("/api/attendance", **{"from": "2023-11-13", "to": "2023-11-15"})
    assert [item["user_id"] for item in days["data"]["items"]] == ["5"]
    assert not [e.message for e in reply_validator(document, "/api/attendance").iter_errors(days)]
    async with rx.session.put(
        rx.url + "/api/devices/PSC700C0MC22F02542", json={"direction": "in"}
    ) as resp:
        assert resp.status == 200
        put = await resp.json()
    pointer = (
        "#/paths/~1api~1devices~1%7Bserial%7D/put/responses/200/content/application~1json/schema"
    )
    assert jsonschema_rs.Draft202012Validator({**document, "$ref": pointer}).is_valid(put)
    devices = await rx.get("/api/devices")
    assert reply_validator(document, "/api/devices").is_valid(devices)

    # The check can fail: an undocumented or missing field is caught.
    device = dict(replies["/api/devices"]["data"]["items"][0], replaying_backlog=True)
    assert not reply_validator(document, "/api/devices").is_valid(
        {**replies["/api/devices"], "data": {"items": [device]}}
    )
    item = dict(replies["/api/events"]["data"]["items"][0])
    del item["key"]
    assert not reply_validator(document, "/api/events").is_valid(
        {**replies["/api/events"], "data": {"items": [item], "next": None}}
    )
