"""The vendor's numbers: limits of the terminal that the push protocol states."""

from __future__ import annotations

# "The terminal caches at most 50,000 offline records" (push-protocol.md; ruling 8 of
# docs/protocol-rulings.md: recognitions and alarms together). The device's default
# --cache-limit, the outboxes' default cap, and the fleet's smallest outbox.
CACHE_LIMIT = 50_000
