"""facepush: the event-push protocol of face-recognition access-control terminals."""

__version__ = "0.1.0"
