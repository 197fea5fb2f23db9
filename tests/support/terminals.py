"""Terminal emulators (`facepush device serve` processes, plain or with TLS) for the client
and CLI tests; the `plain_terminal` and `secure_terminal` fixtures (tests/conftest.py)."""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from pathlib import Path

from tests.support.processes import Process, free_port, wait_http

USERNAME, PASSWORD = "admin", "s3cret-pw"


@dataclass
class Terminal:
    url: str
    process: Process
    ca_file: Path | None = None


def start_terminal(tmp: Path, *extra: str, tls: tuple[Path, Path] | None = None) -> Terminal:
    """`facepush device serve` on a free port, its API over TLS with `tls` (cert, key)."""
    port = free_port()
    args = ["device", "serve", "--listen", f"127.0.0.1:{port}", "--data", str(tmp / "data"), *extra]
    if tls:
        args += ["--tls-cert", str(tls[0]), "--tls-key", str(tls[1])]
    process = Process(args, tmp / "device.log")
    scheme = "https" if tls else "http"
    url = f"{scheme}://127.0.0.1:{port}"
    try:
        wait_http(f"http://127.0.0.1:{port}/", timeout=20) if not tls else _wait_tls(port)
    except TimeoutError:
        process.stop()
        raise AssertionError("device did not start:\n" + process.output()) from None
    return Terminal(url, process)


def _wait_tls(port: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"port {port} did not open")
