"""The error tree is the one facepush.errors draws in its docstring, and the modules that
exported an error before still export the same class."""

from __future__ import annotations

import importlib
import inspect
import re

import pytest

from facepush import errors

_LINE = re.compile(r"^(?P<indent>[ │├└─]*)(?P<name>[A-Z]\w+)")


def _classes() -> dict[str, type[BaseException]]:
    return {
        name: value
        for name, value in vars(errors).items()
        if inspect.isclass(value)
        and issubclass(value, BaseException)
        and value.__module__ == errors.__name__
        and not name.startswith("_")
    }


def _drawn() -> list[tuple[int, str]]:
    """(depth, name) of each line of the docstring's diagram."""
    doc = errors.__doc__ or ""
    lines = []
    for line in doc.splitlines():
        match = _LINE.match(line[4:]) if line.startswith("    ") else None
        if match:
            lines.append((len(match["indent"]) // 4, match["name"]))
    return lines


def test_every_error_is_reachable_from_the_root() -> None:
    classes = _classes()
    assert "FacepushError" in classes
    for name, cls in classes.items():
        assert issubclass(cls, errors.FacepushError), name


def test_the_docstring_draws_the_tree() -> None:
    drawn = _drawn()
    assert drawn[0] == (0, "FacepushError")
    assert {name for _, name in drawn} == set(_classes())
    parents: list[str] = []
    for depth, name in drawn:
        del parents[depth:]
        if parents:  # each class drawn under its parent derives from it
            assert issubclass(getattr(errors, name), getattr(errors, parents[-1])), name
        parents.append(name)


def _public_bases(cls: type) -> set[str]:
    """The names of `cls`'s bases in facepush.errors, a private base (a shared __init__)
    seen through; builtin bases (LookupError, ...) are not drawn."""
    names: set[str] = set()
    for base in cls.__bases__:
        if base.__name__.startswith("_"):
            names |= _public_bases(base)
        elif base.__module__ == errors.__name__:
            names.add(base.__name__)
    return names


def test_each_class_is_drawn_under_each_of_its_bases() -> None:
    placed: dict[str, set[str]] = {}
    parents: list[str] = []
    for depth, name in _drawn():
        del parents[depth:]
        if parents:
            placed.setdefault(name, set()).add(parents[-1])
        parents.append(name)
    for name, cls in _classes().items():
        if cls is not errors.FacepushError:
            assert placed.get(name) == _public_bases(cls), name


@pytest.mark.parametrize("name", sorted(_classes()))
def test_a_settings_error_is_never_a_decode_error(name: str) -> None:
    cls = getattr(errors, name)
    if issubclass(cls, errors.SettingsError):
        assert not issubclass(cls, errors.DecodeError)
    assert not issubclass(errors.SettingsError, errors.DecodeError)


def test_a_refused_push_configuration_is_not_a_decode_error() -> None:
    assert not issubclass(errors.ConfigError, errors.DecodeError)
    refused = errors.ConfigError("enabled", "is required (true or false)")
    assert (refused.path, refused.problem, str(refused)) == (
        "enabled",
        "is required (true or false)",
        "enabled: is required (true or false)",
    )


@pytest.mark.parametrize(
    ("module", "names"),
    [
        (
            "facepush.device.errors",
            "AuthError BatchTooLargeError CacheFullError DataDirError DeviceError "
            "NotRunningError SetupError TooManyFailures",
        ),
        (
            "facepush.receiver.errors",
            "BadQuery Busy ReceiverConfigError ReceiverError RecordRejected StoreUnavailable",
        ),
        ("facepush.device", "AuthError BatchTooLargeError CacheFullError DataDirError"),
        ("facepush.tls", "TLSConfigError"),
        ("facepush.web", "ListenError"),
        ("facepush.protocol.signing", "SignatureError"),
        ("facepush.receiver.budget", "Busy"),
        ("facepush.receiver.chaos", "ChaosSpecError"),
        ("facepush.tools.demo", "DemoError"),
        ("facepush.settings", "SettingsError"),
        ("facepush.receiver.forward.sink", "SinkError SinkUnavailable RecordRefused"),
        ("facepush.receiver.forward.settings", "ForwardConfigError"),
        ("facepush.receiver.forward.service", "UnknownSink"),
    ],
)
def test_the_old_import_paths_name_the_same_classes(module: str, names: str) -> None:
    imported = importlib.import_module(module)
    for name in names.split():
        assert getattr(imported, name) is getattr(errors, name), f"{module}.{name}"
