"""The device side of the push protocol."""
