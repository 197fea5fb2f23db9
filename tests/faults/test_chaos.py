"""The chaos middleware: each fault does what it says, on real sockets, seeded."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from facepush.protocol import DeliveryOutcome, classify_reply, success_reply
from facepush.receiver.chaos import Chaos, ChaosSpec, ChaosSpecError


async def _serve(spec: str, stored: list[bytes]) -> tuple[web.AppRunner, str]:
    async def push(request: web.Request) -> web.Response:
        stored.append(await request.read())
        return web.Response(body=success_reply(), content_type="application/json")

    chaos = Chaos(ChaosSpec.parse(spec))
    app = web.Application(middlewares=[chaos.middleware("/Record")])
    app.router.add_post("/Record", push)

    async def health(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app.router.add_get("/healthz", health)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as client:
        yield client


async def _push(session: aiohttp.ClientSession, url: str) -> DeliveryOutcome | str:
    try:
        async with session.post(url + "/Record", data=b'{"type":0}') as resp:
            return classify_reply(resp.status, await resp.read()).outcome
    except (aiohttp.ClientError, TimeoutError) as exc:
        return type(exc).__name__


# A reset shows up as either, depending on when the client reads.
DISCONNECTED = {"ServerDisconnectedError", "ClientOSError"}


@pytest.mark.parametrize(
    ("spec", "seen", "stored_count"),
    [
        ("", DeliveryOutcome.DELIVERED, 1),
        ("late=1,late-ms=50", DeliveryOutcome.DELIVERED, 1),
        ("http500=1", DeliveryOutcome.RETRY, 0),
        ("garbage=1", DeliveryOutcome.RETRY, 0),
        ("code=1", DeliveryOutcome.RETRY, 0),
        ("code=1,reply-code=422", DeliveryOutcome.REFUSED, 0),
        ("reset=1", DISCONNECTED, 0),
        ("drop-after-store=1", DISCONNECTED, 1),
        ("hang=1,hang-s=5", {"TimeoutError"}, 0),
    ],
)
async def test_each_fault(
    session: aiohttp.ClientSession, spec: str, seen: DeliveryOutcome | set[str], stored_count: int
) -> None:
    stored: list[bytes] = []
    runner, url = await _serve(spec, stored)
    try:
        result = await _push(session, url)
        assert result in seen if isinstance(seen, set) else result == seen
        assert len(stored) == stored_count
        async with session.get(url + "/healthz") as resp:  # other paths are left alone
            assert resp.status == 200
    finally:
        await asyncio.wait_for(runner.cleanup(), 10)


def test_draws_repeat_with_the_seed_and_follow_the_probabilities() -> None:
    spec = "reset=0.1,http500=0.2,drop-after-store=0.1,seed=9"
    first = Chaos(ChaosSpec.parse(spec))
    again = Chaos(ChaosSpec.parse(spec))
    draws = [first.draw() for _ in range(5000)]
    assert draws == [again.draw() for _ in range(5000)]
    assert 0.17 < draws.count("http500") / 5000 < 0.23
    assert 0.57 < draws.count(None) / 5000 < 0.63
    assert first.counts["reset"] == draws.count("reset")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("reset", "'reset' is not name=value"),
        ("explode=0.1", "unknown name 'explode'"),
        ("reset=2", "reset=2 must be between 0 and 1"),
        ("reset=x", "reset='x' is not a number"),
        ("reset=0.6,http500=0.6", "add up to 1.2, above 1"),
        ("code=1,reply-code=200", "reply-code must not be 200"),
    ],
)
def test_bad_specs_are_named(spec: str, message: str) -> None:
    with pytest.raises(ChaosSpecError, match=message):
        ChaosSpec.parse(spec)
