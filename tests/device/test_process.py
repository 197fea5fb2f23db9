"""Real `python -m facepush device serve` processes: kill -9 during intake and during
delivery loses no accepted record; restart resumes; loopback by default; TLS on the API."""

from __future__ import annotations

import asyncio
import json
import ssl
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import trustme

from facepush.device.cli import serve
from facepush.device.errors import SetupError
from facepush.device.server import check
from facepush.device.settings import DeviceSettings
from tests.support.device import eventually, start_device
from tests.support.records import alarm, recognition, rkey
from tests.support.standin import StandIn


async def post(session: aiohttp.ClientSession, url: str, body: Any) -> dict[str, Any]:
    headers = {"Content-Type": "application/json"}
    async with session.post(url, data=json.dumps(body), headers=headers) as resp:
        return dict(json.loads(await resp.read()))


async def subscribe(url: str, dest: str) -> None:
    async with aiohttp.ClientSession() as session:
        reply = await post(
            session, url + "/v1/event/subscribe", {"event_dest": dest, "enabled": True}
        )
        assert reply["code"] == 200, reply


async def test_kill9_during_intake_loses_no_accepted_record(
    tmp_path: Path, standin: StandIn
) -> None:
    data = str(tmp_path / "d")
    proc, url = start_device(tmp_path, "--data", data)
    standin.delay = 0.002  # delivery runs alongside the intake
    accepted: set[str] = set()
    failed = 0

    async def producer(worker: int) -> None:
        nonlocal failed
        async with aiohttp.ClientSession() as session:
            for i in range(10_000):
                n = worker * 100_000 + i * 3
                batch = (
                    [recognition(n), recognition(n + 1), alarm(n + 2)]
                    if i % 2
                    else [recognition(n)]
                )
                try:
                    reply = await post(session, url + "/push/records", batch if i % 2 else batch[0])
                except (aiohttp.ClientError, json.JSONDecodeError):
                    failed += 1
                    return  # the process is gone
                assert reply["code"] == 200, reply
                for record in batch:
                    data_ = record["data"]
                    accepted.add(
                        rkey(int(data_["uuid"][4:]))
                        if record["type"] == 0
                        else f"a:{data_['trace_id']}:1:{data_['event_time']}"
                    )

    tasks: list[asyncio.Task[None]] = []
    try:
        await subscribe(url, standin.url)
        tasks = [asyncio.create_task(producer(w)) for w in range(4)]
        await eventually(lambda: len(accepted) >= 600, timeout=30, what="600 records accepted")
        proc.kill9()  # mid-intake: the producers are still posting
        await asyncio.wait_for(asyncio.gather(*tasks), 10)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        proc.stop()
    assert failed == 4  # each producer saw the process die under it
    proc, _ = start_device(tmp_path, "--data", data)
    try:
        await standin.wait_acked(accepted, timeout=60)
    finally:
        proc.stop()


async def test_kill9_during_delivery_then_restart_delivers_everything(
    tmp_path: Path, standin: StandIn
) -> None:
    data = str(tmp_path / "d")
    standin.mode = "http500"
    proc, url = start_device(tmp_path, "--data", data)
    expected = {rkey(n) for n in range(3000)}
    try:
        await subscribe(url, standin.url)
        async with aiohttp.ClientSession() as session:
            for start in range(0, 3000, 250):
                batch = [recognition(n) for n in range(start, start + 250)]
                reply = await post(session, url + "/push/records", batch)
                assert reply["data"]["accepted"] == 250
        standin.mode = "ok"
        standin.delay = 0.001
        await standin.wait_acked(400)
        proc.kill9()  # acks arrived, batched deletes pending, records in flight
    finally:
        proc.stop()
    assert len(set(standin.acked_keys())) < 3000
    proc, url = start_device(tmp_path, "--data", data)
    try:
        await standin.wait_acked(expected, timeout=60)
        async with aiohttp.ClientSession() as session, session.get(url + "/push/status") as resp:
            status = json.loads(await resp.read())["data"]
        assert status["set_aside"] == 0 and status["evicted"] == 0
    finally:
        proc.stop()
    resent = len(standin.acked_keys()) - len(expected)
    assert resent < 500  # a crash re-sends at most what was unacknowledged or undeleted


def test_loopback_by_default_and_public_only_by_choice(tmp_path: Path) -> None:
    listen = next(p for p in serve.params if p.name == "listen")
    assert listen.default == "127.0.0.1:8000"
    command = ["device", "serve", "--listen", "0.0.0.0:0", "--data", str(tmp_path / "d")]
    result = subprocess.run(
        [sys.executable, "-m", "facepush", *command],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode != 0
    assert "--allow-remote-unauthenticated" in result.stderr
    command = ["device", "serve", "--listen", "127.0.0.1:0", "--signing-secret", "whsec_"]
    command += ["--data", str(tmp_path / "d")]
    bad_secret = subprocess.run(
        [sys.executable, "-m", "facepush", *command],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert bad_secret.returncode != 0 and "signing secret must be whsec_" in bad_secret.stderr
    check(DeviceSettings(listen="0.0.0.0:8000", allow_remote_unauthenticated=True))
    check(DeviceSettings(listen="0.0.0.0:8000", username="admin", password="pw"))
    with pytest.raises(SetupError, match="both --username and --password"):
        check(DeviceSettings(username="admin"))


async def test_tls_on_the_terminal_api(tmp_path: Path) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    for pem in cert.cert_chain_pems[1:]:
        pem.write_to_path(str(tmp_path / "cert.pem"), append=True)
    cert.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    proc, url = start_device(
        tmp_path,
        "--data",
        str(tmp_path / "d"),
        "--tls-cert",
        str(tmp_path / "cert.pem"),
        "--tls-key",
        str(tmp_path / "key.pem"),
        "--username",
        "admin",
        "--password",
        "pw",
    )
    try:
        assert url.startswith("https://")
        context = ssl.create_default_context()
        ca.configure_trust(context)
        async with aiohttp.ClientSession() as session:
            login = {"username": "admin", "password": "pw", "validTime": 1440}
            async with session.post(url + "/v1/auth/login", json=login, ssl=context) as resp:
                token = json.loads(await resp.read())["data"]["token"]
            headers = {"Authorization": f"Bearer {token}"}
            async with session.get(url + "/push/status", headers=headers, ssl=context) as resp:
                assert json.loads(await resp.read())["data"]["state"] == "unconfigured"
    finally:
        assert proc.stop() == 0
