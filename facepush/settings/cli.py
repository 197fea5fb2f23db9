"""The command line of a server, generated from its settings: `--config FILE` and one
click option per setting, its help showing the default, the variable and the config key;
`from_click()` loads the settings with only the options typed on the command line."""

from __future__ import annotations

import enum
import os
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from click.core import ParameterSource

from facepush.errors import FacepushError
from facepush.redact import redact
from facepush.settings.load import load
from facepush.settings.model import (
    Option,
    Settings,
    bare,
    defaults,
    fields_of,
    flag,
    is_table,
    option_of,
)

F = TypeVar("F", bound=Callable[..., Any])
S = TypeVar("S", bound=Settings)


def click_options(cls: type[Settings]) -> Callable[[F], F]:
    """Decorate a click command with `--config FILE` and one option per setting. The
    command takes `ctx` and passes it to `from_click()`."""

    def decorate(command: F) -> F:
        params = [_config_option()]
        for name, hint in fields_of(cls).items():
            if not is_table(hint):
                params.append(_click_option(cls, name, hint))
            elif (option := option_of(hint)) is not None and option.from_text is not None:
                params.append(_table_option(name, option))
            # (any other table is written in the file only)
        for param in reversed(params):
            command = param(command)
        return command

    return decorate


def from_click(cls: type[S], ctx: click.Context) -> S:
    """`load()` with the `--config` file, the environment and the options given on this
    command line: an option left at its default does not override the file."""
    given = {
        name: value
        for name, value in ctx.params.items()
        if name != "config" and ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE
    }
    fields = fields_of(cls)
    for name, value in given.items():
        option = option_of(fields[name])
        if is_table(fields[name]) and option is not None and option.from_text is not None:
            given[name] = tuple(_item(cls, name, option.from_text, text) for text in value)
    return load(cls, ctx.params.get("config"), os.environ, given)


def _item(cls: type[Settings], name: str, make: Callable[[str], Any], text: str) -> Any:
    try:
        return make(text)
    except (ValueError, FacepushError) as exc:
        raise cls.error(f"{flag(name)} {redact(text)!r}: {exc}") from None


def _table_option(name: str, option: Option) -> Callable[[F], F]:
    """A table's command-line form: repeatable, one item per use; given, it stands for the
    file's tables (the command line wins, as for every option)."""
    help_text = f"{option.help}  [repeatable; config key: {name}, as [[{name}]] tables]"
    return click.option(
        flag(name), name, multiple=True, metavar=option.metavar, help=help_text, default=()
    )


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
    kind = bare(hint)
    default = defaults(cls).get(name)
    help_text = f"{option.help}  [{_help_extra(name, option, default, kind)}]"
    kwargs: dict[str, Any] = {"help": help_text, "metavar": option.metavar}
    if kind is bool:
        # --no-NAME too: the command line can turn off what a file turned on.
        kwargs.update(default=bool(default), metavar=None)
        return click.option(f"{flag(name)}/--no-{flag(name)[2:]}", name, **kwargs)
    if typing.get_origin(kind) is tuple:
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
    if isinstance(value, float) and value.is_integer():
        return int(value)  # 300, not 300.0
    return value.value if isinstance(value, enum.Enum) else value
