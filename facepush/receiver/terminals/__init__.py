"""Managed terminals: the receiver watches, subscribes and reconciles each `[[terminal]]`.

- `settings`: the `[[terminal]]` table (`TerminalSettings`) and its credentials.
- `watch`: pings each terminal every `terminal_poll` seconds and keeps what it says it is
  (serial, model), its clock offset (ruling T1: shown, never applied) and its push
  subscription (pointed at `public_url` when asked).
- `reconcile`: pages each terminal's history from its mark (less an overlap) and stores
  what the receiver does not have through the Writer, the push path's own decoder rules
  and limits, then moves the mark (`store`: the durable part, in portable SQL).
- `manager`: one watcher and one reconciler per terminal, `GET /api/terminals`,
  `POST /api/terminals/reconcile` and their metrics.

A failure of one terminal (no answer, wrong credentials, an untrusted certificate, a reply
that is not the envelope) is that terminal's `last_error`; the others carry on.
"""
