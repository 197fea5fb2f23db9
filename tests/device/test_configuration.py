"""`facepush device serve --config FILE`: the file, the environment and the command line in
their order, through a real terminal process; bad settings refused by name (real CLI)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import aiohttp
import pytest
from click.testing import CliRunner

from facepush.cli import main
from tests.support.device import start_device


async def test_file_then_environment_then_command_line(tmp_path: Path) -> None:
    config = tmp_path / "terminal.toml"
    config.write_text(
        'sn = "FROM-FILE"\n'  # --sn wins over it
        "cache_limit = 7\n"  # not on the command line: the file's value holds
        'when_full = "refuse-newest"\n'
        'username = "admin"\n'  # with FACEPUSH_PASSWORD from the environment
        'password = "from-the-file"\n'  # the environment wins over it
    )
    args = ["--config", str(config), "--data", str(tmp_path / "d"), "--sn", "FROM-FLAG"]
    proc, url = start_device(tmp_path, *args, env={"FACEPUSH_PASSWORD": "from-env"})
    try:
        async with aiohttp.ClientSession() as session:
            for password, status in (("from-the-file", 401), ("from-env", 200)):
                basic = base64.b64encode(f"admin:{password}".encode()).decode()
                headers = {"Authorization": f"Basic {basic}"}
                async with session.get(url + "/push/status", headers=headers) as resp:
                    assert resp.status == status, password
                    if status == 200:
                        data = json.loads(await resp.read())["data"]
        assert data["cache_limit"] == 7 and data["sn"] == "FROM-FLAG"
    finally:
        proc.stop()


def refused(tmp_path: Path, toml: str | None, *args: str) -> str:
    command = ["device", "serve", "--listen", "127.0.0.1:0", "--data", str(tmp_path / "d")]
    if toml is not None:
        (tmp_path / "terminal.toml").write_text(toml)
        command += ["--config", str(tmp_path / "terminal.toml")]
    result = CliRunner().invoke(main, [*command, *args], env={"FACEPUSH_PASSWORD": None})
    assert result.exit_code == 1, result.output
    return result.stderr.strip()


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("cache_limt = 9", "cache_limt: unknown key 'cache_limt' (did you mean 'cache_limit'?)"),
        ('cache_limit = "9"', "cache_limit: expected an integer, got a string"),
        (
            'when_full = "drop"',
            "when_full: expected one of 'drop-oldest', 'refuse-newest', got 'drop'",
        ),
        ("window = 0", "window: must be from 1 to 1024, got 0"),
        ('ca = "no-such-ca.pem"', "ca: no such file: 'no-such-ca.pem'"),
        ("insecure = 1", "insecure: expected true or false, got an integer"),
    ],
)
def test_bad_files_are_refused_by_name(tmp_path: Path, toml: str, message: str) -> None:
    assert refused(tmp_path, toml) == f"Error: {tmp_path / 'terminal.toml'}: {message}"


def test_one_reason_from_file_or_flag(tmp_path: Path) -> None:
    reason = "must be at least 1, got 0"
    assert refused(tmp_path, "cache_limit = 0").endswith(f"terminal.toml: cache_limit: {reason}")
    assert refused(tmp_path, None, "--cache-limit", "0") == f"Error: --cache-limit: {reason}"
    # Settings that cannot work together name their options wherever they came from.
    together = refused(tmp_path, 'username = "admin"')
    assert together == "Error: give both --username and --password, or neither"
