"""Real consumers of the three kinds of sink, each counting what arrived by key: an MQTT
subscriber (aiomqtt), a reader of the JetStream stream (nats-py), and an HTTP server
(aiohttp) that checks the Standard Webhooks signature and answers as a test tells it."""

from __future__ import annotations

import abc
import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiomqtt
import nats
import standardwebhooks
from aiohttp import web
from nats.js.api import ConsumerConfig, DeliverPolicy

from facepush.receiver.forward.settings import ForwardSettings
from tests.forward.brokers import SHARED_MQTT, SHARED_NATS
from tests.support.processes import free_port

KINDS = ["mqtt", "nats", "webhook"]


@dataclass(frozen=True)
class Arrival:
    key: str
    device: str
    kind: str  # recognition | alarm
    item: dict[str, Any]
    where: str  # topic, subject or path
    sender: str = ""  # webhook: the User-Agent (which receiver process delivered)


class Consumer(abc.ABC):
    kind: str

    def __init__(self, url: str | None = None) -> None:
        self.tag = f"t{uuid.uuid4().hex[:10]}"
        self.url = url
        self.arrivals: list[Arrival] = []

    @abc.abstractmethod
    def settings(self, name: str = "sink", **overrides: Any) -> ForwardSettings: ...

    async def start(self) -> None:  # noqa: B027 - most consumers need no start
        pass

    async def stop(self) -> None:  # noqa: B027
        pass

    async def refresh(self) -> None:  # noqa: B027 - read what arrived (JetStream: the stream)
        pass

    def keys(self) -> set[str]:
        return {a.key for a in self.arrivals}

    async def wait_keys(self, keys: set[str], timeout: float = 60.0) -> None:
        """Until every key in `keys` arrived (bounded)."""
        deadline = time.monotonic() + timeout
        while True:
            await self.refresh()
            missing = keys - self.keys()
            if not missing:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(missing)} of {len(keys)} never arrived at {self.kind}")
            await asyncio.sleep(0.05)


class MqttConsumer(Consumer):
    kind = "mqtt"

    def __init__(self, url: str | None = None) -> None:
        super().__init__(url or SHARED_MQTT)
        self.messages: list[aiomqtt.Message] = []
        self._task: asyncio.Task[None] | None = None
        self._client: aiomqtt.Client | None = None
        self.prefix = f"ha{self.tag}"  # a discovery prefix of the test's own

    def settings(self, name: str = "sink", **overrides: Any) -> ForwardSettings:
        values: dict[str, Any] = {"name": name, "url": self.url, "topic": self.tag, **overrides}
        if values.get("homeassistant"):
            values.setdefault("discovery_prefix", self.prefix)
        return ForwardSettings(**values)

    async def start(self) -> None:
        port = int(str(self.url).rsplit(":", 1)[1])
        self._client = aiomqtt.Client("127.0.0.1", port, identifier=f"consumer-{self.tag}")
        await self._client.__aenter__()
        await self._client.subscribe(f"{self.tag}/#", qos=1)
        await self._client.subscribe(f"{self.prefix}/#", qos=1)
        self._task = asyncio.create_task(self._listen(self._client))

    async def _listen(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            self.messages.append(message)
            parts = str(message.topic).split("/")
            if len(parts) == 3 and parts[0] == self.tag and parts[2] in ("recognition", "alarm"):
                item = json.loads(bytes(message.payload))  # type: ignore[arg-type]
                self.arrivals.append(
                    Arrival(item["key"], parts[1], parts[2], item, str(message.topic))
                )

    def on(self, topic: str) -> list[aiomqtt.Message]:
        return [m for m in self.messages if str(m.topic) == topic]

    async def publish(self, topic: str, payload: bytes, retain: bool = False) -> None:
        assert self._client is not None
        await self._client.publish(topic, payload, qos=1, retain=retain)

    async def stop(self) -> None:
        if self._client is None:
            return
        # Leave no retained message of this test on a shared broker.
        for topic in {str(m.topic) for m in self.messages}:
            await self._client.publish(topic, b"", qos=1, retain=True)
        if self._task is not None:
            self._task.cancel()
        await self._client.__aexit__(None, None, None)


class PersistentMqttConsumer(MqttConsumer):
    """A subscriber with a persistent session (clean_session false) that reconnects: across
    a restart of a broker that persists sessions, the messages published while it was
    away wait for it."""

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())
        await self.wait_connected()

    async def wait_connected(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while self._client is None:
            if time.monotonic() > deadline:
                raise AssertionError("the MQTT consumer did not connect")
            await asyncio.sleep(0.02)

    async def _run(self) -> None:
        port = int(str(self.url).rsplit(":", 1)[1])
        while True:
            client = aiomqtt.Client(
                "127.0.0.1", port, identifier=f"consumer-{self.tag}", clean_session=False
            )
            try:
                await client.__aenter__()
                await client.subscribe(f"{self.tag}/#", qos=1)
                self._client = client
                await self._listen(client)
            except aiomqtt.MqttError:
                self._client = None
                await asyncio.sleep(0.1)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self._client is not None:
            with contextlib.suppress(Exception):
                await self._client.__aexit__(None, None, None)


class NatsConsumer(Consumer):
    """Reads the stream itself: what JetStream holds, repeats dropped or not."""

    kind = "nats"

    def __init__(self, url: str | None = None) -> None:
        super().__init__(url or SHARED_NATS)
        self.stream = f"S{self.tag}"
        self._nc: Any = None
        self.held = 0  # messages in the stream at the last refresh

    def settings(self, name: str = "sink", **overrides: Any) -> ForwardSettings:
        values = {"name": name, "url": str(self.url), "topic": self.tag, "stream": self.stream}
        return ForwardSettings(**{**values, **overrides})

    async def _js(self) -> Any:
        if self._nc is None or self._nc.is_closed:
            self._nc = await nats.connect(str(self.url), allow_reconnect=False)
        return self._nc.jetstream()

    async def refresh(self) -> None:
        """Read what the stream holds beyond what was read already (by sequence)."""
        try:
            js = await self._js()
            info = await js.stream_info(self.stream)
        except Exception:  # not created yet, or the server is down for the test
            return
        total = info.state.last_seq
        if total <= self.held:
            return
        got: list[Any] = []
        done = asyncio.Event()

        async def take(msg: Any) -> None:
            got.append(msg)
            if len(got) >= total - self.held:
                done.set()

        config = ConsumerConfig(
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=self.held + 1
        )
        sub = await js.subscribe(
            f"{self.tag}.>", stream=self.stream, ordered_consumer=True, cb=take, config=config
        )
        try:
            await asyncio.wait_for(done.wait(), 60)
        finally:
            await sub.unsubscribe()
        for msg in got[: total - self.held]:
            _, device, kind = msg.subject.split(".")
            item = json.loads(msg.data)
            self.arrivals.append(
                Arrival(msg.headers["Nats-Msg-Id"], device, kind, item, msg.subject)
            )
        self.held = total

    async def stop(self) -> None:
        try:
            js = await self._js()
            await js.delete_stream(self.stream)
        except Exception:
            pass
        if self._nc is not None:
            await self._nc.close()


Answer = Callable[[str, dict[str, Any]], int]  # (key, item) -> HTTP status


class WebhookConsumer(Consumer):
    """An HTTP consumer on a free port; `answer` decides each reply's status."""

    kind = "webhook"
    SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

    def __init__(self, url: str | None = None) -> None:
        super().__init__(url)
        self.port = free_port()
        self.url = url or f"http://127.0.0.1:{self.port}/hook"
        self.answer: Answer = lambda key, item: 200
        self.requests = 0
        self.bad_signatures = 0
        self.refused: list[str] = []
        self._runner: web.AppRunner | None = None

    def settings(self, name: str = "sink", **overrides: Any) -> ForwardSettings:
        return ForwardSettings(name=name, url=str(self.url), secret=self.SECRET, **overrides)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self._hook)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def _hook(self, request: web.Request) -> web.Response:
        self.requests += 1
        body = await request.read()
        try:
            standardwebhooks.Webhook(self.SECRET).verify(body, dict(request.headers))
        except standardwebhooks.WebhookVerificationError:
            self.bad_signatures += 1
            return web.Response(status=400, text="bad signature")
        item = json.loads(body)
        key = request.headers["webhook-id"]
        assert key == item["key"]
        status = self.answer(key, item)
        if 200 <= status < 300:
            device = item.get("deviceSN") or str(item.get("source")).replace(".", "_")
            kind = "alarm" if item["type"] == 1 else "recognition"
            sender = request.headers.get("User-Agent", "")
            self.arrivals.append(Arrival(key, device, kind, item, request.path, sender))
        else:
            self.refused.append(key)
        return web.Response(status=status, text="" if status < 300 else f"no: {status}")

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


def consumer(kind: str, url: str | None = None) -> Consumer:
    return {"mqtt": MqttConsumer, "nats": NatsConsumer, "webhook": WebhookConsumer}[kind](url)
