"""The OpenAPI document: shipped in the package, copied to docs/, served, and in step with
the app's routes (every route documented, every documented path routed)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from facepush.receiver.app import OPENAPI
from tests.receiver.conftest import Serve

DOCS = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"


@pytest.fixture
def backend() -> str:
    return "sqlite"


def test_docs_copy_is_the_shipped_document() -> None:
    assert DOCS.read_bytes() == OPENAPI.read_bytes(), "copy facepush/receiver/openapi.yaml to docs/"


async def test_document_matches_the_routes(serve: Serve) -> None:
    rx = await serve()
    routed: set[tuple[str, str]] = set()
    for route in rx.app.router.routes():
        if route.method == "HEAD":
            continue
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter") or ""
        if "prefix" in info:  # the dashboard's static files
            path = info["prefix"].rstrip("/") + "/{path}"
        path = re.sub(r"\{(\w+):[^}]+\}", r"{\1}", path)
        routed.add((route.method.lower(), path))
    document = yaml.safe_load(OPENAPI.read_text())
    documented = {
        (method, path)
        for path, operations in document["paths"].items()
        for method in operations
        if method in {"get", "post", "put", "delete", "patch"}
    }
    assert routed == documented


async def test_document_is_served(serve: Serve) -> None:
    rx = await serve()
    async with rx.session.get(rx.url + "/openapi.yaml") as resp:
        assert resp.status == 200
        assert yaml.safe_load(await resp.text())["openapi"].startswith("3.")
