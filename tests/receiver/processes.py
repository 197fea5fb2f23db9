"""Real `python -m facepush receiver serve` processes for the crash, multi-process and
memory tests, with bounded waits."""

from __future__ import annotations

from pathlib import Path

from tests.support.processes import Process


def start_receiver(log: Path, *args: str, timeout: float = 30.0) -> tuple[Process, str]:
    """Start a receiver on a free loopback port; returns it and its base URL."""
    proc = Process(["receiver", "serve", "--listen", "127.0.0.1:0", *args], log)
    return proc, proc.wait_listening(timeout)


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")
