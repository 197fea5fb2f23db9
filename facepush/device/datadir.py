"""The terminal's data directory (`--data`): where its outbox and history files are, the
small durable state beside them (the push configuration, the JWT signing key), and a lock
so that two services never share one data directory.

The directory is created 0700 and every file in it 0600 (facepush.files): the outbox
holds face images, the key signs logins."""

from __future__ import annotations

import fcntl
import secrets
from pathlib import Path

import msgspec

from facepush.errors import DataDirError
from facepush.files import private_dir, private_file, write_atomically
from facepush.protocol.models import Subscription

SUBSCRIPTION_FILE = "subscription.json"
JWT_KEY_FILE = "jwt.key"
OUTBOX_FILE = "outbox.sqlite3"
HISTORY_FILE = "history.sqlite3"
LOCK_FILE = "lock"


class DataDir:
    """The `--data` directory: created if missing, locked while a service uses it."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            private_dir(self.path)
            lock = private_file(self.path / LOCK_FILE)
            self._lock = open(lock, "a+b")  # noqa: SIM115 - held while open
        except OSError as exc:
            raise DataDirError(
                f"cannot use data directory {self.path}: {exc.strerror or exc}; give a "
                "writable --data directory"
            ) from None
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lock.close()
            raise DataDirError(
                f"data directory {self.path} is in use by another facepush device service; "
                "stop it or give this one its own --data"
            ) from None

    @property
    def outbox_path(self) -> Path:
        return self.path / OUTBOX_FILE

    @property
    def history_path(self) -> Path:
        return self.path / HISTORY_FILE

    def load_subscription(self) -> Subscription | None:
        path = self.path / SUBSCRIPTION_FILE
        try:
            return msgspec.json.decode(path.read_bytes(), type=Subscription)
        except FileNotFoundError:
            return None
        except (OSError, msgspec.DecodeError) as exc:
            raise DataDirError(
                f"cannot read the push configuration {path}: {exc}; fix or delete the file "
                "and configure again with POST /v1/event/subscribe"
            ) from None

    def save_subscription(self, sub: Subscription) -> None:
        write_atomically(self.path / SUBSCRIPTION_FILE, msgspec.json.encode(sub))

    def jwt_key(self) -> bytes:
        """The key that signs login tokens; made once, so tokens survive restarts."""
        path = self.path / JWT_KEY_FILE
        try:
            key = path.read_bytes()
            if len(key) >= 32:
                return key
        except FileNotFoundError:
            pass
        key = secrets.token_bytes(32)
        write_atomically(path, key)  # 0600 from its first byte on
        return key

    def close(self) -> None:
        self._lock.close()  # releases the lock
