"""The bound on credential guessing (facepush.throttle), on a fake clock. The servers'
tests show it through real sockets (tests/device/test_hostile_web.py,
tests/receiver/test_hostile_web.py)."""

from __future__ import annotations

from facepush.throttle import CAP_S, FailureThrottle, client_key


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_five_free_guesses_then_doubling_waits_up_to_the_cap() -> None:
    clock = Clock()
    throttle = FailureThrottle(clock=clock)
    for n in range(4):
        assert throttle.retry_after("192.0.2.1") is None
        throttle.failed("192.0.2.1", f"guess-{n}")
    assert throttle.retry_after("192.0.2.1") is None
    throttle.failed("192.0.2.1", "guess-4")  # the fifth
    waits = []
    for n in range(5, 20):
        wait = throttle.retry_after("192.0.2.1")
        assert wait is not None
        waits.append(wait)
        clock.now += wait
        assert throttle.retry_after("192.0.2.1") is None
        throttle.failed("192.0.2.1", f"guess-{n}")
    assert waits[:5] == [1, 2, 4, 8, 16] and max(waits) == CAP_S == waits[-1]
    assert throttle.retry_after("192.0.2.2") is None  # another client is not affected


def test_success_resets_and_repeating_one_wrong_guess_counts_once() -> None:
    clock = Clock()
    throttle = FailureThrottle(clock=clock)
    for _ in range(50):  # a dashboard left open with an old token
        throttle.failed("192.0.2.1", "old-token")
    assert throttle.retry_after("192.0.2.1") is None
    for n in range(5):
        throttle.failed("192.0.2.1", f"guess-{n}")
    assert throttle.retry_after("192.0.2.1") == 2  # six distinct: the second wait
    clock.now += 2
    throttle.succeeded("192.0.2.1")
    throttle.failed("192.0.2.1", "typo")
    assert throttle.retry_after("192.0.2.1") is None


def test_a_client_is_forgotten_after_an_idle_hour() -> None:
    clock = Clock()
    throttle = FailureThrottle(clock=clock, forget_s=3600)
    for n in range(7):
        clock.now += 10
        throttle.failed("192.0.2.1", f"guess-{n}")
    clock.now += 3600
    assert throttle.retry_after("192.0.2.1") is None and len(throttle) == 0


def test_memory_is_bounded_by_clients() -> None:
    throttle = FailureThrottle(max_clients=1000)
    for n in range(20_000):
        throttle.failed(f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}", "x")
    assert len(throttle) == 1000
    # IPv6: one /64 is one client (a host usually owns a whole /64).
    assert client_key("2001:db8::1") == client_key("2001:db8::ffff:1") == "2001:db8::/64"
    assert client_key("::ffff:192.0.2.7") == "192.0.2.7"
    assert client_key(None) == "unknown"
