"""The receiver's own errors; each derives from facepush.errors.FacepushError."""

from __future__ import annotations

from facepush.errors import FacepushError, SettingsError


class ReceiverError(FacepushError):
    """Base class of the receiver's errors."""


class ReceiverConfigError(ReceiverError, SettingsError):
    """A receiver setting that cannot be used (bad `--db` URL, unsafe `--listen`, ...), or
    a database this receiver cannot use (a newer schema)."""


class WorkersUnsupported(ReceiverConfigError):
    """`--workers N` (N > 1) with a store or feature that one process must own."""


class StoreUnavailable(ReceiverError):
    """The database cannot be reached or cannot write (disk full, server down, ...).

    The push handler answers 503 so that the terminal keeps the record and retries.
    """


class BadQuery(ReceiverError):
    """A query parameter of the API that cannot be used; the message names the parameter."""

    def __init__(self, param: str, problem: str) -> None:
        self.param = param
        self.problem = problem
        super().__init__(f"{param}: {problem}")


class RecordRejected(ReceiverError):
    """The database refused one record's content (not the database being down).

    The writer then commits the batch's halves on their own (and theirs), so that one bad
    record cannot fail the others; the record that fails alone is refused with this
    message and quarantined. Any other unexpected error of a batch is isolated the same
    way and becomes this error for its culprit.
    """
