"""Terminal emulators (`facepush device serve` processes) for the client and CLI tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme

from tests.support import Process, free_port, wait_http

USERNAME, PASSWORD = "admin", "s3cret-pw"


@dataclass
class Terminal:
    url: str
    process: Process
    ca_file: Path | None = None


def _start(tmp: Path, *extra: str, tls: tuple[Path, Path] | None = None) -> Terminal:
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
    import socket
    import time

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"port {port} did not open")


@pytest.fixture(scope="module")
def plain_terminal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Terminal]:
    terminal = _start(tmp_path_factory.mktemp("plain"))
    yield terminal
    terminal.process.stop()


@pytest.fixture(scope="module")
def secure_terminal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Terminal]:
    """A terminal with an account and TLS on its API, certificate from a private CA."""
    tmp = tmp_path_factory.mktemp("secure")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert_file, key_file, ca_file = tmp / "cert.pem", tmp / "key.pem", tmp / "ca.pem"
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    ca.cert_pem.write_to_path(str(ca_file))
    terminal = _start(
        tmp, "--username", USERNAME, "--password", PASSWORD, tls=(cert_file, key_file)
    )
    terminal.ca_file = ca_file
    yield terminal
    terminal.process.stop()
