"""msgspec's validation errors, reworded for someone editing a TOML file:
"Expected `int`, got `str` - at `$[0].url`" becomes ("[1].url", "expected an integer,
got a string"), with list positions counted from 1 and the closest key suggested."""

from __future__ import annotations

import difflib
import enum
import re
import typing
from typing import Any

from facepush.settings.model import bare

_TYPES = {
    "str": "a string",
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "array": "a list",
    "object": "a table",
    "null": "nothing",
}


def split(message: str) -> tuple[str, str]:
    """(the key path below the converted value, counted from 1; the problem)."""
    found = re.fullmatch(r"(.*?)(?: - at `\$(.*)`)?", message, flags=re.DOTALL)
    assert found is not None  # the pattern matches any text
    problem, path = found.group(1), found.group(2) or ""
    return re.sub(r"\[(\d+)\]", lambda m: f"[{int(m.group(1)) + 1}]", path), problem


def reword(problem: str, hint: Any, path: str) -> str:
    """The problem in plain words; `hint` is the type converted, `path` where inside it."""
    expected = re.fullmatch(r"Expected `([^`]+)`, got `([^`]+)`", problem)
    if expected:
        want, got = (_type_names(side) for side in expected.groups())
        return f"expected {want}, got {got}"
    unknown = re.fullmatch(r"Object contains unknown field `([^`]+)`", problem)
    if unknown:
        known = list(getattr(_type_at(hint, path), "__struct_fields__", ()))
        return f"unknown key {unknown.group(1)!r}{did_you_mean(unknown.group(1), known)}"
    missing = re.fullmatch(r"Object missing required field `([^`]+)`", problem)
    if missing:
        return f"the required key {missing.group(1)!r} is missing"
    bad_choice = re.fullmatch(r"Invalid enum value (.*)", problem)
    if bad_choice:
        choices = _choices(_type_at(hint, path))
        return f"expected one of {choices}, got {bad_choice.group(1)}"
    return problem[:1].lower() + problem[1:]


def did_you_mean(key: str, known: list[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def type_name(value: Any) -> str:
    """A TOML value's type as msgspec names it (`int`, `array`, ...)."""
    names = {bool: "bool", int: "int", float: "float", list: "array", dict: "object"}
    return names.get(type(value), type(value).__name__)


def _type_names(types_text: str) -> str:
    # "str | null" -> "a string or nothing"
    return " or ".join(_TYPES.get(name, name) for name in types_text.split(" | "))


def _type_at(hint: Any, path: str) -> Any:
    """The type found at `path` (".url", "[2]") inside a value of type `hint`."""
    hint = bare(hint)
    for part in re.findall(r"\.[^.\[]+|\[\d+\]", path):
        if part.startswith("["):
            args = [a for a in typing.get_args(hint) if a is not Ellipsis]
            hint = bare(args[0]) if args else Any
        else:
            hint = bare(typing.get_type_hints(hint, include_extras=True).get(part[1:], Any))
    return hint


def _choices(hint: Any) -> str:
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        values = [m.value for m in hint]
    else:
        values = list(typing.get_args(hint))
    return ", ".join(repr(v) for v in values)
