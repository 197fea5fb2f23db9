"""Schema-driven fuzzing (schemathesis) of both HTTP APIs from their OpenAPI documents:
whatever it generates, neither server answers 5xx or crashes."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.servers import http_json, start_device, start_receiver

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = 25  # per operation and phase


def _schemathesis(schema: str, workdir: Path, *extra: str) -> tuple[int, str]:
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "run",
            schema,
            "--checks",
            "not_a_server_error",
            "-n",
            str(EXAMPLES),
            "--seed",
            "7",
            "--request-timeout",
            "5",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=400,
        cwd=ROOT,
        check=False,
    )
    return run.returncode, run.stdout + run.stderr


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Path]]:
    tmp = tmp_path_factory.mktemp("schemathesis")
    receiver, rx = start_receiver(tmp)
    try:
        device, dev = start_device(tmp)
        try:
            yield rx, dev, tmp
        finally:
            device.stop()
    finally:
        receiver.stop()


def _cases(output: str) -> int:
    match = re.search(r"(\d+) generated, (\d+) passed", output)
    assert match, output[-3000:]
    assert match.group(1) == match.group(2), output[-3000:]
    return int(match.group(1))


def test_receiver_api_never_answers_5xx(servers: tuple[str, str, Path]) -> None:
    rx, _, tmp = servers
    # The live stream never ends, by design: it is left out.
    code, output = _schemathesis(rx + "/openapi.yaml", tmp, "--exclude-path", "/api/stream")
    cases = _cases(output)
    print(f"\n[schemathesis receiver] cases run: {cases}")
    assert code == 0, output[-3000:]
    assert http_json(rx + "/healthz")["code"] == 200
    assert cases > 300


def test_terminal_api_never_answers_5xx(servers: tuple[str, str, Path]) -> None:
    _, dev, tmp = servers
    schema = str(ROOT / "facepush" / "device" / "openapi.yaml")
    code, output = _schemathesis(schema, tmp, "--url", dev)
    cases = _cases(output)
    print(f"\n[schemathesis terminal] cases run: {cases}")
    assert code == 0, output[-3000:]
    assert http_json(dev + "/push/status")["code"] == 200
    assert cases > 100
