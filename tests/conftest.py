from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import running_processes

VECTORS = Path(__file__).parent / "vectors"


@pytest.fixture(autouse=True)
def no_process_left_behind() -> Iterator[None]:
    """Fail a test that leaves a `facepush` process running, and stop it. (Processes of
    module- or session-scoped fixtures start before this and are not the test's.)"""
    before = running_processes()
    yield
    leaked = running_processes() - before
    for process in leaked:
        process.stop()
    if leaked:
        names = "; ".join(" ".join(p.args[:2]) + f" (log {p.log_path})" for p in leaked)
        pytest.fail(f"the test left processes running (stop them in a finally): {names}")


@pytest.fixture
def vectors() -> Path:
    return VECTORS


@pytest.fixture(scope="session")
def pg_dsn() -> str:
    """The PostgreSQL server of the PostgreSQL tests (`.ci/run` starts it)."""
    import os

    return os.environ.get("FACEPUSH_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
