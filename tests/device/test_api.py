"""The terminal's HTTP API on a real socket: login and auth codes, subscribe validation,
intake, status, set-aside and metrics."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from facepush.device.api import make_app
from facepush.device.auth import Accounts
from facepush.device.service import PushService
from tests.support.device import ServiceFactory, eventually
from tests.support.processes import LOOPBACK
from tests.support.records import recognition, rkey
from tests.support.standin import StandIn

Api = Callable[..., Awaitable[tuple[str, PushService]]]


@pytest.fixture
async def api(make_service: ServiceFactory) -> AsyncIterator[Api]:
    runners: list[web.AppRunner] = []

    async def start(
        data: Path | None = None, username: str | None = None, **options: Any
    ) -> tuple[str, PushService]:
        service = await (make_service(data, **options) if data else make_service(**options))
        password = "s3cret" if username else None
        key = service.jwt_key or b"k" * 32
        runner = web.AppRunner(make_app(service, Accounts(username, password, key)))
        await runner.setup()
        site = web.TCPSite(runner, LOOPBACK, 0)
        await site.start()
        runners.append(runner)
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return f"http://{LOOPBACK}:{port}", service

    yield start
    for runner in runners:
        await runner.cleanup()


async def call(
    method: str, url: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, Any]]:
    data = body if isinstance(body, bytes) else None if body is None else json.dumps(body)
    # Writes must say they are JSON (the site policy refuses anything else with 415).
    sent = {"Content-Type": "application/json", **(headers or {})}
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, url, data=data, headers=sent) as resp,
    ):
        return resp.status, json.loads(await resp.read())


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


async def test_login_issues_a_jwt_and_bearer_or_basic_both_work(api: Api) -> None:
    url, _ = await api(username="admin")
    status, reply = await call(
        "POST", url + "/v1/auth/login", {"username": "admin", "password": "s3cret"}
    )
    assert status == 200 and reply["code"] == 200 and reply["data"]["validTime"] == 5
    bearer = {"Authorization": f"Bearer {reply['data']['token']}"}
    assert (await call("GET", url + "/push/status", headers=bearer))[1]["code"] == 200
    assert (await call("GET", url + "/push/status", headers=basic("admin", "s3cret")))[0] == 200


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        (None, 401),
        ({"Authorization": "Bearer not-a-jwt"}, 401),
        (basic("root", "s3cret"), 1000),
        (basic("admin", "wrong"), 1001),
    ],
)
async def test_requests_without_valid_credentials_get_the_vendor_codes(
    api: Api, headers: dict[str, str] | None, code: int
) -> None:
    url, _ = await api(username="admin")
    status, reply = await call("GET", url + "/v1/event/subscribe", headers=headers)
    assert (status, reply["code"]) == (401, code)


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"username": "root", "password": "s3cret"}, 1000, "Account Not Exist"),
        ({"username": "admin", "password": "nope"}, 1001, "Password Wrong"),
        ({"username": "admin", "password": "s3cret", "validTime": 0}, 400, "validTime"),
        ({"username": "admin", "password": "s3cret", "validTime": 1441}, 400, "validTime"),
        ({"username": "admin"}, 400, "password"),
    ],
)
async def test_login_refusals(api: Api, body: dict[str, Any], code: int, field: str) -> None:
    url, _ = await api(username="admin")
    _, reply = await call("POST", url + "/v1/auth/login", body)
    assert reply["code"] == code and field in reply["msg"]


async def test_no_account_needs_no_authentication(api: Api) -> None:
    url, _ = await api()
    assert (await call("GET", url + "/push/status"))[1]["code"] == 200


INVALID = [
    ({"event_dest": "/Record", "enabled": True}, "event_dest"),
    ({"event_dest": "ftp://10.0.0.1/Record", "enabled": True}, "event_dest"),
    ({"event_dest": "http:///Record", "enabled": True}, "event_dest"),
    ({"event_dest": "http://h/" + "x" * 1100, "enabled": True}, "event_dest"),
    ({"event_dest": "http://h/Record", "enabled": "true"}, "enabled"),
    ({"event_dest": "http://h/Record", "enabled": True, "extra": 1}, "extra"),
    (b"{not json", "body"),
]


@pytest.mark.parametrize(("body", "field"), INVALID)
async def test_subscribe_validation_names_the_field_and_changes_nothing(
    api: Api, body: Any, field: str
) -> None:
    url, _ = await api()
    good = {"event_dest": "http://127.0.0.1:9/Record", "enabled": False}
    assert (await call("POST", url + "/v1/event/subscribe", good))[1]["code"] == 200
    status, reply = await call("POST", url + "/v1/event/subscribe", body)
    assert status == 400 and reply["code"] == 400 and reply["msg"].startswith(field)
    assert (await call("GET", url + "/v1/event/subscribe"))[1]["data"] == good


async def test_configuration_survives_a_restart(api: Api, tmp_path: Path) -> None:
    url, service = await api(tmp_path / "d")
    assert (await call("GET", url + "/v1/event/subscribe"))[1]["data"] is None
    config = {"event_dest": "https://192.0.2.10:8443/Record", "enabled": False}
    assert (await call("POST", url + "/v1/event/subscribe", config))[1]["data"] == config
    await service.stop()
    url, _ = await api(tmp_path / "d")
    assert (await call("GET", url + "/v1/event/subscribe"))[1]["data"] == config


async def test_intake_keeps_what_was_handed_over(api: Api, standin: StandIn) -> None:
    url, _ = await api(sn="SN-0042")
    await call("POST", url + "/v1/event/subscribe", {"event_dest": standin.url, "enabled": True})
    single = (
        b'{ "type":0, "data":{"uuid":"rec-000001","deviceSN":"X","timestamp":1685343715,'
        b'"vendorField":[1,2.50]} }'
    )
    status, reply = await call("POST", url + "/push/records", single)
    assert status == 200 and reply["data"] == {"accepted": 1, "evicted": 0}
    batch = [recognition(2, extra_field={"a": None}), recognition(3)]
    batch[1]["data"].pop("deviceSN")
    assert (await call("POST", url + "/push/records", batch))[1]["data"]["accepted"] == 2
    trailing = b'{"type":1,"data":{"trace_id":"T-1","event_time":1684381433398,"status":1,},}'
    assert (await call("POST", url + "/push/records", trailing))[1]["code"] == 200
    await standin.wait_acked(4)
    got = {p.key: p for p in standin.pushes}
    assert got[rkey(1)].body == single  # byte for byte
    assert got[rkey(2)].json == batch[0]  # every field, the unknown ones too
    assert got[rkey(3)].json["data"]["deviceSN"] == "SN-0042"  # the terminal's serial
    assert got["a:T-1:1:1684381433398"].json["data"]["trace_id"] == "T-1"


async def test_intake_refuses_a_bad_batch_whole_and_names_the_field(api: Api) -> None:
    url, service = await api()
    config = {"event_dest": "http://127.0.0.1:9/R", "enabled": True}
    assert (await call("POST", url + "/v1/event/subscribe", config))[1]["code"] == 200
    bad = [recognition(1), {"type": 0, "data": {"uuid": ""}}]
    status, reply = await call("POST", url + "/push/records", bad)
    assert status == 400 and reply["msg"].startswith("[1].data.uuid")
    for body, field in [(b"[]", "body"), (b'{"type": 7, "data": {}}', "type"), (b"x", "body")]:
        status, reply = await call("POST", url + "/push/records", body)
        assert status == 400 and reply["msg"].startswith(field), reply
    assert service.status()["queued"] == 0


async def test_intake_while_unconfigured_is_skipped(api: Api) -> None:
    url, _ = await api()
    status, reply = await call("POST", url + "/push/records", [recognition(1), recognition(2)])
    assert status == 200 and reply["data"] == {"accepted": 0, "evicted": 0, "skipped": 2}


async def test_refuse_newest_says_the_cache_is_full(api: Api) -> None:
    url, _ = await api(cache_limit=3, when_full="refuse-newest")
    config = {"event_dest": "http://127.0.0.1:9/R", "enabled": True}
    assert (await call("POST", url + "/v1/event/subscribe", config))[1]["code"] == 200
    assert (await call("POST", url + "/push/records", [recognition(n) for n in range(3)]))[0] == 200
    status, reply = await call("POST", url + "/push/records", recognition(4))
    assert status == 507 and reply["code"] == 507 and "cache full" in reply["msg"]
    _, reply = await call("GET", url + "/push/status")
    assert reply["data"]["queued"] == 3 and reply["data"]["evicted"] == 0


async def test_status_metrics_and_set_aside_over_http(api: Api, standin: StandIn) -> None:
    url, service = await api(window=1)
    standin.refuse_keys = {rkey(1)}
    await call("POST", url + "/v1/event/subscribe", {"event_dest": standin.url, "enabled": True})
    await call("POST", url + "/push/records", [recognition(n) for n in range(3)])
    await eventually(lambda: service.status()["set_aside"] == 1, what="set aside")
    _, reply = await call("GET", url + "/push/status")
    fields = {"state", "queued", "queued_alarms", "delivered", "evicted", "set_aside"}
    fields |= {"cache_limit", "window", "last_error", "last_delivery_at"}
    assert fields <= set(reply["data"]) and reply["data"]["window"] == 1
    _, reply = await call("GET", url + "/push/set-aside")
    (item,) = reply["data"]["items"]
    assert item["key"] == rkey(1) and item["record"] == recognition(1)
    assert item["attempts"] == 5 and "422" in item["reason"]
    status, reply = await call("POST", url + "/push/set-aside/replay", {"ids": ["x"]})
    assert status == 400 and reply["msg"].startswith("ids")
    # Ids beyond SQLite's integers were a 500 (schemathesis found -874136937023852249088).
    for ids, where in (([1, -(2**69)], "ids[1]"), ([2**63], "ids[0]"), ([0], "ids[0]")):
        status, reply = await call("POST", url + "/push/set-aside/replay", {"ids": ids})
        assert status == 400 and reply["msg"].startswith(f"{where}: not a record id"), reply
    status, reply = await call("POST", url + "/push/set-aside/replay", {"ids": [1] * 1001})
    assert status == 400 and reply["msg"].startswith("ids: at most 1000 ids"), reply
    standin.refuse_keys = set()
    _, reply = await call("POST", url + "/push/set-aside/replay", {})
    assert reply["data"] == {"replayed": 1}
    await standin.wait_acked({rkey(1)})
    async with aiohttp.ClientSession() as session, session.get(url + "/metrics") as resp:
        text = await resp.text()
    assert resp.content_type == "text/plain"
    assert 'facepush_device_state{state="online"} 1' in text
    assert "facepush_device_delivered_total" in text
    assert "facepush_device_history_records 3" in text  # every recognition made
    assert "facepush_device_live_clients 0" in text


async def test_unknown_paths_answer_in_the_envelope(api: Api) -> None:
    url, _ = await api()
    status, reply = await call("GET", url + "/nope")
    assert status == 404 and reply["code"] == 404
