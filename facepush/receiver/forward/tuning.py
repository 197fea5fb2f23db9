"""Intervals of forwarding: not settings (no option, no key), but tests shorten some."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Tuning:
    """Intervals of forwarding; not settings, but tests shorten some."""

    read_batch: int = 500
    save_every_s: float = 0.25  # a crash re-sends at most this much (at least once)
    poll_s: float = 1.0  # a read when nothing woke it (other processes' records)
    lease_retry_s: float = 1.0  # standby: how often to try for the lease
    lease_check_s: float = 2.0
    replay_check_s: float = 5.0  # other processes' replay requests
    backoff_base_s: float = 0.5
    backoff_cap_s: float = 30.0
    stop_timeout_s: float = 5.0
