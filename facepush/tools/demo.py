"""`facepush demo`: the whole system on one machine.

A receiver on SQLite and emulated terminals run as child processes in this process group;
the terminals are subscribed to the receiver and fed live traffic by the simulator. The
receiver forwards every record: to MQTT when a broker answers on 127.0.0.1:1883, or else
to a webhook consumer of the demo's own (facepush.tools.demo_sink), so that forwarding
shows on a machine without Mosquitto. Ctrl-C
(or SIGTERM) stops everything cleanly. Each part's settings are the servers' own settings
objects, written to a config file in its data directory (`receiver.toml`,
`device.toml`) that the child reads with `--config`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from facepush.client import TerminalClient
from facepush.device.settings import DeviceSettings
from facepush.errors import (
    DemoError as DemoError,  # defined in facepush.errors; exported here as before
)
from facepush.files import private_dir, write_atomically
from facepush.receiver.forward.settings import ForwardSettings
from facepush.receiver.settings import LISTEN, ReceiverSettings
from facepush.settings import Settings, to_toml
from facepush.tools.demo_sink import DemoSink
from facepush.tools.records import RecordFactory, fresh_seed
from facepush.tools.simulate import simulate

STARTUP_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
FOREVER = 10**12
# The demo is a self-contained playground: secrets exported for real services (a receiver's
# token, a terminal's password) must not make its own parts refuse one another.
SECRET_ENV = ("FACEPUSH_TOKEN", "FACEPUSH_PASSWORD", "FACEPUSH_SIGNING_SECRET")


@dataclass
class DemoOptions:
    listen: str = LISTEN
    terminals: int = 2
    rate: float = 2.0  # records per second per terminal
    data_dir: Path = Path("var/demo")
    images: bool = True
    seed: int = field(default_factory=fresh_seed)  # with the terminal's index
    duration: float | None = None  # seconds; None runs until Ctrl-C
    # Where the receiver forwards: "mqtt" (a broker on 127.0.0.1:1883), "webhook" (the
    # demo's own consumer, no broker needed), "auto" (MQTT when a broker answers), "none".
    forward: str = "auto"


FORWARD_MODES = ("auto", "webhook", "mqtt", "none")
DEMO_MQTT = "mqtt://127.0.0.1:1883"
DEMO_TOPIC = "facepush-demo"


def forward_kind(mode: str, broker_answers: Callable[[], bool]) -> str | None:
    """The kind of sink the demo forwards to: "mqtt", "webhook" or None."""
    if mode == "auto":
        return "mqtt" if broker_answers() else "webhook"
    return None if mode == "none" else mode


def mqtt_answers(host: str = "127.0.0.1", port: int = 1883) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


@dataclass
class Child:
    name: str
    process: asyncio.subprocess.Process
    url: str
    log: Path
    drain: asyncio.Task[None] | None = None


@dataclass
class Demo:
    options: DemoOptions
    say: Callable[[str], None] = print
    children: list[Child] = field(default_factory=list)
    sink: DemoSink | None = None
    forward: ForwardSettings | None = None

    async def run(self, stopped: asyncio.Event | None = None) -> None:
        """Start everything, feed traffic until `stopped` (or a signal), stop everything."""
        stop = stopped or asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await self.start_sink()
            receiver = await self.start_receiver()
            terminals = [await self.start_terminal(i) for i in range(1, self.options.terminals + 1)]
            await self.subscribe(terminals, receiver.url + "/Record")
            self.announce(receiver, terminals)
            feeders = [asyncio.create_task(self.feed(t, i)) for i, t in enumerate(terminals)]
            timeout = self.options.duration
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout)
            for task in feeders:
                task.cancel()
            await asyncio.gather(*feeders, return_exceptions=True)
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
            await self.stop_all()

    async def start_sink(self) -> None:
        kind = forward_kind(self.options.forward, mqtt_answers)
        if kind == "mqtt":
            self.forward = ForwardSettings(name="demo-mqtt", url=DEMO_MQTT, topic=DEMO_TOPIC)
        elif kind == "webhook":
            self.sink = DemoSink()
            url = await self.sink.start()
            self.forward = ForwardSettings(name="demo-webhook", url=url, secret=self.sink.secret)

    async def start_receiver(self) -> Child:
        data = self.options.data_dir / "receiver"
        forward = (self.forward,) if self.forward else ()
        settings = ReceiverSettings(listen=self.options.listen, data=data, forward=forward)
        return await self._start("receiver", ["receiver", "serve"], settings, data)

    async def start_terminal(self, number: int) -> Child:
        data = self.options.data_dir / f"terminal-{number}"
        sn = f"FPDEMO{number:04d}"
        settings = DeviceSettings(listen="127.0.0.1:0", data=data, sn=sn)
        return await self._start(sn, ["device", "serve"], settings, data)

    async def _start(self, name: str, command: list[str], settings: Settings, data: Path) -> Child:
        private_dir(data)
        config = data / f"{command[0]}.toml"  # receiver.toml, device.toml
        write_atomically(config, to_toml(settings).encode())
        args = [*command, "--config", str(config)]
        log = data / "log.txt"
        env = {k: v for k, v in os.environ.items() if k not in SECRET_ENV}
        with open(log, "ab") as log_file:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "facepush",
                *args,
                stdout=asyncio.subprocess.PIPE,
                stderr=log_file,
                env=env,
            )
        child = Child(name, process, "", log)
        self.children.append(child)
        child.url = await self._listening_url(child)
        return child

    async def _listening_url(self, child: Child) -> str:
        assert child.process.stdout is not None
        try:
            async with asyncio.timeout(STARTUP_TIMEOUT_S):
                while line := (await child.process.stdout.readline()).decode():
                    if line.startswith("listening on "):
                        child.drain = asyncio.create_task(_drain(child.process.stdout))
                        return line.removeprefix("listening on ").strip()
        except TimeoutError:
            pass
        tail = child.log.read_text(errors="replace").strip().splitlines()[-3:]
        raise DemoError(f"{child.name} did not start: " + (" / ".join(tail) or "no output"))

    async def subscribe(self, terminals: list[Child], dest: str) -> None:
        for terminal in terminals:
            async with TerminalClient(terminal.url) as client:
                await client.subscribe(dest, enabled=True)

    async def feed(self, terminal: Child, index: int) -> None:
        factory = RecordFactory(
            seed=self.options.seed,
            terminal=index,
            device_sn=terminal.name,
            images=self.options.images,
        )
        async with TerminalClient(terminal.url) as client:
            await simulate(client, factory, FOREVER, rate=self.options.rate)

    def announce(self, receiver: Child, terminals: list[Child]) -> None:
        base = receiver.url
        lines = [
            "facepush demo is running",
            f"  dashboard    {base}/",
            f"  records      {base}/api/events",
            f"  statistics   {base}/api/stats",
            f"  alarms       {base}/api/alarms",
            f"  push path    {base}/Record",
        ]
        lines += [f"  terminal     {t.url}/push/status  ({t.name})" for t in terminals]
        if self.forward is not None and self.sink is not None:
            lines.append(f"  forwarding   {base}/api/forward -> webhook {self.sink.url} (GET it)")
        elif self.forward is not None:
            lines.append(
                f"  forwarding   {base}/api/forward -> {DEMO_MQTT} topic {DEMO_TOPIC}/# "
                f"(mosquitto_sub -t '{DEMO_TOPIC}/#')"
            )
        lines.append(
            f"Live traffic: {self.options.rate:g} records/s per terminal, seed "
            f"{self.options.seed} (--seed {self.options.seed} repeats it). "
            f"Data under {self.options.data_dir}/. Press Ctrl-C to stop."
        )
        self.say("\n".join(lines))

    async def stop_all(self) -> None:
        for child in reversed(self.children):  # terminals first, then the receiver
            if child.process.returncode is None:
                child.process.send_signal(signal.SIGTERM)
        for child in reversed(self.children):
            try:
                await asyncio.wait_for(child.process.wait(), STOP_TIMEOUT_S)
            except TimeoutError:
                child.process.kill()
                await child.process.wait()
        self.children.clear()
        if self.sink is not None:
            await self.sink.stop()


async def _drain(stream: asyncio.StreamReader) -> None:
    # Keep reading the child's stdout so that it never blocks on a full pipe.
    while await stream.read(65536):
        pass


async def run_demo(options: DemoOptions, say: Callable[[str], None] = print) -> None:
    await Demo(options, say).run()
