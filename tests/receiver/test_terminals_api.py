"""`GET /api/terminals` and `POST /api/terminals/reconcile` as documented: the replies
match the OpenAPI document's closed schemas, and a bad request is named, refused across
sites (Origin) and without the JSON content type, as every management write is."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import jsonschema_rs
import pytest
import yaml

from facepush.receiver.app import OPENAPI
from facepush.receiver.terminals.settings import TerminalSettings
from tests.receiver.fake_terminal import FakeTerminal, history_item
from tests.support.receiver import Serve, reply_validator


@pytest.fixture
def backend() -> str:
    return "sqlite"


@pytest.fixture
async def fake() -> AsyncIterator[FakeTerminal]:
    terminal = FakeTerminal(items=[history_item("a-1", 1_700_000_000)])
    await terminal.start()
    try:
        yield terminal
    finally:
        await terminal.stop()


async def test_replies_are_what_the_document_says(fake: FakeTerminal, serve: Serve) -> None:
    rx = await serve(
        terminal=(TerminalSettings(url=fake.url), TerminalSettings(url="http://127.0.0.1:9")),
        public_url="http://127.0.0.1:8080/Record",
    )
    deadline = time.monotonic() + 20
    while not all(t["pings"] for t in (await rx.get("/api/terminals"))["data"]["items"]):
        assert time.monotonic() < deadline, "no ping round within 20 s"
        await asyncio.sleep(0.02)
    async with rx.session.post(rx.url + "/api/terminals/reconcile", json={}) as resp:
        reconciled = await resp.json()
    assert resp.status == 200, reconciled
    listed = await rx.get("/api/terminals")
    document = yaml.safe_load(OPENAPI.read_text())
    good, dead = listed["data"]["items"]
    assert good["online"] and good["subscribed"] and good["last_reconcile"]["read"] == 1
    assert good["event_dest"] == "http://127.0.0.1:8080/Record"  # subscribed by the receiver
    assert good["clock_offset_words"]["en"] == "clock right"
    assert not dead["online"] and dead["last_error"].startswith("ping: ")
    assert dead["last_reconcile"]["error"].startswith("info: ")
    assert not list(reply_validator(document, "/api/terminals").iter_errors(listed))
    pointer = (
        "#/paths/~1api~1terminals~1reconcile/post/responses/200/content/application~1json/schema"
    )
    validator = jsonschema_rs.Draft202012Validator({**document, "$ref": pointer})
    assert not list(validator.iter_errors(reconciled))
    item = (await rx.get("/api/events"))["data"]["items"][0]
    assert item["origin"] == "history"
    assert not list(
        reply_validator(document, "/api/events").iter_errors(await rx.get("/api/events"))
    )
    # The check can fail: an undocumented field is caught.
    bad = {**listed, "data": {"items": [{**good, "password": "x"}]}}
    assert not reply_validator(document, "/api/terminals").is_valid(bad)


async def test_bad_reconcile_requests_are_named(fake: FakeTerminal, serve: Serve) -> None:
    rx = await serve(terminal=(TerminalSettings(url=fake.url),))
    url = rx.url + "/api/terminals/reconcile"
    json_type = {"Content-Type": "application/json"}
    cases = [
        (b"{not json", json_type, 400, "body: not JSON"),
        (b"[1]", json_type, 400, "body: expected a JSON object"),
        (b'{"uri": "x"}', json_type, 400, "uri: unknown field"),
        (b'{"url": 5}', json_type, 400, "url: expected a string"),
        (b'{"url": "http://127.0.0.1:1"}', json_type, 404, "'http://127.0.0.1:1' is not a managed"),
        (b"{}", {"Content-Type": "text/plain"}, 415, "Content-Type must be application/json"),
        (b"{}", {**json_type, "Origin": "http://evil.example"}, 403, "cross-site request refused"),
    ]
    for body, headers, status, text in cases:
        async with rx.session.post(url, data=body, headers=headers) as resp:
            reply = await resp.json()
        assert resp.status == status and reply["code"] == status, (body, reply)
        assert text in reply["msg"], (body, reply)
    async with rx.session.post(url, json={"url": fake.url + "/"}) as resp:  # as configured
        assert resp.status == 200 and (await resp.json())["data"]["items"][0]["url"] == fake.url
    async with rx.session.get(rx.url + "/api/events", params={"origin": "pushed"}) as resp:
        reply = await resp.json()
    assert resp.status == 400 and reply["msg"].startswith("origin: 'pushed' is not push or history")
