"""A bound on credential guessing, per client address (the terminal's logins, the
receiver's token).

Each client gets `free` wrong guesses; from then on every further wrong guess shuts it
out for an exponentially growing time (`base_s`, doubling, at most `cap_s`). While shut
out, every request that would check credentials is answered 429 with `Retry-After`
without checking them, so that a guess made then tells the guesser nothing. A correct
credential resets the client; so does `forget_s` without a wrong guess.

Only *distinct* guesses count: a client repeating one wrong credential (a dashboard left
open after the token changed, a script with an old password) learns nothing new from it,
and must not lock its address out. The last `remembered` wrong credentials per client are
kept as keyed fingerprints (a per-process random HMAC key: they reveal nothing).

Memory is bounded: at most `max_clients` addresses are tracked, the least recently seen
dropped first. IPv6 clients are grouped by /64 (one host usually owns a whole /64).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

FREE_GUESSES = 5
BASE_S = 1.0
CAP_S = 300.0
FORGET_S = 3600.0
MAX_CLIENTS = 10_000
REMEMBERED = 8


@dataclass(slots=True)
class _Client:
    failures: int = 0
    blocked_until: float = 0.0
    last_seen: float = 0.0
    recent: list[bytes] = field(default_factory=list)


class FailureThrottle:
    def __init__(
        self,
        *,
        free: int = FREE_GUESSES,
        base_s: float = BASE_S,
        cap_s: float = CAP_S,
        forget_s: float = FORGET_S,
        max_clients: int = MAX_CLIENTS,
        remembered: int = REMEMBERED,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.free = free
        self.base_s = base_s
        self.cap_s = cap_s
        self.forget_s = forget_s
        self.max_clients = max_clients
        self.remembered = remembered
        self.clock = clock
        self._clients: OrderedDict[str, _Client] = OrderedDict()
        self._key = secrets.token_bytes(32)
        self.failures = 0  # wrong guesses counted, all clients (for metrics)
        self.refused = 0  # requests answered 429

    def __len__(self) -> int:
        return len(self._clients)

    def retry_after(self, address: str | None) -> int | None:
        """Whole seconds the client must wait before its credentials are checked again,
        or None when they may be checked now. Counts the refusal."""
        client = self._get(client_key(address))
        if client is None:
            return None
        wait = client.blocked_until - self.clock()
        if wait <= 0:
            return None
        self.refused += 1
        return max(1, math.ceil(wait))

    def failed(self, address: str | None, credential: str) -> None:
        """A wrong credential from this client."""
        key = client_key(address)
        now = self.clock()
        client = self._get(key) or self._add(key)
        client.last_seen = now
        self._clients.move_to_end(key)
        mark = hmac.new(self._key, credential.encode("utf-8", "replace"), hashlib.sha256)
        fingerprint = mark.digest()[:16]
        if fingerprint in client.recent:
            return  # the same wrong guess again: nothing new learned, nothing counted
        client.recent = [*client.recent[-(self.remembered - 1) :], fingerprint]
        client.failures += 1
        self.failures += 1
        if client.failures >= self.free:
            delay = min(self.cap_s, self.base_s * 2 ** min(client.failures - self.free, 64))
            client.blocked_until = now + delay

    def succeeded(self, address: str | None) -> None:
        """A correct credential: the client starts afresh."""
        self._clients.pop(client_key(address), None)

    def _get(self, key: str) -> _Client | None:
        client = self._clients.get(key)
        if client is None:
            return None
        now = self.clock()
        if now >= client.blocked_until and now - client.last_seen >= self.forget_s:
            del self._clients[key]
            return None
        return client

    def _add(self, key: str) -> _Client:
        while len(self._clients) >= self.max_clients:
            self._clients.popitem(last=False)
        client = _Client()
        self._clients[key] = client
        return client


def client_key(address: str | None) -> str:
    """The table key of a remote address: the address itself, an IPv6 one by /64."""
    if not address:
        return "unknown"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def too_many_message(wait_s: int) -> str:
    return (
        f"too many failed logins from this address: try again in {wait_s} s "
        "(each further wrong guess doubles the wait)"
    )
