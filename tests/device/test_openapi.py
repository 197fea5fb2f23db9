"""The terminal's OpenAPI document is in step with its routes and is served."""

from __future__ import annotations

import urllib.request
from pathlib import Path
from typing import Any, cast

import yaml

from facepush.device.api import OPENAPI, make_app
from tests.support.device import start_device


def test_document_matches_the_routes() -> None:
    app = make_app(cast(Any, None), cast(Any, None))  # routes only; nothing is served
    routed = {
        (route.method.lower(), route.resource.canonical)
        for route in app.router.routes()
        if route.method != "HEAD" and route.resource is not None
    }
    document = yaml.safe_load(OPENAPI.read_text())
    documented = {(m, p) for p, ops in document["paths"].items() for m in ops}
    assert routed == documented


def test_document_is_served_without_login(tmp_path: Path) -> None:
    proc, url = start_device(
        tmp_path, "--data", str(tmp_path / "d"), "--username", "admin", "--password", "pw"
    )
    try:
        with urllib.request.urlopen(url + "/openapi.yaml", timeout=10) as resp:
            assert resp.read() == OPENAPI.read_bytes()
    finally:
        proc.stop()
