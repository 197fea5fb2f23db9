"""`Option` (a setting's help and check) and `Settings` (the base of a server's settings),
with the walk that runs every check of a value, its tables' fields included."""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Self

import msgspec

from facepush.errors import FacepushError, SettingsError


@dataclasses.dataclass(frozen=True, slots=True)
class Option:
    """A setting's documentation and check, in its field's `Annotated` metadata."""

    help: str
    metavar: str | None = None
    # A secret: also read from this environment variable (secrets only: the environment
    # is where a service manager keeps them out of `ps`).
    env: str | None = None
    # Raises ValueError (or a FacepushError) saying what is wrong: "must be at least 1".
    check: Callable[[Any], object] | None = None
    # The default as --help shows it, when the value itself would not say it.
    shown_default: str | None = None
    # A table that may also be given on the command line: one item per use of the option,
    # made from its text (`--forward URL`); raises ValueError (or a FacepushError).
    from_text: Callable[[str], Any] | None = None


class Settings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Base of a server's settings. Constructing one checks every value (naming options
    as `--flag`); `load()` checks each source's values first and names the source."""

    error: ClassVar[type[SettingsError]] = SettingsError
    # Keys of tables and settings a later version adds: "not supported yet", not unknown.
    planned: ClassVar[Mapping[str, str]] = {}

    def __post_init__(self) -> None:
        for name in fields_of(type(self)):
            check(type(self), name, getattr(self, name), _in_code)

    @classmethod
    def of(cls, **values: Any) -> Self:
        """The settings with these values, converted as from the command line (a str for
        a path or a choice is fine) and checked; the rest at their defaults."""
        from facepush.settings.load import load  # load() builds Settings: imported late

        return load(cls, env={}, flags=values)

    @classmethod
    def resolve(cls, values: dict[str, Any], sources: dict[str, str]) -> dict[str, Any]:
        """The merged values before construction (`sources`: key -> "file", "env" or
        "flag"); a subclass adjusts values whose meaning depends on another's source."""
        return values


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def fields_of(cls: type[Settings]) -> dict[str, Any]:
    """Each field's name and its type (`Annotated` metadata included), in order."""
    hints = typing.get_type_hints(cls, include_extras=True)
    return {name: hints[name] for name in cls.__struct_fields__}


def option_of(hint: Any) -> Option | None:
    for meta in getattr(hint, "__metadata__", ()):
        if isinstance(meta, Option):
            return meta
    return None


def defaults(cls: type[Settings]) -> dict[str, Any]:
    fields = msgspec.structs.fields(cls)
    return {f.name: f.default for f in fields if f.default is not msgspec.NODEFAULT}


def bare(hint: Any) -> Any:
    """`hint` without `Annotated` and without `| None`."""
    if typing.get_origin(hint) is typing.Annotated:
        hint = typing.get_args(hint)[0]
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        hint = args[0] if len(args) == 1 else hint
    return hint


def is_table(hint: Any) -> bool:
    """A Struct, or a tuple or list of them: written in the file only."""
    kind = bare(hint)
    if typing.get_origin(kind) in (list, tuple):
        kind = bare(typing.get_args(kind)[0])
    return isinstance(kind, type) and issubclass(kind, msgspec.Struct)


def check(cls: type[Settings], name: str, value: Any, where: Callable[[str], str]) -> None:
    """Run the checks of a field's value, and of the fields of its tables; `where` names
    the place of a key path (`cache_limit`, `forward[1].url`) in the error."""
    for path, option, item in _checked_items(fields_of(cls)[name], value, name):
        if option.check is None or item is None:
            continue
        try:
            option.check(item)
        except (ValueError, FacepushError) as exc:
            raise cls.error(f"{where(path)}: {exc}") from None


def _in_code(path: str) -> str:
    # Settings(...) built in code: a top-level setting by its option, a table's by its path.
    return flag(path) if path.isidentifier() else path


def _checked_items(hint: Any, value: Any, path: str) -> list[tuple[str, Option, Any]]:
    """(path, option, value) of a value and of every field of the tables inside it."""
    out: list[tuple[str, Option, Any]] = []
    option = option_of(hint)
    if option is not None:
        out.append((path, option, value))
    if isinstance(value, msgspec.Struct):
        hints = typing.get_type_hints(type(value), include_extras=True)
        for field in value.__struct_fields__:
            out += _checked_items(hints[field], getattr(value, field), f"{path}.{field}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value, start=1):
            if isinstance(item, msgspec.Struct):
                out += _checked_items(None, item, f"{path}[{index}]")
    return out
