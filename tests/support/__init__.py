"""Helpers shared by the test suites; conftest modules hold only fixtures, built on these.

- `processes`: free loopback ports, real `facepush` processes with bounded waits.
- `records`: the one builder of recognition and alarm envelopes, JPEGs, request bodies.
- `receiver`: an in-process receiver on a real socket (`running`), backends' URLs.
- `chaos`: an in-process receiver behind the chaos middleware (`facepush.receiver.chaos`).
- `standin`: a recording receiver for what the chaos middleware cannot do.
- `device`: the terminal's helpers (its process, bounded waits, the service factory type).
- `servers`: receiver and terminal processes of the fault suite, and its bookkeeping.
- `terminals`: terminal emulator processes (plain and TLS) for the client and CLI tests.
- `forward`: forwarding in process on a store (short intervals), its bounded waits.
- `attendance`: the passages the attendance rules read, from test records.
"""
