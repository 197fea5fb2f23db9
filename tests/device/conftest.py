"""Fixtures of the terminal tests: a recording stand-in receiver, and started services."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from facepush.backoff import Backoff
from facepush.device.service import PushService
from facepush.device.settings import DeviceSettings
from tests.support.device import ServiceFactory
from tests.support.standin import StandIn


@pytest.fixture
async def standin() -> AsyncIterator[StandIn]:
    receiver = StandIn()
    await receiver.start()
    yield receiver
    await receiver.stop()


@pytest.fixture
async def make_service(tmp_path: Path) -> AsyncIterator[ServiceFactory]:
    """Started services with quick backoff (tests wait in tenths, not tens, of seconds)."""
    started: list[PushService] = []

    async def make(data: Path | None = tmp_path / "device", **options: Any) -> PushService:
        options.setdefault("backoff", Backoff(base=0.02, cap=0.2))
        options.setdefault("refusal_backoff", Backoff(base=0.02, cap=0.1))
        options.setdefault("timeout", 2.0)
        given = {k: options.pop(k) for k in list(options) if k in DeviceSettings.__struct_fields__}
        service = PushService(DeviceSettings.of(data=data, **given), **options)
        await service.start()
        started.append(service)
        return service

    yield make
    for service in started:
        if service._deliverer is not None:
            await service.stop()
