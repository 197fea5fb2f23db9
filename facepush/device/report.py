"""`GET /metrics` of the terminal: its status in the Prometheus text format."""

from __future__ import annotations

from typing import Any

from facepush.metrics import metric

_STATES = ("unconfigured", "disabled", "online", "offline")


def render_metrics(status: dict[str, Any]) -> str:
    parts = [
        metric(
            "facepush_device_state",
            "gauge",
            "Push state: 1 for the current one.",
            [({"state": s}, 1 if status["state"] == s else 0) for s in _STATES],
        ),
        metric(
            "facepush_device_queued",
            "gauge",
            "Records cached and not yet acknowledged, by type.",
            [
                ({"type": "recognition"}, status["queued"] - status["queued_alarms"]),
                ({"type": "alarm"}, status["queued_alarms"]),
            ],
        ),
        metric(
            "facepush_device_cached",
            "gauge",
            "Records held (counts to the limit).",
            status["cached"],
        ),
        metric("facepush_device_cache_limit", "gauge", "The cache cap.", status["cache_limit"]),
        metric(
            "facepush_device_set_aside",
            "gauge",
            "Records refused and set aside.",
            status["set_aside"],
        ),
        metric(
            "facepush_device_delivered_total",
            "counter",
            "Records acknowledged.",
            status["delivered"],
        ),
        metric(
            "facepush_device_evicted_total",
            "counter",
            "Records evicted by the cap.",
            status["evicted"],
        ),
        metric("facepush_device_window", "gauge", "Records allowed in flight.", status["window"]),
        metric("facepush_device_in_flight", "gauge", "Records in flight.", status["in_flight"]),
        metric(
            "facepush_device_history_records",
            "gauge",
            "Recognition records in the terminal's history.",
            status["history"],
        ),
        metric(
            "facepush_device_live_clients",
            "gauge",
            "WebSocket clients of the live stream.",
            status["live_clients"],
        ),
        metric(
            "facepush_device_delivery_latency_seconds",
            "gauge",
            "Mean time from accept to acknowledgement since start.",
            (status["latency_ms"] or 0) / 1000,
        ),
        metric(
            "facepush_device_request_seconds",
            "gauge",
            "Mean round-trip time of acknowledged pushes since start.",
            (status["rtt_ms"] or 0) / 1000,
        ),
    ]
    if status["last_delivery_at"] is not None:
        parts.append(
            metric(
                "facepush_device_last_delivery_timestamp_seconds",
                "gauge",
                "When a record was last acknowledged.",
                status["last_delivery_at"] / 1000,
            )
        )
    return "".join(parts)
