"""Fault injection on the push path: `facepush receiver serve --chaos SPEC`.

For QA teams testing terminals (ours or their own): with a given probability per push the
receiver answers late, hangs past the terminal's timeout, resets the connection, answers
HTTP 500, answers a body that is not JSON, answers a JSON `code` other than 200, or stores
the record and then drops the connection before replying. Seeded, so a run repeats.

SPEC is comma-separated `name=value`: fault probabilities (`late`, `hang`, `reset`, `http500`,
`garbage`, `code`, `drop-after-store`, summing to at most 1) and settings (`seed`,
`late-ms` default 200, `hang-s` default 30, `reply-code` default 500). Example:
`--chaos reset=0.05,http500=0.05,drop-after-store=0.05,seed=7`.
"""

from __future__ import annotations

import asyncio
import random
import socket
import struct
from collections import Counter
from dataclasses import dataclass, field

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from facepush.errors import (
    ChaosSpecError as ChaosSpecError,  # defined in facepush.errors; exported here as before
)
from facepush.protocol.ack import failure_reply

FAULTS = ("late", "hang", "reset", "http500", "garbage", "code", "drop-after-store")
_SETTINGS = {"seed": int, "late-ms": float, "hang-s": float, "reply-code": int}


@dataclass
class ChaosSpec:
    probabilities: dict[str, float] = field(default_factory=dict)
    seed: int = 0
    late_ms: float = 200.0
    hang_s: float = 30.0
    reply_code: int = 500

    @classmethod
    def parse(cls, text: str) -> ChaosSpec:
        spec = cls()
        for part in filter(None, (p.strip() for p in text.split(","))):
            name, sep, value = part.partition("=")
            if not sep:
                raise ChaosSpecError(f"{part!r} is not name=value")
            if name in FAULTS:
                spec.probabilities[name] = _probability(name, value)
            elif name in _SETTINGS:
                _setting(spec, name, value)
            else:
                known = ", ".join((*FAULTS, *_SETTINGS))
                raise ChaosSpecError(f"unknown name {name!r} (known: {known})")
        total = sum(spec.probabilities.values())
        if total > 1.0 + 1e-9:
            raise ChaosSpecError(f"fault probabilities add up to {total:g}, above 1")
        if spec.reply_code == 200:
            raise ChaosSpecError("reply-code must not be 200 (that is success)")
        return spec


def _probability(name: str, value: str) -> float:
    try:
        chance = float(value)
    except ValueError:
        raise ChaosSpecError(f"{name}={value!r} is not a number") from None
    if not 0.0 <= chance <= 1.0:
        raise ChaosSpecError(f"{name}={value} must be between 0 and 1")
    return chance


def _setting(spec: ChaosSpec, name: str, value: str) -> None:
    try:
        parsed = _SETTINGS[name](value)
    except ValueError:
        raise ChaosSpecError(f"{name}={value!r} is not a number") from None
    setattr(spec, name.replace("-", "_"), parsed)


class Chaos:
    """Draws one fault (or none) per push, from a seeded generator; counts what it did."""

    def __init__(self, spec: ChaosSpec) -> None:
        self.spec = spec
        self._rng = random.Random(spec.seed)
        self.counts: Counter[str] = Counter()

    def draw(self) -> str | None:
        roll = self._rng.random()
        for name in FAULTS:
            chance = self.spec.probabilities.get(name, 0.0)
            if roll < chance:
                self.counts[name] += 1
                return name
            roll -= chance
        return None

    def middleware(self, push_path: str) -> Middleware:
        """An aiohttp middleware that applies the faults to `POST push_path` only."""

        @web.middleware
        async def chaos(request: web.Request, handler: Handler) -> web.StreamResponse:
            if request.method != "POST" or request.path != push_path:
                return await handler(request)
            return await self._apply(self.draw(), request, handler)

        return chaos

    async def _apply(
        self, fault: str | None, request: web.Request, handler: Handler
    ) -> web.StreamResponse:
        spec = self.spec
        if fault is None:
            return await handler(request)
        if fault == "late":
            await asyncio.sleep(spec.late_ms / 1000)
            return await handler(request)
        await request.read()  # the terminal has sent its record before the fault strikes
        if fault == "hang":
            await asyncio.sleep(spec.hang_s)
            return _reset(request)
        if fault == "reset":
            return _reset(request)
        if fault == "http500":
            return web.Response(status=500, text="chaos: internal server error")
        if fault == "garbage":
            return web.Response(status=200, text="<html>chaos: not json</html>")
        if fault == "code":
            body = failure_reply(spec.reply_code, "chaos: refused for testing")
            return web.Response(body=body, content_type="application/json")
        await handler(request)  # drop-after-store: stored and committed, but never answered
        return _reset(request)


def _reset(request: web.Request) -> web.StreamResponse:
    """Abort the connection with a TCP reset; the client sees no reply at all."""
    transport = request.transport
    if transport is not None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    # aiohttp drops a reply written to an aborted transport; the client saw the reset.
    return web.Response(status=500)
