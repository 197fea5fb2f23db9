"""Brokers for the forwarding tests: the machine's Mosquitto (127.0.0.1:1883) and NATS
with JetStream (127.0.0.1:4222), shared; and private ones on free ports, for tests that
stop a broker or need credentials (never the shared ones)."""

from __future__ import annotations

import getpass
import shutil
import socket
import subprocess
import time
from pathlib import Path

from tests.support.processes import free_port

MOSQUITTO = "/usr/sbin/mosquitto"
NATS_SERVER = "/usr/sbin/nats-server"
SHARED_MQTT = "mqtt://127.0.0.1:1883"
SHARED_NATS = "nats://127.0.0.1:4222"


def answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_port(port: int, up: bool = True, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while answers(port) != up:
        if time.monotonic() > deadline:
            raise TimeoutError(f"port {port} {'never answered' if up else 'still answers'}")
        time.sleep(0.05)


class PrivateBroker:
    """A Mosquitto or nats-server of a test's own, on a free port; `stop()`/`start()`
    simulate an outage (NATS keeps its JetStream store in `dir` across them)."""

    def __init__(
        self,
        kind: str,
        dir: Path,
        password: tuple[str, str] | None = None,
        unbounded_queues: bool = False,
    ) -> None:
        self.kind = kind
        self.dir = dir
        self.port = free_port()
        self.password = password
        # Mosquitto drops QoS 1 messages for a subscriber with more than 1000 queued (its
        # default): a test whose consumer may fall behind must not lose messages there.
        self.unbounded_queues = unbounded_queues
        self.proc: subprocess.Popen[bytes] | None = None
        dir.mkdir(parents=True, exist_ok=True)
        self._log = dir / f"{kind}.log"

    @property
    def url(self) -> str:
        scheme = "mqtt" if self.kind == "mqtt" else "nats"
        return f"{scheme}://127.0.0.1:{self.port}"

    def _command(self) -> list[str]:
        if self.kind == "nats":
            return [
                NATS_SERVER,
                "-a",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-js",
                "-sd",
                str(self.dir),
            ]
        # Run as whoever runs the tests (as root, Mosquitto would switch to its own user,
        # which cannot read the test's files).
        lines = [
            f"listener {self.port} 127.0.0.1",
            "persistence false",
            f"user {getpass.getuser()}",
        ]
        if self.unbounded_queues:
            # ... and keeps sessions (and their queued messages) across its own restarts.
            lines += ["max_queued_messages 0", "max_inflight_messages 0"]
            lines[1] = "persistence true"
            lines.append(f"persistence_location {self.dir}/")
        if self.password is None:
            lines.append("allow_anonymous true")
        else:
            passwd = self.dir / "passwd"
            user, secret = self.password
            passwd.write_text("")
            subprocess.run(
                ["mosquitto_passwd", "-b", str(passwd), user, secret], check=True, timeout=10
            )
            lines += ["allow_anonymous false", f"password_file {passwd}"]
        conf = self.dir / "mosquitto.conf"
        conf.write_text("\n".join(lines) + "\n")
        return [MOSQUITTO, "-c", str(conf)]

    def start(self) -> None:
        command = self._command()
        if shutil.which(command[0]) is None:
            raise AssertionError(f"{command[0]} missing: scripts/test-services installs it")
        with open(self._log, "ab") as log:
            self.proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_port(self.port)
        except TimeoutError:
            self.stop()
            raise AssertionError(f"{self.kind} did not start:\n{self._log.read_text()}") from None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None
        wait_port(self.port, up=False)
