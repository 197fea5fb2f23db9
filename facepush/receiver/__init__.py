"""The receiver side of the push protocol."""
