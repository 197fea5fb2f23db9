"""Where a stored push's microseconds go: `python -m bench.gilprofile [sqlite|postgresql]
[SNAPSHOT_BYTES] [SECONDS]`.

A fresh `facepush receiver serve` under wrk (64 connections, as receiver-ingest), sampled by
py-spy with `--gil` (only the thread holding the GIL, 200 samples a second): the GIL is
what limits the receiver, since every push's Python work runs on its one event loop. Each
sample goes to one part of the push path (the first rule below that matches its stack),
and the table gives that part's GIL time per stored push in µs. (py-spy slows the server;
compare profiles taken this way, not with the rates of receiver-ingest.)
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from bench import wrk
from bench.servers import POSTGRES, SQLITE, serving

RATE = 200
# (part, where a sample's stack must show it): the first match names the sample's part.
PARTS: list[tuple[str, str]] = [
    ("writer thread: the SQL of a batch", "thread:writer"),
    ("decode_push (parse, lenient rules, models, limits)", "any:decode_push"),
    ("incoming(): the stored row (fields, digest, image)", "any:records.py"),
    ("group commit on the loop (submit, futures, batches)", "any:ingest.py"),
    ("site policy (Host, Origin, security headers)", "leaf:sitepolicy.py ipaddress.py"),
    ("guard: slow-client timers", "leaf:guard.py timeouts.py"),
    ("push handler's own code (budget, metrics, answer)", "leaf:push.py budget.py metrics.py"),
    ("lean HTTP path (head parse, reply)", "any:lean.py"),
    ("aiohttp request path (Request, middlewares, Response)", "any:aiohttp"),
    ("event loop, sockets, other", "any:"),
]


def part_of(thread: str, frames: list[str]) -> str:
    for part, rule in PARTS:
        where, _, names = rule.partition(":")
        if where == "thread":
            if names in thread:
                return part
            continue
        text = frames[-1] if where == "leaf" and frames else ";".join(frames)
        if not names or any(name in text for name in names.split()):
            return part
    raise AssertionError("the last rule matches every sample")


def table(raw: Path, pushes: int) -> str:
    parts: Counter[str] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        if frames[0].startswith("process"):
            frames = frames[1:]
        parts[part_of(frames[0], frames[1:])] += int(count)
    rows = [f"| {part} | {n / RATE / pushes * 1e6:.0f} |" for part, n in parts.most_common()]
    total = sum(parts.values()) / RATE / pushes * 1e6
    return "\n".join(["| part | GIL µs per push |", "|---|---|", *rows, f"| total | {total:.0f} |"])


def _py_spy() -> str:
    """The py-spy installed beside this Python (the test extra), else the one on PATH."""
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else "py-spy"


def main(backend: str, snapshot: int, seconds: int) -> None:
    with tempfile.TemporaryDirectory(prefix="facepush-gil-") as tmp_text:
        tmp = Path(tmp_text)
        body, raw = tmp / "body.json", tmp / "profile.txt"
        wrk.template(body, snapshot)
        with serving(POSTGRES if backend == "postgresql" else SQLITE, tmp) as server:
            url = server.url + "/Record"
            wrk.run(url, body, conns=64, seconds=1, threads=2)  # warm-up
            spy = [_py_spy(), "record", "-p", str(server.pid), "-d", str(seconds)]
            spy += ["-r", str(RATE), "-f", "raw", "-o", str(raw), "--threads", "--gil"]
            sampling = subprocess.Popen(spy, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            result = wrk.run(url, body, conns=64, seconds=seconds, threads=2)
            sampling.wait(timeout=120)
        pushes = wrk.ok(result)
        print(f"{backend}, {snapshot} B snapshot: {pushes / seconds:.0f} pushes/s under py-spy")
        print(table(raw, pushes))


if __name__ == "__main__":
    args = sys.argv[1:]
    main(
        args[0] if args else "sqlite",
        int(args[1]) if len(args) > 1 else 0,
        int(args[2]) if len(args) > 2 else 8,
    )
