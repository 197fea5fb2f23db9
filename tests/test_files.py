"""Private files and directories (facepush.files), whatever the umask."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from facepush import files


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def test_directories_and_files_are_created_private(tmp_path: Path, open_umask: None) -> None:
    made = files.private_dir(tmp_path / "a" / "b" / "c")
    for path in (tmp_path / "a", tmp_path / "a" / "b", made):
        assert _mode(path) == 0o700, path
    created = files.private_file(made / "db.sqlite3")
    assert _mode(created) == 0o600
    # Existing ones keep the mode an administrator gave them.
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o750)
    (shared / "kept").write_bytes(b"x")
    os.chmod(shared / "kept", 0o640)
    files.private_dir(shared)
    files.private_file(shared / "kept")
    assert (_mode(shared), _mode(shared / "kept")) == (0o750, 0o640)


def test_an_atomic_write_is_never_readable_by_others(
    tmp_path: Path, open_umask: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The JWT key's (and the configuration's) temporary file is 0600 from its creation on,
    before a byte is written, not chmod-ed afterwards."""
    seen: list[int] = []
    real_fdopen = os.fdopen

    def fdopen(fd: int, *args: Any, **kwargs: Any) -> Any:
        seen.append(stat.S_IMODE(os.fstat(fd).st_mode))
        return real_fdopen(fd, *args, **kwargs)

    monkeypatch.setattr(os, "fdopen", fdopen)
    target = tmp_path / "jwt.key"
    files.write_atomically(target, b"k" * 32)
    assert seen == [0o600] and _mode(target) == 0o600 and target.read_bytes() == b"k" * 32
    assert [p.name for p in tmp_path.iterdir()] == ["jwt.key"]  # no temporary file left
