"""Real `python -m facepush receiver serve` processes for the crash, multi-process and
memory tests, with bounded waits."""

from __future__ import annotations

import re
import time
from pathlib import Path

from tests.support import Process

_LISTENING = re.compile(r"listening on (http://\S+)")


def start_receiver(log: Path, *args: str, timeout: float = 30.0) -> tuple[Process, str]:
    """Start a receiver on a free loopback port; returns it and its base URL."""
    proc = Process(["receiver", "serve", "--listen", "127.0.0.1:0", *args], log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = _LISTENING.search(log.read_text(errors="replace")) if log.exists() else None
        if match:
            return proc, match.group(1)
        if proc.proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.stop()
    raise TimeoutError(f"receiver did not start within {timeout} s:\n{proc.output()}")


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")
