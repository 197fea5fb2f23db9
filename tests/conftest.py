from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from tests.support.processes import running_processes
from tests.support.receiver import drop_schema, fresh_pg_url
from tests.support.terminals import PASSWORD, USERNAME, Terminal, start_terminal

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


@pytest.fixture
def pg_url(pg_dsn: str) -> Iterator[str]:
    """A `--db` URL of a fresh PostgreSQL schema, dropped after the test."""
    url, schema = fresh_pg_url(pg_dsn)
    try:
        yield url
    finally:
        drop_schema(pg_dsn, schema)


@pytest.fixture(scope="module")
def plain_terminal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Terminal]:
    terminal = start_terminal(tmp_path_factory.mktemp("plain"))
    yield terminal
    terminal.process.stop()


@pytest.fixture(scope="module")
def secure_terminal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Terminal]:
    """A terminal with an account and TLS on its API, certificate from a private CA."""
    tmp = tmp_path_factory.mktemp("secure")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert_file, key_file, ca_file = tmp / "cert.pem", tmp / "key.pem", tmp / "ca.pem"
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    ca.cert_pem.write_to_path(str(ca_file))
    terminal = start_terminal(
        tmp, "--username", USERNAME, "--password", PASSWORD, tls=(cert_file, key_file)
    )
    terminal.ca_file = ca_file
    yield terminal
    terminal.process.stop()
