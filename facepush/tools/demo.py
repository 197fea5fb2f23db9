"""`facepush demo`: the whole system on one machine.

A receiver on SQLite and emulated terminals run as child processes in this process group;
the terminals are subscribed to the receiver and fed live traffic by the simulator. Ctrl-C
(or SIGTERM) stops everything cleanly. Each part's settings are the servers' own settings
objects, written to a config file in its data directory (`receiver.toml`,
`device.toml`) that the child reads with `--config`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from facepush.client import TerminalClient
from facepush.device.settings import DeviceSettings
from facepush.errors import FacepushError
from facepush.files import private_dir, write_atomically
from facepush.receiver.settings import LISTEN, ReceiverSettings
from facepush.settings import Settings, to_toml
from facepush.tools.records import RecordFactory, fresh_seed
from facepush.tools.simulate import simulate

STARTUP_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
FOREVER = 10**12
# The demo is a self-contained playground: secrets exported for real services (a receiver's
# token, a terminal's password) must not make its own parts refuse one another.
SECRET_ENV = ("FACEPUSH_TOKEN", "FACEPUSH_PASSWORD", "FACEPUSH_SIGNING_SECRET")


class DemoError(FacepushError):
    """A part of the demo could not start; the message names it and quotes its log."""


@dataclass
class DemoOptions:
    listen: str = LISTEN
    terminals: int = 2
    rate: float = 2.0  # records per second per terminal
    data_dir: Path = Path("var/demo")
    images: bool = True
    seed: int = field(default_factory=fresh_seed)  # with the terminal's index
    duration: float | None = None  # seconds; None runs until Ctrl-C


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

    async def run(self, stopped: asyncio.Event | None = None) -> None:
        """Start everything, feed traffic until `stopped` (or a signal), stop everything."""
        stop = stopped or asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
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

    async def start_receiver(self) -> Child:
        data = self.options.data_dir / "receiver"
        settings = ReceiverSettings(listen=self.options.listen, data=data)
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


async def _drain(stream: asyncio.StreamReader) -> None:
    # Keep reading the child's stdout so that it never blocks on a full pipe.
    while await stream.read(65536):
        pass


async def run_demo(options: DemoOptions, say: Callable[[str], None] = print) -> None:
    await Demo(options, say).run()
