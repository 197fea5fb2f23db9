"""One harness for every benchmark.

A benchmark is a function registered with `@benchmark("name")` in a `bench/bench_*.py`
module; it returns rows (dicts) that the harness prints as a table and writes to
docs/benchmarks.md, together with the machine description and the command.
"""

from __future__ import annotations

import importlib
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

Row = dict[str, object]
Bench = Callable[[], list[Row]]

REGISTRY: dict[str, Bench] = {}
METHODS: dict[str, str] = {}  # markdown written above a section's table
ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "benchmarks.md"


def benchmark(name: str, method: str = "") -> Callable[[Bench], Bench]:
    """Register a benchmark; `method` (markdown: how the load is made, what the baseline
    is, what is counted) goes into docs/benchmarks.md above its table."""

    def register(func: Bench) -> Bench:
        REGISTRY[name] = func
        if method:
            METHODS[name] = method.strip() + "\n\n"
        return func

    return register


def _load_all() -> None:
    for path in sorted(Path(__file__).parent.glob("bench_*.py")):
        importlib.import_module(f"bench.{path.stem}")


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, {cpu}, "
        f"Python {platform.python_version()}"
    )


def table(rows: list[Row]) -> str:
    if not rows:
        return "(no rows)\n"
    columns = list(dict.fromkeys(k for row in rows for k in row))
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(str(row.get(c, "")) for c in columns) + " |")
    return "\n".join(lines) + "\n"


def main(names: list[str]) -> int:
    _load_all()
    chosen = names or list(REGISTRY)
    unknown = [n for n in chosen if n not in REGISTRY]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(REGISTRY)}")
        return 2
    output = Path(os.environ.get("FACEPUSH_BENCH_OUTPUT", OUTPUT))
    sections = _sections(output) if names else {}
    for name in chosen:
        started = time.monotonic()
        load = os.getloadavg()[0]
        print(f"== {name}", flush=True)
        text = table(REGISTRY[name]())
        print(text, flush=True)
        took = time.monotonic() - started
        method = METHODS.get(name, "")
        took_text = (
            f"(this machine: {took:.0f} s for this section; load average {load:.1f} at its start)"
        )
        sections[name] = f"## {name}\n\n{method}{text}\n{took_text}\n"
    if not sections:
        sections[""] = "No benchmarks are registered yet.\n"
    header = (
        "# Benchmarks\n\n"
        "Command: `make bench` (`python -m bench [NAME ...]` runs some and keeps the other\n"
        "sections of this file).\n\n"
        f"Machine: {machine()}.\n\n"
        "Every figure is a ratio against a baseline measured in the same run, or a count;\n"
        "absolute times and rates are this machine's and are labelled so.\n\n"
    )
    ordered = [sections[n] for n in REGISTRY if n in sections]
    ordered += [text for n, text in sections.items() if n not in REGISTRY]
    output.write_text(header + "\n".join(ordered))
    print(f"wrote {output}")
    sys.stdout.flush()
    return 0


def _sections(path: Path) -> dict[str, str]:
    """The `## name` sections of an earlier run, to keep those not run this time."""
    if not path.exists():
        return {}
    found: dict[str, str] = {}
    for chunk in path.read_text().split("\n## ")[1:]:
        name = chunk.split("\n", 1)[0].strip()
        found[name] = "## " + chunk.rstrip("\n") + "\n"
    return found
