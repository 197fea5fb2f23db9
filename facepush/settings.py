"""Settings of the two servers, read from one place.

A server's settings are one frozen msgspec Struct (`DeviceSettings`, `ReceiverSettings`),
a subclass of `Settings`. Each field is one setting: its name is the key in the TOML file
and, with `-` for `_`, the long command-line option; its `Annotated` metadata (`Option`)
holds the help text and the one check of its value. `load()` builds the settings from,
lowest first:

    the field defaults < the TOML file (--config) < the environment (secrets) < the command line

An option not given on the command line keeps the file's value (click's ParameterSource
tells given from defaulted). A value is checked by its field's check wherever it came from,
and an error names where: `config.toml: cache_limit: must be at least 1`,
`--cache-limit: must be at least 1`, `FACEPUSH_TOKEN for --token: ...`. List positions in
a key path count from 1, as a reader counts the `[[table]]`s of a file
(`forward[1].url` is the first `[[forward]]` table's url).

A table a later version adds (`[[forward]]`) is a field whose type is a Struct (or a list
of them) with the same `Option` metadata: typed, checked and named like the rest, and not
a command-line option of its own.
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import json
import os
import re
import tomllib
import types
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar, Self, TypeVar

import click
import msgspec
from click.core import ParameterSource

from facepush.errors import FacepushError, SettingsError

F = TypeVar("F", bound=Callable[..., Any])


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


class Settings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Base of a server's settings. Constructing one checks every value (naming options
    as `--flag`); `load()` checks each source's values first and names the source."""

    error: ClassVar[type[SettingsError]] = SettingsError
    # Keys of tables and settings a later version adds: "not supported yet", not unknown.
    planned: ClassVar[Mapping[str, str]] = {}

    def __post_init__(self) -> None:
        for name in fields_of(type(self)):
            _check(type(self), name, getattr(self, name), _programmatic)

    @classmethod
    def of(cls, **values: Any) -> Self:
        """The settings with these values, converted as from the command line (a str for
        a path or a choice is fine) and checked; the rest at their defaults."""
        return load(cls, env={}, flags=values)

    @classmethod
    def resolve(cls, values: dict[str, Any], sources: dict[str, str]) -> dict[str, Any]:
        """The merged values before construction (`sources`: key -> "file", "env" or
        "flag"); a subclass adjusts values whose meaning depends on another's source."""
        return values


S = TypeVar("S", bound=Settings)


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


# -- loading ------------------------------------------------------------------------------


def load(
    cls: type[S],
    config: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    flags: Mapping[str, Any] | None = None,
) -> S:
    """`cls` from its defaults, the TOML file `config`, the secrets in `env` and the
    command-line values in `flags` (only those given), each higher one winning."""
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    layers: list[tuple[str, dict[str, Any], Callable[[str], str]]] = []
    if config is not None:
        layers.append(("file", read_toml(config, cls.error), lambda key: f"{config}: {key}"))
    layers.append(("env", _secrets(cls, env if env is not None else os.environ), _env_name(cls)))
    layers.append(("flag", dict(flags or {}), lambda key: flag(key.split("[")[0])))
    for source, given, where in layers:
        checked = _layer(cls, given, where)
        values.update(checked)
        sources.update(dict.fromkeys(checked, source))
    return cls(**cls.resolve(values, sources))


def read_toml(path: str | Path, error: type[SettingsError] = SettingsError) -> dict[str, Any]:
    """The file as a dict; a missing file or a syntax error is an `error` naming the file
    (and the line and column)."""
    try:
        text = Path(path).read_bytes()
    except OSError as exc:
        raise error(f"{path}: cannot read the config file: {exc.strerror or exc}") from None
    try:
        return tomllib.loads(text.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{path}: {_toml_error(str(exc))}") from None


def _toml_error(message: str) -> str:
    # tomllib: "Expected '=' after a key in a key/value pair (at line 3, column 5)", or
    # "... (at end of document)".
    found = re.fullmatch(r"(.*) \(at (?:line (\d+), column (\d+)|end of document)\)", message)
    if found is None:
        return f"not valid TOML: {message}"
    what, line, column = found.groups()
    where = f"line {line}, column {column}" if line else "at the end"
    return f"{where}: not valid TOML: {what[:1].lower()}{what[1:]}"


def _secrets(cls: type[Settings], env: Mapping[str, str]) -> dict[str, Any]:
    out = {}
    for name, hint in fields_of(cls).items():
        option = option_of(hint)
        if option is not None and option.env is not None and option.env in env:
            out[name] = env[option.env]
    return out


def _env_name(cls: type[Settings]) -> Callable[[str], str]:
    def where(key: str) -> str:
        option = option_of(fields_of(cls)[key])
        return f"{option.env if option else key} for {flag(key)}"

    return where


def _layer(
    cls: type[Settings], given: Mapping[str, Any], where: Callable[[str], str]
) -> dict[str, Any]:
    """One source's values, each converted to its field's type and checked."""
    fields = fields_of(cls)
    out: dict[str, Any] = {}
    for key, value in given.items():
        if key not in fields:
            raise cls.error(f"{where(key)}: {_unknown(cls, key, list(fields))}")
        try:
            typed = msgspec.convert(value, fields[key], dec_hook=_decode_custom)
        except msgspec.ValidationError as exc:
            path, problem = _split(str(exc))
            raise cls.error(f"{where(key + path)}: {_reword(problem, fields[key], path)}") from None
        _check(cls, key, typed, where)
        out[key] = typed
    return out


def _unknown(cls: type[Settings], key: str, known: list[str]) -> str:
    if key in cls.planned:
        return f"{cls.planned[key]} is not supported yet by this version of facepush"
    return f"unknown key {key!r}{_did_you_mean(key, known)}"


def _did_you_mean(key: str, known: list[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _decode_custom(kind: type, value: Any) -> Any:
    if kind is Path:
        if isinstance(value, str | Path):
            return Path(value)
        raise TypeError(f"Expected `str`, got `{_toml_type(value)}`")
    raise NotImplementedError


def _toml_type(value: Any) -> str:
    return {bool: "bool", int: "int", float: "float", list: "array", dict: "object"}.get(
        type(value), type(value).__name__
    )


# -- checks -------------------------------------------------------------------------------


def _check(cls: type[Settings], name: str, value: Any, where: Callable[[str], str]) -> None:
    """Run the checks of a field's value, and of the fields of its tables; `where` names
    the place of a key path (`cache_limit`, `forward[1].url`) in the error."""
    for path, option, item in _checked_items(fields_of(cls)[name], value, name):
        if option.check is None or item is None:
            continue
        try:
            option.check(item)
        except (ValueError, FacepushError) as exc:
            raise cls.error(f"{where(path)}: {exc}") from None


def _programmatic(path: str) -> str:
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


# -- error messages -----------------------------------------------------------------------

_TYPES = {
    "str": "a string",
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "array": "a list",
    "object": "a table",
    "null": "nothing",
}


def _split(message: str) -> tuple[str, str]:
    """msgspec's "Expected `int`, got `str` - at `$[0].url`" as ("[1].url", problem):
    list positions counted from 1."""
    found = re.fullmatch(r"(.*?)(?: - at `\$(.*)`)?", message, flags=re.DOTALL)
    assert found is not None  # the pattern matches any text
    problem, path = found.group(1), found.group(2) or ""
    return re.sub(r"\[(\d+)\]", lambda m: f"[{int(m.group(1)) + 1}]", path), problem


def _reword(problem: str, hint: Any, path: str) -> str:
    expected = re.fullmatch(r"Expected `([^`]+)`, got `([^`]+)`", problem)
    if expected:
        want, got = (_type_names(side) for side in expected.groups())
        return f"expected {want}, got {got}"
    unknown = re.fullmatch(r"Object contains unknown field `([^`]+)`", problem)
    if unknown:
        table = _type_at(hint, path)
        known = list(getattr(table, "__struct_fields__", ()))
        return f"unknown key {unknown.group(1)!r}{_did_you_mean(unknown.group(1), known)}"
    bad_choice = re.fullmatch(r"Invalid enum value (.*)", problem)
    if bad_choice:
        choices = _choices(_type_at(hint, path))
        return f"expected one of {choices}, got {bad_choice.group(1)}"
    return problem[:1].lower() + problem[1:]


def _type_names(types_text: str) -> str:
    # "str | null" -> "a string or nothing"
    return " or ".join(_TYPES.get(name, name) for name in types_text.split(" | "))


def _type_at(hint: Any, path: str) -> Any:
    """The type found at `path` (".url", "[2]") inside a value of type `hint`."""
    hint = _bare(hint)
    for part in re.findall(r"\.[^.\[]+|\[\d+\]", path):
        if part.startswith("["):
            args = [a for a in typing.get_args(hint) if a is not Ellipsis]
            hint = _bare(args[0]) if args else Any
        else:
            hint = _bare(typing.get_type_hints(hint, include_extras=True).get(part[1:], Any))
    return hint


def _bare(hint: Any) -> Any:
    """`hint` without `Annotated` and without `| None`."""
    if typing.get_origin(hint) is typing.Annotated:
        hint = typing.get_args(hint)[0]
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        hint = args[0] if len(args) == 1 else hint
    return hint


def _choices(hint: Any) -> str:
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        values = [m.value for m in hint]
    else:
        values = list(typing.get_args(hint))
    return ", ".join(repr(v) for v in values)


# -- the command line ---------------------------------------------------------------------


def click_options(cls: type[Settings]) -> Callable[[F], F]:
    """Decorate a click command with `--config FILE` and one option per setting. The
    command takes `ctx` and passes it to `from_click()`."""

    def decorate(command: F) -> F:
        params = [_config_option()]
        for name, hint in fields_of(cls).items():
            if _is_table(hint):
                continue  # a table is written in the file only
            params.append(_click_option(cls, name, hint))
        for param in reversed(params):
            command = param(command)
        return command

    return decorate


def from_click(cls: type[S], ctx: click.Context) -> S:
    """`load()` with the `--config` file and the options given on this command line."""
    given = {
        name: value
        for name, value in ctx.params.items()
        if name != "config" and ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE
    }
    return load(cls, ctx.params.get("config"), os.environ, given)


def _config_option() -> Callable[[F], F]:
    return click.option(
        "--config",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Read settings from this TOML file (keys: the long option names with _ for -, "
        "e.g. cache_limit); an option on the command line wins over it. See "
        "docs/configuration.md.",
    )


def _click_option(cls: type[Settings], name: str, hint: Any) -> Callable[[F], F]:
    option = option_of(hint)
    if option is None:
        raise TypeError(f"{cls.__name__}.{name} has no Option(...) in its Annotated type")
    kind = _bare(hint)
    default = defaults(cls).get(name)
    extra = _help_extra(name, option, default, kind)
    kwargs: dict[str, Any] = {"help": f"{option.help}  [{extra}]", "metavar": option.metavar}
    if kind is bool:
        kwargs.update(is_flag=True, default=bool(default), metavar=None)
    elif typing.get_origin(kind) is tuple:
        kwargs.update(multiple=True, default=default, type=_click_type(typing.get_args(kind)[0]))
    else:
        kwargs.update(default=_plain(default), type=_click_type(kind))
    return click.option(flag(name), name, **kwargs)


def _help_extra(name: str, option: Option, default: Any, kind: Any) -> str:
    parts = []
    shown = option.shown_default
    if shown is None and default not in (None, False, ()):
        shown = str(_plain(default))
    if shown:
        parts.append(f"default: {shown}")
    if option.env:
        parts.append(f"env: {option.env}")
    is_list = typing.get_origin(kind) is tuple
    parts.append(f"config key: {name}" + (", a list" if is_list else ""))
    return "; ".join(parts)


def _click_type(kind: Any) -> Any:
    if kind in (int, float):
        return kind
    if kind is Path:
        return click.Path(path_type=Path)
    return str  # strings, and choices (checked by the settings, as from the file)


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value


def _is_table(hint: Any) -> bool:
    kind = _bare(hint)
    if typing.get_origin(kind) in (list, tuple):
        kind = _bare(typing.get_args(kind)[0])
    return isinstance(kind, type) and issubclass(kind, msgspec.Struct)


# -- writing ------------------------------------------------------------------------------


def to_toml(settings: Settings) -> str:
    """The settings that differ from their defaults, as a TOML file `load()` reads back
    (`facepush demo` writes its parts' files with it)."""
    lines = []
    for name, default in defaults(type(settings)).items():
        value = getattr(settings, name)
        if value != default and value is not None:
            lines.append(f"{name} = {_toml_value(value)}")
    return "".join(line + "\n" for line in lines)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    # A JSON string is a TOML basic string (the same escapes).
    return json.dumps(str(_plain(value)), ensure_ascii=False)


def replace(settings: S, **changes: Any) -> S:
    """A copy with some settings changed (checked like any other construction)."""
    return msgspec.structs.replace(settings, **changes)


__all__ = [
    "Option",
    "Settings",
    "SettingsError",
    "click_options",
    "from_click",
    "load",
    "read_toml",
    "replace",
    "to_toml",
]
