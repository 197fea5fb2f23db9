"""`load()`: a server's settings from its defaults, a TOML file, the environment and the
command line, each value converted to its field's type and checked where it came from.
`to_toml()` writes settings back as a file `load()` reads."""

from __future__ import annotations

import enum
import json
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from facepush.errors import SettingsError
from facepush.settings import messages
from facepush.settings.model import Settings, check, defaults, fields_of, flag, option_of

S = TypeVar("S", bound=Settings)
Where = Callable[[str], str]  # a key path -> how an error names its place


def load(
    cls: type[S],
    config: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    flags: Mapping[str, Any] | None = None,
) -> S:
    """`cls` from its defaults, the TOML file `config`, the secrets in `env` (default
    `os.environ`) and the command-line values in `flags` (only those given), each higher
    one winning. Raises `cls.error` naming the source and the key."""
    layers: list[tuple[str, Mapping[str, Any], Where]] = []
    if config is not None:
        layers.append(("file", read_toml(config, cls.error), lambda key: f"{config}: {key}"))
    environ = os.environ if env is None else env
    layers.append(("env", _secrets(cls, environ), _env_name(cls)))
    layers.append(("flag", flags or {}, lambda key: flag(key.split("[")[0])))
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
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


def _env_name(cls: type[Settings]) -> Where:
    def where(key: str) -> str:
        option = option_of(fields_of(cls)[key])
        return f"{option.env if option else key} for {flag(key)}"

    return where


def _layer(cls: type[Settings], given: Mapping[str, Any], where: Where) -> dict[str, Any]:
    """One source's values, each converted to its field's type and checked."""
    fields = fields_of(cls)
    out: dict[str, Any] = {}
    for key, value in given.items():
        if key not in fields:
            raise cls.error(f"{where(key)}: {_unknown(cls, key, list(fields))}")
        try:
            typed = msgspec.convert(value, fields[key], dec_hook=_decode_path)
        except msgspec.ValidationError as exc:
            path, problem = messages.split(str(exc))
            reason = messages.reword(problem, fields[key], path)
            raise cls.error(f"{where(key + path)}: {reason}") from None
        check(cls, key, typed, where)
        out[key] = typed
    return out


def _unknown(cls: type[Settings], key: str, known: list[str]) -> str:
    if key in cls.planned:
        return f"{cls.planned[key]} is not supported yet by this version of facepush"
    return f"unknown key {key!r}{messages.did_you_mean(key, known)}"


def _decode_path(kind: type, value: Any) -> Any:
    if kind is Path:
        if isinstance(value, str | Path):
            return Path(value)
        raise TypeError(f"Expected `str`, got `{messages.type_name(value)}`")
    raise NotImplementedError


def to_toml(settings: Settings) -> str:
    """The settings that differ from their defaults, as a TOML file `load()` reads back
    (`facepush demo` writes its parts' files with it)."""
    lines, tables = [], []
    for name, default in defaults(type(settings)).items():
        value = getattr(settings, name)
        if value == default or value is None:
            continue
        if isinstance(value, list | tuple) and value and isinstance(value[0], msgspec.Struct):
            tables += [f"\n[[{name}]]\n{_struct_lines(item)}" for item in value]
        else:
            lines.append(f"{name} = {_toml_value(value)}\n")
    return "".join(lines + tables)  # the tables after every key of the top level


def _struct_lines(item: msgspec.Struct) -> str:
    """A table's keys: the required ones and those that differ from their defaults."""
    lines = []
    for field in msgspec.structs.fields(item):
        value = getattr(item, field.name)
        if value is not None and (field.required or value != field.default):
            lines.append(f"{field.encode_name} = {_toml_value(value)}\n")
    return "".join(lines)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    text = str(value.value if isinstance(value, enum.Enum) else value)
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a TOML basic string
