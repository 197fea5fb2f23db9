"""How many password / token guesses an attacker gets in 5 s (docs/reliability.md,
"Hostile input"): `python -m bench.guesses [--source DIR] [--seconds S]`.

Starts `facepush device serve` with an account and `facepush receiver serve` with a token
(from `--source`, a facepush checkout, to measure another version), then 8 clients send
distinct wrong guesses as fast as the server answers: the terminal's `POST /v1/auth/login`,
the receiver's `GET /api/stats` with a Bearer token. A guess counts when the server judged
it (401/1000/1001); refusals without judging (429) are counted apart.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import aiohttp

_LISTENING = re.compile(r"listening on (https?://\S+)")
CLIENTS = 8
TOKEN = "bench-guesses-token-0123456789abcdef"
PASSWORD = "bench-guesses-password"
JSON = {"Content-Type": "application/json"}


def start(source: Path, args: list[str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "facepush", *args], cwd=source, stdout=out, stderr=out
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        match = _LISTENING.search(log.read_text(errors="replace"))
        if match:
            return proc, match.group(1)
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"{args[:2]} did not start:\n{log.read_text(errors='replace')}")


async def attack(url: str, kind: str, seconds: float) -> Counter[str]:
    counts: Counter[str] = Counter()
    numbers = itertools.count()
    deadline = time.monotonic() + seconds

    async def client(session: aiohttp.ClientSession) -> None:
        while time.monotonic() < deadline:
            guess = f"guess-{next(numbers):08d}"
            if kind == "terminal":
                body = json.dumps({"username": "admin", "password": guess})
                request = session.post(url + "/v1/auth/login", data=body, headers=JSON)
            else:
                bearer = {"Authorization": "Bearer " + guess}
                request = session.get(url + "/api/stats", headers=bearer)
            async with request as resp:
                reply = json.loads(await resp.read())
            code = reply.get("code")
            counts["judged" if code in (401, 1000, 1001) else f"code {code}"] += 1

    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(client(session) for _ in range(CLIENTS)))
    return counts


def serve(side: str, data: Path) -> list[str]:
    return [side, "serve", "--listen", "127.0.0.1:0", "--data", str(data)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="facepush-guesses-") as tmp:
        work = Path(tmp)
        device, dev_url = start(
            args.source,
            [*serve("device", work / "device"), "--username", "admin", "--password", PASSWORD],
            work / "device.log",
        )
        receiver, rx_url = start(
            args.source,
            [*serve("receiver", work / "rx"), "--token", TOKEN],
            work / "receiver.log",
        )
        try:
            for kind, url in (("terminal", dev_url), ("receiver", rx_url)):
                counts = asyncio.run(attack(url, kind, args.seconds))
                others = ", ".join(f"{n} × {k}" for k, n in sorted(counts.items()) if k != "judged")
                print(
                    f"{kind}: {counts['judged']} guesses judged in {args.seconds:g} s"
                    + (f" ({others})" if others else "")
                )
        finally:
            for proc in (device, receiver):
                proc.terminate()
                proc.wait(timeout=30)


if __name__ == "__main__":
    main()
