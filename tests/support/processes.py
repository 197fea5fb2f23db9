"""Test support shared by every suite: free loopback ports, and real `facepush` processes
started, waited for and stopped with bounded waits.

Every `Process` is registered until it is stopped, so that tests/conftest.py can fail a
test that leaves one running (and stop it)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

LOOPBACK = "127.0.0.1"
_LISTENING = re.compile(r"listening on (https?://\S+)")
_started: set[Process] = set()  # started and not yet stopped


def running_processes() -> set[Process]:
    """The `Process`es started and not stopped whose child is still alive."""
    return {p for p in _started if p.proc.poll() is None}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout: float = 15.0) -> None:
    """Wait until `url` answers any HTTP status, or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except urllib.error.HTTPError:
            return
        except OSError as exc:
            last = exc
            time.sleep(0.05)
    raise TimeoutError(f"{url} did not answer within {timeout} s: {last}")


class Process:
    """A `python -m facepush ARGS` child process, its output in a log file."""

    def __init__(
        self,
        args: Sequence[str],
        log: Path,
        env: dict[str, str] | None = None,
        preexec: Callable[[], None] | None = None,
    ) -> None:
        self.args = list(args)
        self.log_path = log
        self._log = open(log, "ab")  # noqa: SIM115 - kept open for the child's lifetime
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "facepush", *self.args],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            start_new_session=True,
            preexec_fn=preexec,
        )
        _started.add(self)

    def kill9(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self, timeout: float = 10.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()
        _started.discard(self)
        return int(self.proc.returncode)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_listening(self, timeout: float = 30.0) -> str:
        """The URL the server announced (`listening on URL`); stops it and fails if none
        came within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = _LISTENING.search(self.output()) if self.log_path.exists() else None
            if match:
                return match.group(1)
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise TimeoutError(
            f"{' '.join(self.args)} did not start within {timeout} s:\n{self.output()}"
        )
