"""The receiver's storage fails under it: the disk is full (SQLite) or the database is
unavailable (PostgreSQL). It refuses with a non-200 code, so that terminals keep their
records, stays up, and accepts again once the fault clears. Nothing is lost."""

from __future__ import annotations

import json
import resource
import signal
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.support.processes import Process, free_port, wait_http
from tests.support.servers import http_json, key_of, records, report, stored_keys


def push_all(url: str, batch: list[dict[str, Any]]) -> Counter[int]:
    """Push each record once; count the JSON codes of the replies."""
    codes: Counter[int] = Counter()
    for record in batch:
        request = urllib.request.Request(url + "/Record", data=json.dumps(record).encode())
        try:
            with urllib.request.urlopen(request, timeout=10) as resp:
                codes[json.loads(resp.read())["code"]] += 1
        except urllib.error.HTTPError as exc:
            codes[json.loads(exc.read())["code"]] += 1
    return codes


def _ignore_sigxfsz() -> None:
    # Past RLIMIT_FSIZE a write then fails with EFBIG (disk full) instead of killing us.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def test_disk_full_is_refused_and_recovers(tmp_path: Path) -> None:
    port = free_port()
    args = ["receiver", "serve", "--listen", f"127.0.0.1:{port}", "--data", str(tmp_path / "r")]
    receiver = Process(args, tmp_path / "receiver.log", preexec=_ignore_sigxfsz)
    url = f"http://127.0.0.1:{port}"
    batch = records(1500, seed=21)
    try:
        wait_http(url + "/healthz", timeout=30)
        resource.prlimit(
            receiver.proc.pid, resource.RLIMIT_FSIZE, (200_000, resource.RLIM_INFINITY)
        )
        during = push_all(url, batch)
        resource.prlimit(
            receiver.proc.pid,
            resource.RLIMIT_FSIZE,
            (resource.RLIM_INFINITY, resource.RLIM_INFINITY),
        )
        after = push_all(url, batch)  # terminals re-send what was not acknowledged
        stored = stored_keys(url)
        stats = http_json(url + "/api/stats")["data"]
    finally:
        receiver.stop()
    report(
        "disk full",
        records=len(batch),
        accepted_while_full=during[200],
        refused_while_full=sum(n for c, n in during.items() if c != 200),
        accepted_after=after[200],
        stored=len(stored),
        duplicates_refused=stats["duplicates"],
    )
    assert set(during) <= {200, 503} and during[503] > 1000  # the disk really filled up
    assert after == Counter({200: len(batch)})
    assert sorted(stored) == sorted(key_of(r) for r in batch)


@pytest.fixture
def scratch_database(pg_dsn: str) -> Iterator[tuple[str, str]]:
    """A database of its own, so that cutting it off disturbs no other test."""
    name = f"fp_fault_{uuid.uuid4().hex[:10]}"
    admin = pg_dsn.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield admin, name
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_database_unavailable_is_refused_and_recovers(
    tmp_path: Path, scratch_database: tuple[str, str]
) -> None:
    admin, name = scratch_database
    port = free_port()
    db_url = admin.rsplit("/", 1)[0] + f"/{name}"
    args = ["receiver", "serve", "--listen", f"127.0.0.1:{port}", "--db", db_url]
    receiver = Process(args, tmp_path / "receiver.log")
    url = f"http://127.0.0.1:{port}"
    batch = records(600, seed=22)
    try:
        wait_http(url + "/healthz", timeout=30)
        before = push_all(url, batch[:200])
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
            )
        during = push_all(url, batch[200:400])
        with pytest.raises(urllib.error.HTTPError) as health:
            http_json(url + "/healthz")
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        after = push_all(url, batch[200:])
        stored = stored_keys(url)
    finally:
        receiver.stop()
    report(
        "database unavailable",
        records=len(batch),
        accepted_before=before[200],
        refused_while_down=during[503],
        accepted_after=after[200],
        stored=len(stored),
    )
    assert before == Counter({200: 200})
    assert during == Counter({503: 200})
    assert health.value.code == 503
    assert after == Counter({200: 400})
    assert sorted(stored) == sorted(key_of(r) for r in batch)
