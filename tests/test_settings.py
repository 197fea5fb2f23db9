"""The settings loader on its own (facepush/settings/), on a small model with a table
list like the `[[forward]]` a later version adds: the layers and their order, conversion,
checks, and errors that name the file, the key path (list positions from 1) and the fix."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar

import click
import msgspec
import pytest
from click.testing import CliRunner

from facepush.checks import at_least, listen_address
from facepush.errors import SettingsError
from facepush.settings import Option, Settings, click_options, from_click, load, to_toml


def http_url(value: str) -> None:
    if not value.startswith(("http://", "https://")):
        raise ValueError(f"must be an http:// or https:// URL, got {value!r}")


class Sink(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: Annotated[str, Option("Its name.")]
    url: Annotated[str, Option("Where records go.", check=http_url)]
    retries: Annotated[int, Option("Tries.", check=at_least(0))] = 3


class Toy(Settings, frozen=True, kw_only=True, forbid_unknown_fields=True):
    planned: ClassVar[Mapping[str, str]] = {"attendance": "[attendance]"}

    listen: Annotated[str, Option("HOST:PORT.", "HOST:PORT", check=listen_address)] = "127.0.0.1:9"
    count: Annotated[int, Option("How many.", "N", check=at_least(1))] = 5
    ratio: Annotated[float, Option("A share.", "R")] = 0.5
    verbose: Annotated[bool, Option("Say more.")] = False
    secret: Annotated[str | None, Option("A secret.", "S", env="TOY_SECRET")] = None
    name: Annotated[tuple[str, ...], Option("Names (repeatable).", "NAME")] = ()
    sink: Annotated[tuple[Sink, ...], Option("Where to forward.")] = ()


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(SettingsError) as caught:
        load(Toy, write(tmp_path, text), env={})
    return str(caught.value)


def test_defaults_then_file_then_environment_then_command_line(tmp_path: Path) -> None:
    assert load(Toy, env={}) == Toy()
    config = write(tmp_path, 'count = 7\nratio = 1\nsecret = "from-file"\nname = ["a", "b"]\n')
    from_file = load(Toy, config, env={})
    assert (from_file.count, from_file.ratio, from_file.secret) == (7, 1.0, "from-file")
    assert from_file.name == ("a", "b") and from_file.listen == "127.0.0.1:9"
    env = {"TOY_SECRET": "from-env", "count": "99"}  # only secrets come from the environment
    assert load(Toy, config, env=env).secret == "from-env"
    assert load(Toy, config, env=env).count == 7
    both = load(Toy, config, env=env, flags={"secret": "from-flag", "count": 8})
    assert (both.secret, both.count, both.ratio) == ("from-flag", 8, 1.0)


def test_tables_are_typed_checked_and_named_from_1(tmp_path: Path) -> None:
    ok = '[[sink]]\nname = "a"\nurl = "http://x"\n[[sink]]\nname = "b"\nurl = "https://y"\n'
    loaded = load(Toy, write(tmp_path, ok), env={})
    assert [s.name for s in loaded.sink] == ["a", "b"] and loaded.sink[1].retries == 3
    second = '[[sink]]\nname = "a"\nurl = "http://x"\n[[sink]]\nname = "b"\n'
    assert error_of(tmp_path, second + "url = 3\n") == (
        f"{tmp_path / 'config.toml'}: sink[2].url: expected a string, got an integer"
    )
    assert error_of(tmp_path, second + 'url = "ftp://y"\n').endswith(
        "sink[2].url: must be an http:// or https:// URL, got 'ftp://y'"
    )
    assert error_of(tmp_path, second + 'url = "http://y"\nretries = -1\n').endswith(
        "sink[2].retries: must be at least 0, got -1"
    )
    assert error_of(tmp_path, '[[sink]]\nname = "a"\nulr = "http://x"\n').endswith(
        "sink[1]: unknown key 'ulr' (did you mean 'url'?)"
    )
    assert error_of(tmp_path, '[[sink]]\nurl = "http://x"\n').endswith(
        "sink[1]: the required key 'name' is missing"
    )
    assert error_of(tmp_path, '[sink]\nname = "a"\n').endswith("sink: expected a list, got a table")


def test_unknown_planned_and_mistyped_keys(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    assert error_of(tmp_path, "conut = 3\n") == (
        f"{config}: conut: unknown key 'conut' (did you mean 'count'?)"
    )
    assert error_of(tmp_path, "zzz = 3\n") == f"{config}: zzz: unknown key 'zzz'"
    assert error_of(tmp_path, "[attendance]\nday_starts = '04:00'\n") == (
        f"{config}: attendance: [attendance] is not supported yet by this version of facepush"
    )
    assert error_of(tmp_path, 'count = "3"\n').endswith("count: expected an integer, got a string")
    assert error_of(tmp_path, "verbose = 1\n").endswith(
        "verbose: expected true or false, got an integer"
    )
    assert error_of(tmp_path, 'name = ["a", 2]\n').endswith(
        "name[2]: expected a string, got an integer"
    )


def test_one_check_one_message_wherever_the_value_came_from(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    assert error_of(tmp_path, "count = 0\n") == f"{config}: count: must be at least 1, got 0"
    with pytest.raises(SettingsError, match=r"^--count: must be at least 1, got 0$"):
        load(Toy, env={}, flags={"count": 0})
    with pytest.raises(SettingsError, match=r"^--count: must be at least 1, got 0$"):
        Toy(count=0)  # built in code: named by its option
    with pytest.raises(SettingsError, match=r"^--listen: expected HOST:PORT, e\.g\. "):
        Toy.of(listen="nowhere")


def test_toml_syntax_errors_name_line_and_column(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    assert error_of(tmp_path, "count = 3\nratio 0.5\n") == (
        f"{config}: line 2, column 7: not valid TOML: expected '=' after a key in a key/value pair"
    )
    assert error_of(tmp_path, "count = [\n").startswith(f"{config}: at the end: not valid TOML")
    config.write_bytes(b"name = '\xff'\n")
    with pytest.raises(SettingsError, match="not UTF-8"):
        load(Toy, config, env={})
    with pytest.raises(SettingsError, match="missing.toml: cannot read the config file"):
        load(Toy, tmp_path / "missing.toml", env={})


@click.command()
@click_options(Toy)
@click.pass_context
def toy(ctx: click.Context, /, **_given: Any) -> None:
    click.echo(to_toml(from_click(Toy, ctx)), nl=False)


def test_an_option_not_given_keeps_the_files_value(tmp_path: Path) -> None:
    config = write(tmp_path, "count = 7\nverbose = true\nname = ['f']\n")
    run = CliRunner().invoke(toy, ["--config", str(config)], env={"TOY_SECRET": "s3"})
    assert run.exit_code == 0, run.output
    assert run.stdout == 'count = 7\nverbose = true\nsecret = "s3"\nname = ["f"]\n'
    given = ["--count", "2", "--name", "x", "--no-verbose"]  # a list given replaces the file's
    run = CliRunner().invoke(toy, ["--config", str(config), *given])
    assert run.stdout == 'count = 2\nname = ["x"]\n'
    run = CliRunner().invoke(toy, ["--count", "0"])
    assert run.exit_code == 1 and isinstance(run.exception, SettingsError)
    assert str(run.exception) == "--count: must be at least 1, got 0"


def test_help_shows_each_default_key_and_variable_and_no_table_option() -> None:
    text = " ".join(CliRunner().invoke(toy, ["--help"], terminal_width=200).stdout.split())
    assert "--count N How many. [default: 5; config key: count]" in text
    assert "--secret S A secret. [env: TOY_SECRET; config key: secret]" in text
    assert "[config key: name, a list]" in text and "--config FILE" in text
    assert "--sink" not in text  # a table is written in the file only


def test_written_settings_read_back_the_same(tmp_path: Path) -> None:
    settings = Toy.of(count=3, ratio=2.5, verbose=True, secret='q"uote ü', name=("a", "b"))
    assert load(Toy, write(tmp_path, to_toml(settings)), env={}) == settings
    assert to_toml(Toy()) == ""
