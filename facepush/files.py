"""Files and directories that hold face images, credentials or keys: private to the
service's own user from the moment they exist, whatever the umask.

Directories facepush creates are 0700, files 0600 (SQLite gives a database's `-wal` and
`-shm` files the mode of the database file, so creating the database file first makes
them private too). Existing files and directories keep the mode they have: an
administrator may have chosen it (docs/reliability.md, "Hostile input").
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: str | Path) -> Path:
    """Make `path` and any missing parents, each created 0700; return it."""
    path = Path(path)
    missing: list[Path] = []
    here = path
    while not here.exists():
        missing.append(here)
        if here.parent == here:
            break
        here = here.parent
    for directory in reversed(missing):
        try:
            os.mkdir(directory, DIR_MODE)
        except FileExistsError:
            continue  # made concurrently: keep its mode
        os.chmod(directory, DIR_MODE)  # the umask may have taken bits away, or added none
    return path


def private_file(path: str | Path) -> Path:
    """Create `path` empty with mode 0600 unless it exists; return it."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return path
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    return path


def write_atomically(path: str | Path, data: bytes) -> None:
    """Replace `path` with `data` (mode 0600) so that a crash leaves the old or the new
    file, whole; the new content is never readable by others, not even for a moment."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), FILE_MODE)
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
