"""`python -m bench.sqlite_workers DB_URL N`: what `--workers N` would do on SQLite, which
the receiver refuses (WorkersUnsupported): the same supervisor and workers, started past
the settings' check, so that the bench can show why it refuses."""

from __future__ import annotations

import asyncio
import logging
import sys

from facepush.receiver.settings import ReceiverSettings
from facepush.receiver.workers import serve_workers


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    db_url, count = sys.argv[1], int(sys.argv[2])
    settings = ReceiverSettings(db=db_url, listen="127.0.0.1:0")
    asyncio.run(serve_workers(settings, "127.0.0.1", 0, count=count))


if __name__ == "__main__":
    main()
