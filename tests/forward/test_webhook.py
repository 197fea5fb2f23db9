"""What only webhooks have: a record refused for good (set aside, visible, replayable
through the API, never blocking the rest), an endpoint refusing everything (nothing set
aside), the reply bound, redirects, and signatures that verify (checked by the
consumer with the standardwebhooks library)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from facepush.receiver import Store
from facepush.receiver.forward.settings import ForwardSettings
from facepush.receiver.settings import Tuning
from tests.forward.consumers import WebhookConsumer
from tests.support.forward import FAST, records, until
from tests.support.processes import free_port
from tests.support.receiver import Running, configured, running


@pytest.fixture
async def hook() -> AsyncIterator[WebhookConsumer]:
    consumer = WebhookConsumer()
    await consumer.start()
    try:
        yield consumer
    finally:
        await consumer.stop()


def _receiver(
    store: Store, hook: WebhookConsumer, **sink: Any
) -> contextlib.AbstractAsyncContextManager[Running]:
    settings = configured(store.url, forward=(hook.settings("hook", **sink),))
    return running(settings, store, Tuning(forward=FAST))


async def test_a_refused_record_is_set_aside_visible_and_replayable(
    store: Store, hook: WebhookConsumer
) -> None:
    stored = records(30, devices=3)
    bad = stored[10].key
    hook.answer = lambda key, item: 422 if key == bad else 200
    store.ingest(stored)
    async with _receiver(store, hook) as rx:
        await hook.wait_keys({r.key for r in stored} - {bad})
        status = await until(rx, lambda s: s["set_aside"] == 1 and s["pending"] == 0)
        assert (status["set_aside"], status["pending"], status["forwarded"]) == (1, 0, 29)
        aside = (await rx.get("/api/forward/hook/set-aside"))["data"]["items"]
        assert [(a["key"], a["error"][:8], a["attempts"]) for a in aside] == [(bad, "HTTP 422", 2)]
        assert hook.refused.count(bad) == 2  # refused twice while others got through
        hook.answer = lambda key, item: 200
        async with rx.session.post(
            rx.url + "/api/forward/hook/replay", json={"ids": [aside[0]["event_id"]]}
        ) as resp:
            reply = await resp.json()
        assert reply["data"] == {"replaying": 1}
        await hook.wait_keys({bad})
        status = await until(rx, lambda s: s["set_aside"] == 0)
        assert (status["set_aside"], status["forwarded"]) == (0, 30)
        assert (await rx.get("/api/forward/hook/set-aside"))["data"]["items"] == []
    assert hook.bad_signatures == 0
    print(f"webhook: 1 of 30 set aside after 2 refusals, replayed; {hook.requests} requests")


async def test_an_endpoint_refusing_everything_sets_nothing_aside(
    store: Store, hook: WebhookConsumer
) -> None:
    hook.answer = lambda key, item: 404
    store.ingest(records(10))
    async with _receiver(store, hook) as rx:
        status = await until(rx, lambda s: hook.requests >= 30)  # it keeps trying
        assert (status["set_aside"], status["forwarded"], status["pending"]) == (0, 0, 10)
        assert "HTTP 404" in str(status["last_error"])
        hook.answer = lambda key, item: 200
        await hook.wait_keys({r.key for r in records(10)})


async def test_api_names_an_unknown_sink_and_a_bad_replay_body(
    store: Store, hook: WebhookConsumer
) -> None:
    async with _receiver(store, hook) as rx:
        code, reply = await rx.status_of("/api/forward/nope/set-aside")
        assert (code, reply["code"]) == (404, 404)
        assert "no sink named 'nope' (sinks: 'hook')" in reply["msg"]
        async with rx.session.post(rx.url + "/api/forward/hook/replay", json={"ids": "x"}) as r:
            assert r.status == 400
            assert "ids: must be a list" in (await r.json())["msg"]


async def test_an_oversized_reply_or_a_redirect_is_not_an_acknowledgement(store: Store) -> None:
    big, redirected = web.Application(), web.Application()
    calls = {"big": 0, "redirect": 0}

    async def too_large(request: web.Request) -> web.StreamResponse:
        calls["big"] += 1
        resp = web.StreamResponse(status=200)  # chunked: no Content-Length to go by
        await resp.prepare(request)
        for _ in range(2048):
            await resp.write(b"x" * 1024)
        return resp

    async def moved(request: web.Request) -> web.Response:
        calls["redirect"] += 1
        raise web.HTTPFound("/elsewhere")

    big.router.add_post("/hook", too_large)
    redirected.router.add_post("/hook", moved)
    runners = []
    urls = []
    for app in (big, redirected):
        runner = web.AppRunner(app)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        runners.append(runner)
        urls.append(f"http://127.0.0.1:{port}/hook")
    store.ingest(records(3))
    try:
        sinks = (
            ForwardSettings(name="big", url=urls[0]),
            ForwardSettings(name="moved", url=urls[1]),
        )
        settings = configured(store.url, forward=sinks)
        async with running(settings, store, Tuning(forward=FAST)) as rx:
            deadline = time.monotonic() + 30
            while (calls["big"] < 3 or calls["redirect"] < 3) and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            items = {i["name"]: i for i in (await rx.get("/api/forward"))["data"]["items"]}
    finally:
        for runner in runners:
            await runner.cleanup()
    assert items["big"]["forwarded"] == 0 and items["big"]["pending"] == 3
    assert "larger than 1 MiB" in items["big"]["last_error"]
    assert items["moved"]["forwarded"] == 0 and items["moved"]["set_aside"] == 0
    assert "HTTP 302" in items["moved"]["last_error"]
    assert "redirect is not an acknowledgement" in items["moved"]["last_error"]
