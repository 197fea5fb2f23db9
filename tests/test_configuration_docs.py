"""docs/configuration.md cannot go stale: its example files load, with their optional
keys commented out and uncommented, and name every setting of their server; and each
server's --help lists every setting with its config key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from facepush.cli import main
from facepush.device.settings import DeviceSettings
from facepush.receiver.settings import ReceiverSettings
from facepush.settings import Settings, fields_of, load, read_toml
from facepush.settings.model import is_table

DOC = Path(__file__).parent.parent / "docs" / "configuration.md"
SERVERS: dict[str, type[Settings]] = {"receiver": ReceiverSettings, "device": DeviceSettings}
_COMMENTED_KEY = re.compile(r"^# ([a-z_]+ = )", flags=re.MULTILINE)


def example(server: str) -> str:
    found = re.search(rf"<!-- example: {server} -->\n```toml\n(.*?)```", DOC.read_text(), re.S)
    assert found, f"no example for {server} in {DOC}"
    return found.group(1)


@pytest.mark.parametrize("server", SERVERS)
def test_the_example_file_loads_as_written(server: str, tmp_path: Path) -> None:
    path = tmp_path / f"{server}.toml"
    path.write_text(example(server))
    settings = load(SERVERS[server], path, env={})
    assert settings.listen in ("0.0.0.0:8080", "127.0.0.1:8000")


@pytest.mark.parametrize("server", SERVERS)
def test_the_example_names_every_setting_and_each_optional_one_is_valid(
    server: str, tmp_path: Path
) -> None:
    # The example's absolute files (certificates, a CA) become files of this test.
    text = _COMMENTED_KEY.sub(r"\1", example(server)).replace('"/etc/facepush/', f'"{tmp_path}/')
    for name in re.findall(rf'"{re.escape(str(tmp_path))}/([^"]+)"', text):
        (tmp_path / name).write_text("")
    path = tmp_path / f"{server}.toml"
    path.write_text(text)
    model = SERVERS[server]
    assert set(read_toml(path)) == set(fields_of(model)), "keys missing from the example"
    load(model, path, env={})  # every value valid


@pytest.mark.parametrize("server", SERVERS)
def test_help_lists_every_setting_with_its_key(server: str) -> None:
    text = CliRunner().invoke(main, [server, "serve", "--help"], terminal_width=200).stdout
    text = " ".join(text.split())
    assert "--config FILE" in text
    for name, hint in fields_of(SERVERS[server]).items():
        if is_table(hint):
            continue  # a table ([attendance]) is written in the file only: no option
        option = "--" + name.replace("_", "-")
        assert re.search(rf"{option}\b.*?config key: {name}\b", text), name
