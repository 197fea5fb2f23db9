"""The adaptive window (ARC-like) and the backoff, on their own."""

from __future__ import annotations

import random
import time

import pytest

from facepush.backoff import Backoff
from facepush.device.window import AdaptiveWindow, FixedWindow


def test_backoff_is_full_jitter_exponential_capped_and_resets() -> None:
    backoff = Backoff(base=0.5, cap=30.0, rng=random.Random(7))
    ceilings = [backoff.ceiling(n) for n in range(1, 10)]
    assert ceilings == [0.5, 1, 2, 4, 8, 16, 30, 30, 30]
    delays = [backoff.next_delay() for _ in range(200)]
    assert all(0 <= d <= 30 for d in delays) and max(delays) > 15
    assert len({round(d, 6) for d in delays}) > 150  # jittered, not lockstep
    backoff.reset()
    assert backoff.failures == 0 and backoff.next_delay() <= 0.5


def test_backoff_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="base"):
        Backoff(base=0)


async def test_fixed_window_holds_n() -> None:
    window = FixedWindow(2)
    window.take()
    window.take()
    assert not window.has_room() and window.limit == 2
    window.release()
    await window.wait_room()
    assert window.has_room()


def _run_period(window: AdaptiveWindow, rtt: float, ok: bool = True, full: bool = True) -> None:
    if full:
        while window.in_flight < window.limit:
            window.take()
    window.record(rtt, ok)
    time.sleep(0.011)
    window.record(rtt, ok)  # closes the period
    while window.in_flight:
        window.release()


def test_adaptive_window_grows_while_rtt_is_flat_up_to_the_cap() -> None:
    window = AdaptiveWindow(initial=2, maximum=6, min_period=0.01)
    for _ in range(20):
        _run_period(window, 0.001)
    assert window.limit == 6


def test_adaptive_window_does_not_grow_when_the_queue_not_the_window_limits() -> None:
    window = AdaptiveWindow(initial=2, maximum=64, min_period=0.01)
    for _ in range(10):
        _run_period(window, 0.001, full=False)
    assert window.limit == 2


def test_adaptive_window_shrinks_on_errors_and_on_rising_rtt() -> None:
    window = AdaptiveWindow(initial=20, maximum=64, min_period=0.01)
    _run_period(window, 0.001, ok=False)
    assert window.limit == 18
    for _ in range(3):
        _run_period(window, 0.001)  # a flat baseline
    before = window.limit
    _run_period(window, 0.005)  # the RTT jumps: queueing somewhere
    assert window.limit < before
