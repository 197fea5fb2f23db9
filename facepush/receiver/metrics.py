"""The receiver's Prometheus metrics: counters of this process, and commit latency."""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Callable

from facepush.metrics import metric

# Seconds; a durable SQLite commit is ~1-5 ms here, PostgreSQL a few ms, a stall much more.
_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Histogram:
    def __init__(self, name: str, help_text: str, buckets: tuple[float, ...] = _BUCKETS) -> None:
        self.name = name
        self.help_text = help_text
        self.buckets = buckets
        self.counts = [0] * (len(buckets) + 1)
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.sum += value
        self.count += 1

    def render(self) -> str:
        lines = [f"# HELP {self.name} {self.help_text}", f"# TYPE {self.name} histogram"]
        running = 0
        for bound, n in zip(self.buckets, self.counts, strict=False):
            running += n
            lines.append(f'{self.name}_bucket{{le="{bound}"}} {running}')
        lines.append(f'{self.name}_bucket{{le="+Inf"}} {self.count}')
        lines.append(f"{self.name}_sum {self.sum!r}")
        lines.append(f"{self.name}_count {self.count}")
        return "\n".join(lines) + "\n"


class ReceiverMetrics:
    """What this process saw since it started (the store's totals are in /api/stats)."""

    def __init__(self) -> None:
        self.received = 0  # pushes that reached the push endpoint
        self.stored = 0
        self.duplicates = 0
        # by reason: bad_request, rejected, signature, too_large, conflict
        self.refused: Counter[str] = Counter()
        self.quarantined = 0
        self.conflicts = 0  # repeats of a stored key with other content (acknowledged)
        # pushes refused for their signature, by reason (missing, malformed, stale, mismatch)
        self.signature_failures: Counter[str] = Counter()
        self.unavailable = 0  # pushes answered 503 because the store could not write
        self.busy = 0  # of those, because no body budget was free in time
        # Read when rendered: bytes of push bodies held now, rows this process dropped
        # from the full quarantine.
        self.body_bytes: Callable[[], int] = lambda: 0
        self.quarantine_dropped: Callable[[], int] = lambda: 0
        self.commits = 0
        self.committed_items = 0
        self.commit_latency = Histogram(
            "facepush_receiver_commit_seconds", "Time of one group commit (one transaction)."
        )
        self.ack_latency = Histogram(
            "facepush_receiver_push_seconds", "Time from a push's arrival to its reply."
        )
        # Managed terminals' reconciliation: history records stored, already stored, refused.
        self.history_stored = 0
        self.history_duplicates = 0
        self.history_refused: Counter[str] = Counter()  # by reason: bad_record, too_large, ...
        # More metric families rendered after these (the managed terminals' gauges).
        self.sections: list[Callable[[], str]] = []

    def render(self) -> str:
        parts = [
            metric(
                "facepush_receiver_received_total", "counter", "Pushes received.", self.received
            ),
            metric("facepush_receiver_stored_total", "counter", "Records stored.", self.stored),
            metric(
                "facepush_receiver_duplicates_total",
                "counter",
                "Pushes of records already stored (acknowledged, not stored again).",
                self.duplicates,
            ),
            metric(
                "facepush_receiver_refused_total",
                "counter",
                "Pushes refused, by reason.",
                [({"reason": r}, n) for r, n in sorted(self.refused.items())] or 0,
            ),
            metric(
                "facepush_receiver_quarantined_total",
                "counter",
                "Refused pushes kept in the quarantine table.",
                self.quarantined,
            ),
            metric(
                "facepush_receiver_conflicts_total",
                "counter",
                "Pushes of a stored key with other content (acknowledged, kept in quarantine).",
                self.conflicts,
            ),
            metric(
                "facepush_receiver_signature_failures_total",
                "counter",
                "Pushes refused for their signature (not kept), by reason.",
                [({"reason": r}, n) for r, n in sorted(self.signature_failures.items())] or 0,
            ),
            metric(
                "facepush_receiver_quarantine_dropped_total",
                "counter",
                "Oldest quarantined pushes this process dropped to keep the table in bounds.",
                self.quarantine_dropped(),
            ),
            metric(
                "facepush_receiver_unavailable_total",
                "counter",
                "Pushes answered 503 because the store could not write, or was busy.",
                self.unavailable,
            ),
            metric(
                "facepush_receiver_busy_total",
                "counter",
                "Pushes answered 503 because too many large bodies were being received.",
                self.busy,
            ),
            metric(
                "facepush_receiver_body_bytes",
                "gauge",
                "Bytes of push bodies being received, decoded or committed now.",
                self.body_bytes(),
            ),
            metric("facepush_receiver_commits_total", "counter", "Group commits.", self.commits),
            metric(
                "facepush_receiver_committed_items_total",
                "counter",
                "Items written by group commits (items / commits = mean batch size).",
                self.committed_items,
            ),
            self.commit_latency.render(),
            self.ack_latency.render(),
            metric(
                "facepush_receiver_history_stored_total",
                "counter",
                "Records read from managed terminals' history that the receiver did not have.",
                self.history_stored,
            ),
            metric(
                "facepush_receiver_history_duplicates_total",
                "counter",
                "Records read from managed terminals' history that were already stored.",
                self.history_duplicates,
            ),
            metric(
                "facepush_receiver_history_refused_total",
                "counter",
                "History records refused (quarantined), by reason.",
                [({"reason": r}, n) for r, n in sorted(self.history_refused.items())] or 0,
            ),
            *(section() for section in self.sections),
        ]
        return "".join(parts)
