"""HTTPS destinations (a generated CA) and Standard Webhooks signatures."""

from __future__ import annotations

import base64
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trustme
from standardwebhooks.webhooks import Webhook

from tests.support.device import ServiceFactory, eventually
from tests.support.records import akey, alarm, recognition, rkey
from tests.support.standin import StandIn

SECRET = "whsec_" + base64.b64encode(b"device-test-secret-0123456789abc").decode()


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
async def https_standin(ca: trustme.CA) -> AsyncIterator[StandIn]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    receiver = StandIn()
    await receiver.start(ssl_context=context)
    yield receiver
    await receiver.stop()


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


async def test_https_destination_with_the_private_ca(
    make_service: ServiceFactory, https_standin: StandIn, ca_file: Path
) -> None:
    service = await make_service(ca=ca_file)
    await service.subscribe({"event_dest": https_standin.url, "enabled": True})
    await service.record([recognition(n) for n in range(5)])
    await https_standin.wait_acked({rkey(n) for n in range(5)})


async def test_https_destination_is_refused_without_trust(
    make_service: ServiceFactory, https_standin: StandIn
) -> None:
    service = await make_service()  # system trust only: the private CA is unknown
    await service.subscribe({"event_dest": https_standin.url, "enabled": True})
    await service.record(recognition(1))
    await eventually(lambda: service.status()["state"] == "offline", what="offline")
    assert "--ca" in service.status()["last_error"]
    assert https_standin.pushes == [] and service.status()["queued"] == 1


async def test_insecure_is_an_explicit_choice(
    make_service: ServiceFactory, https_standin: StandIn
) -> None:
    service = await make_service(insecure=True)
    await service.subscribe({"event_dest": https_standin.url, "enabled": True})
    await service.record(recognition(1))
    await https_standin.wait_acked({rkey(1)})


async def test_pushes_are_signed_verifiably_with_a_stable_id(
    make_service: ServiceFactory, standin: StandIn
) -> None:
    standin.mode = "http500"
    service = await make_service(signing_secret=SECRET)
    await service.subscribe({"event_dest": standin.url, "enabled": True})
    await service.record([recognition(1), alarm(2)])
    await eventually(lambda: len(standin.pushes) >= 4, what="retries")
    standin.mode = "ok"
    await standin.wait_acked({rkey(1), akey(2)})
    webhook = Webhook(SECRET)
    for push in standin.pushes:
        assert webhook.verify(push.body, push.headers) == push.json
        assert push.headers["webhook-id"] == push.key  # the identity, the same every retry
    tampered = dict(standin.pushes[0].headers)
    with pytest.raises(Exception, match="match"):
        webhook.verify(standin.pushes[0].body + b" ", tampered)


async def test_unsigned_by_default(make_service: ServiceFactory, standin: StandIn) -> None:
    service = await make_service()
    await service.subscribe({"event_dest": standin.url, "enabled": True})
    await service.record(recognition(1))
    await standin.wait_acked(1)
    assert "webhook-signature" not in {k.lower() for k in standin.pushes[0].headers}
