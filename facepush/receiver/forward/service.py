"""Every sink of a receiver: their forwarders started and stopped with the app, woken by
the writer, and what `GET /api/forward` and `/metrics` show of them.

The reads here (position, pending, lag) are blocking: the API runs them on its reader
pool. A sink that another receiver process forwards (PostgreSQL) shows the position and
last error that process saved.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Sequence
from typing import Any

from facepush.errors import (
    UnknownSink as UnknownSink,  # defined in facepush.errors; exported here as before
)
from facepush.metrics import metric
from facepush.protocol.times import now_ms
from facepush.receiver.forward.forwarder import Forwarder
from facepush.receiver.forward.positions import PgPositions, Positions, positions_for
from facepush.receiver.forward.settings import ForwardSettings, check_sinks
from facepush.receiver.forward.tuning import Tuning
from facepush.receiver.store import Store
from facepush.redact import redact


class Forwarding:
    def __init__(
        self, sinks: Sequence[ForwardSettings], store: Store, tuning: Tuning | None = None
    ) -> None:
        check_sinks(sinks)
        self.sinks = list(sinks)
        self.positions: Positions | None = positions_for(store) if sinks else None
        self.holder = f"{socket.gethostname()}:{os.getpid()}"
        self.forwarders: dict[str, Forwarder] = {}
        if self.positions is not None:
            for sink in self.sinks:
                self.forwarders[sink.name] = Forwarder(
                    sink, self.positions, self.holder, tuning or Tuning()
                )
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        for name, forwarder in self.forwarders.items():
            self._tasks.append(asyncio.create_task(forwarder.run(), name=f"forward-{name}"))

    async def stop(self) -> None:
        for forwarder in self.forwarders.values():
            await forwarder.stop()
        timeout = max((f.tuning.stop_timeout_s for f in self.forwarders.values()), default=0) + 5
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*self._tasks, return_exceptions=True), timeout)
        for task in self._tasks:
            task.cancel()
        self._tasks.clear()

    def close(self) -> None:
        if isinstance(self.positions, PgPositions):
            self.positions.close()

    def wake(self, _stored: object = None) -> None:
        """The writer stored records: each forwarder reads again (nothing else here)."""
        for forwarder in self.forwarders.values():
            forwarder.wake()

    def forwarder(self, name: str) -> Forwarder:
        found = self.forwarders.get(name)
        if found is None:
            raise UnknownSink(name, list(self.forwarders))
        return found

    # -- blocking reads, for the API's reader pool -------------------------------------

    def status(self) -> list[dict[str, Any]]:
        return [self.sink_status(name) for name in self.forwarders]

    def sink_status(self, name: str) -> dict[str, Any]:
        forwarder = self.forwarder(name)
        settings, positions = forwarder.settings, forwarder.positions
        # The durable position and what it counts, read together: one consistent picture
        # (the acknowledged prefix in memory is at most one save interval ahead of it).
        saved = positions.position(name)
        cursor = saved.cursor
        lag = forwarder.lag_s()
        if lag is None:  # nothing in flight here: the next record after the position
            received = positions.next_received_at(cursor)
            lag = max(0.0, (now_ms() - received) / 1000) if received is not None else 0.0
        return {
            "name": name,
            "kind": settings.kind,
            "url": redact(settings.url),
            "state": forwarder.state,
            "position": cursor.id,
            "pending": positions.pending(cursor, settings.type_codes, settings.late == "skip"),
            "forwarded": saved.forwarded,
            "skipped": saved.skipped,
            "set_aside": saved.set_aside,
            "last_error": forwarder.last_error if forwarder.leased else saved.last_error,
            "last_error_at": forwarder.last_error_at,
            "last_forwarded_at": saved.last_forwarded_at,
            "lag_s": round(lag, 3),
            "leased": forwarder.leased,
            "holder": saved.holder,
            "failures": forwarder.failures,
            "window": settings.window,
            "in_flight": forwarder.window.inflight if forwarder.window else 0,
            "types": list(settings.types),
            "late": settings.late,
            "homeassistant": settings.homeassistant,
        }

    def set_aside(self, name: str, limit: int) -> list[dict[str, Any]]:
        forwarder = self.forwarder(name)
        return [
            {
                "event_id": s.event_id,
                "key": s.key,
                "error": s.error,
                "attempts": s.attempts,
                "set_aside_at": s.set_aside_at,
                "replay": s.replay,
            }
            for s in forwarder.positions.set_aside(name, limit)
        ]

    def replay(self, name: str, event_ids: Sequence[int] | None) -> int:
        """Mark set-aside records to be sent again; the holder (this process or another)
        picks them up. The caller wakes a local forwarder on the loop."""
        return self.forwarder(name).positions.request_replay(name, event_ids)

    def metrics_text(self) -> str:
        if not self.forwarders:
            return ""
        rows = self.status()
        labelled = {
            key: [({"sink": r["name"]}, float(r[key] or 0)) for r in rows]
            for key in ("forwarded", "pending", "failures", "lag_s", "skipped", "set_aside")
        }
        leased = [({"sink": r["name"]}, 1.0 if r["leased"] else 0.0) for r in rows]
        return "".join(
            [
                metric(
                    "facepush_forward_forwarded_total",
                    "counter",
                    "Records the sink acknowledged (behind its saved position).",
                    labelled["forwarded"],
                ),
                metric(
                    "facepush_forward_pending",
                    "gauge",
                    "Stored records the sink will be sent, not yet acknowledged.",
                    labelled["pending"],
                ),
                metric(
                    "facepush_forward_failures_total",
                    "counter",
                    "Failed sends and connects (this process).",
                    labelled["failures"],
                ),
                metric(
                    "facepush_forward_lag_seconds",
                    "gauge",
                    "Age of the oldest record not yet acknowledged by the sink.",
                    labelled["lag_s"],
                ),
                metric(
                    "facepush_forward_skipped_total",
                    "counter",
                    'Late records passed over (late = "skip").',
                    labelled["skipped"],
                ),
                metric(
                    "facepush_forward_set_aside",
                    "gauge",
                    "Records the sink refused for good, kept for replay.",
                    labelled["set_aside"],
                ),
                metric(
                    "facepush_forward_leased",
                    "gauge",
                    "1 when this process forwards the sink (holds its lease).",
                    leased,
                ),
            ]
        )
