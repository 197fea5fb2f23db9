"""Helpers of the managed-terminal process tests: a terminal emulator and a receiver with
`[[terminal]]` tables, each a real process on loopback; JSON over urllib; bounded waits
on what the receiver and the terminal report (progress, never a sleep for its own sake)."""

from __future__ import annotations

import base64
import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.support.processes import Process

USER = "admin"
JSON = {"Content-Type": "application/json"}


def basic(password: str, user: str = USER) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def call(
    url: str, body: Any = None, headers: dict[str, str] | None = None, timeout: float = 60
) -> Any:
    """GET (no body) or POST JSON; the reply's `data`, failing unless code 200."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={**JSON, **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            reply = json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        raise AssertionError(f"{url}: HTTP {exc.code}: {exc.read()[:300]!r}") from None
    assert reply["code"] == 200, (url, reply)
    return reply["data"]


def text(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as resp:
        return str(resp.read().decode())


def wait_for(check: Callable[[], Any], what: str, timeout: float = 60.0, every: float = 0.1) -> Any:
    """`check()`'s first truthy value; fails naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(every)


def record(n: int, prefix: str, serial: str, base: int) -> dict[str, Any]:
    """A recognition made `base` + n//10 seconds (ten a second), person n % 7."""
    return {
        "type": 0,
        "data": {
            "uuid": f"{prefix}-{n:05d}",
            "deviceSN": serial,
            "recognitionType": 1,
            "timestamp": base + n // 10,
            "pass": True,
            "user": {"name": f"P{n % 7}", "user_id": str(n % 7), "type": 1},
        },
    }


def receiver_config(path: Path, terminals: list[dict[str, Any]], **top: Any) -> Path:
    """A receiver TOML file: top-level keys, then one [[terminal]] table each."""
    lines = [f"{key} = {json.dumps(value)}" for key, value in top.items()]
    for terminal in terminals:
        lines.append("[[terminal]]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in terminal.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def start_receiver(
    tmp: Path, config: Path, *args: str, env: dict[str, str] | None = None, port: int = 0
) -> tuple[Process, str]:
    log = tmp / f"receiver-{time.monotonic_ns()}.log"
    argv = ["receiver", "serve", "--listen", f"127.0.0.1:{port}", "--data", str(tmp / "rx")]
    proc = Process([*argv, "--config", str(config), *args], log, env)
    return proc, proc.wait_listening()


def terminals(rx: str) -> list[dict[str, Any]]:
    return list(call(rx + "/api/terminals")["items"])


def terminal(rx: str) -> dict[str, Any]:
    (item,) = terminals(rx)
    return item


def event_keys(rx: str, **params: str) -> list[str]:
    """Every stored record's key, page after page."""
    keys: list[str] = []
    query = {"limit": "1000", **params}
    while True:
        page = call(rx + "/api/events?" + urllib.parse.urlencode(query))
        keys += [item["key"] for item in page["items"]]
        if not page["next"]:
            return keys
        query["cursor"] = page["next"]


def labelled(metrics: str, name: str, terminal: str) -> float:
    """The value of `name{terminal="..."}` in Prometheus text."""
    found = re.search(rf'^{name}{{terminal="{re.escape(terminal)}"}} (\S+)$', metrics, re.M)
    assert found, f"{name} for {terminal} not in the metrics"
    return float(found.group(1))
