"""Hostile input against the real servers (receiver and terminal processes): each gets a
clear, named refusal; the servers stay up and keep their data."""

from __future__ import annotations

import base64
import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.support.servers import http_json, start_device, start_receiver

CASES_RUN: list[str] = []


def post(url: str, body: bytes, timeout: float = 10) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    tmp = tmp_path_factory.mktemp("hostile")
    receiver, rx = start_receiver(tmp, "--max-body", str(1 << 20))
    try:
        device, dev = start_device(tmp)
        try:
            subscription = {"event_dest": rx + "/Record", "enabled": False}
            http_json(dev + "/v1/event/subscribe", subscription)
            yield rx, dev
        finally:
            device.stop()
    finally:
        receiver.stop()


DEEP = b'{"type": 0, "data": {"uuid": "u", "user": ' + b"[" * 50_000 + b"]" * 50_000 + b"}}"
INVALID_UTF8 = b'{"type": 0, "data": {"uuid": "\xc3\x28"}}'


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (DEEP, 400, "body: JSON nested too deeply"),
        (INVALID_UTF8, 400, "body: not valid UTF-8"),
        (b"{" * 10, 400, "body: not valid JSON"),
        (b'{"type": 0, "data": {"uuid": "u"}}' + b" " * (1 << 20), 413, "larger than the limit"),
        (b"\x00" * 1000, 400, "body: not valid JSON"),
    ],
)
def test_receiver_refuses_hostile_bodies_by_name(
    servers: tuple[str, str], body: bytes, status: int, message: str
) -> None:
    rx, _ = servers
    got, reply = post(rx + "/Record", body)
    CASES_RUN.append("receiver body")
    assert got == status and message in reply["msg"]
    assert http_json(rx + "/healthz")["code"] == 200


def test_receiver_keeps_a_record_with_a_huge_broken_image(servers: tuple[str, str]) -> None:
    rx, _ = servers
    image = base64.b64encode(b"\x89PNG" + b"\x00" * 600_000).decode()
    record = {"type": 0, "data": {"uuid": "huge-image-1", "deviceSN": "H1", "rgb_image": image}}
    status, reply = post(rx + "/Record", json.dumps(record).encode())
    CASES_RUN.append("huge base64")
    assert status == 200 and reply["code"] == 200
    item = http_json(rx + "/api/events/r:huge-image-1")["data"]
    assert item["image_url"] is None and "not a JPEG" in json.dumps(item)


@pytest.mark.parametrize(
    "dest",
    [
        "file:///etc/passwd",
        "gopher://127.0.0.1:70/_x",
        "javascript:alert(1)",
        "data:text/plain,hi",
        "ftp://127.0.0.1/Record",
        "http://" + "a" * 1011 + "/Record",  # 1025 characters
        "http:///Record",
        "http://127.0.0.1:99999/Record",
        " http://127.0.0.1/Record",
    ],
)
def test_terminal_refuses_unusable_destinations(servers: tuple[str, str], dest: str) -> None:
    _, dev = servers
    before = http_json(dev + "/v1/event/subscribe")["data"]
    _status, reply = post(dev + "/v1/event/subscribe", json.dumps({"event_dest": dest}).encode())
    CASES_RUN.append("event_dest")
    assert reply["code"] != 200 and "event_dest" in reply["msg"]
    assert http_json(dev + "/v1/event/subscribe")["data"] == before
    assert len(dest) <= 1024 or "1024" in reply["msg"]


@pytest.mark.parametrize(
    ("body", "message"),
    [(DEEP, "nested too deeply"), (INVALID_UTF8, "not valid UTF-8"), (b"[1, 2]", "[0]")],
)
def test_terminal_intake_refuses_hostile_bodies(
    servers: tuple[str, str], body: bytes, message: str
) -> None:
    _, dev = servers
    before = http_json(dev + "/push/status")["data"]
    _status, reply = post(dev + "/push/records", body)
    CASES_RUN.append("intake body")
    assert reply["code"] != 200 and message in reply["msg"]
    assert http_json(dev + "/push/status")["data"]["queued"] == before["queued"]


def _slow_loris(url: str) -> float:
    """Send a request's headers one line every half second; seconds until cut off."""
    host, port = url.removeprefix("http://").split(":")
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(b"POST /Record HTTP/1.1\r\n")
        try:
            for _ in range(60):  # 30 s if never cut off
                sock.sendall(b"X-Slow: 1\r\n")
                time.sleep(0.5)
        except OSError:
            pass
    return time.monotonic() - started


def test_slow_loris_is_cut_off_by_both_servers(servers: tuple[str, str]) -> None:
    with ThreadPoolExecutor(2) as pool:
        took = list(pool.map(_slow_loris, servers))
    CASES_RUN.extend(["slow loris"] * 2)
    assert all(t < 20 for t in took), took  # the 10 s header bound, not 30 s


def test_cases_were_run() -> None:
    print(f"\n[hostile input] cases run: {len(CASES_RUN)}")
    assert len(CASES_RUN) >= 19
