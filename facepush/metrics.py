"""Prometheus text exposition, kept tiny: counters, gauges and summaries from plain values."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def metric(
    name: str,
    kind: str,
    help_text: str,
    samples: Iterable[tuple[Mapping[str, str], float]] | float,
) -> str:
    """One metric family in the text format; `samples` is a value or (labels, value) pairs."""
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
    pairs = [({}, samples)] if isinstance(samples, int | float) else samples
    for labels, value in pairs:
        label_text = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
        lines.append(
            f"{name}{{{label_text}}} {_number(value)}" if label_text else f"{name} {_number(value)}"
        )
    return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))
