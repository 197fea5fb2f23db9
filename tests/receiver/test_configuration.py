"""`facepush receiver serve --config FILE`: the file, the environment and the command line
in their order, through a real receiver process; and every bad setting refused at start
with a message that names the file, the key and the fix (through the real CLI)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest
from click.testing import CliRunner

from facepush.cli import main
from tests.support.processes import Process
from tests.support.records import body, recognition

FILE_TOKEN = "token-from-the-file-0123"
ENV_TOKEN = "token-from-the-environment-0123"


async def test_file_then_environment_then_command_line(tmp_path: Path) -> None:
    config = tmp_path / "receiver.toml"
    config.write_text(
        'path = "/FromFile"\n'  # not on the command line: the file's value holds
        f'token = "{FILE_TOKEN}"\n'  # FACEPUSH_TOKEN wins over it
        "late_after = 3600\n"  # --late-after 5 wins over it
        'timezone = "UTC"\n'
    )
    args = ["receiver", "serve", "--config", str(config), "--listen", "127.0.0.1:0"]
    args += ["--data", str(tmp_path / "data"), "--late-after", "5"]
    proc = Process(args, tmp_path / "receiver.log", env={"FACEPUSH_TOKEN": ENV_TOKEN})
    try:
        url = proc.wait_listening()
        async with aiohttp.ClientSession() as session:
            a_minute_ago = recognition("cfg-1", timestamp=int(time.time()) - 60)
            async with session.post(url + "/FromFile", data=body(a_minute_ago)) as resp:
                assert resp.status == 200 and json.loads(await resp.read())["code"] == 200
            as_api = {"Authorization": f"Bearer {ENV_TOKEN}", "Content-Type": "application/json"}
            default_path = session.post(url + "/Record", data=b"{}", headers=as_api)
            async with default_path as resp:
                assert resp.status == 404  # the default path is not the push path
            for token, status in ((FILE_TOKEN, 401), (ENV_TOKEN, 200)):
                headers = {"Authorization": f"Bearer {token}"}
                async with session.get(url + "/api/events", headers=headers) as resp:
                    assert resp.status == status, token
                    if status == 200:
                        [item] = json.loads(await resp.read())["data"]["items"]
        assert item["uuid"] == "cfg-1" and item["late"] is True  # 60 s > --late-after 5
    finally:
        proc.stop()


Refused = Callable[..., str]


@pytest.fixture
def refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Refused:
    """`refused(toml, *args, env=...)` starts `receiver serve` in tmp_path (with the file
    receiver.toml when `toml` is given), which must refuse to start: its error line."""
    monkeypatch.chdir(tmp_path)

    def run(toml: str | None, *args: str, env: dict[str, str | None] | None = None) -> str:
        command = ["receiver", "serve", "--listen", "127.0.0.1:0", "--data", "data", *args]
        if toml is not None:
            Path("receiver.toml").write_text(toml)
            command += ["--config", "receiver.toml"]
        result = CliRunner().invoke(main, command, env=env)
        assert result.exit_code == 1, result.output
        assert "listening" not in result.stdout
        return result.stderr.strip()

    return run


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            'lisen = "127.0.0.1:1"',
            "receiver.toml: lisen: unknown key 'lisen' (did you mean 'listen'?)",
        ),
        ('late_after = "5m"', "receiver.toml: late_after: expected a number, got a string"),
        ("late_after = -1", "receiver.toml: late_after: must be at least 0, got -1"),
        (
            'allowed_host = ["a", 2]',
            "receiver.toml: allowed_host[2]: expected a string, got an integer",
        ),
        ('path = "Record"', "receiver.toml: path: must start with '/', got 'Record'"),
        ('db = "mysql://x"', "receiver.toml: db: expected sqlite:///PATH or postgresql://"),
        ('db = "sqlite:///:memory:"', "receiver.toml: db: sqlite:///:memory: would lose every"),
        ('token = "short"', "receiver.toml: token: must be at least 16 characters, got 5"),
        ('chaos = "explode=1"', "receiver.toml: chaos: unknown name 'explode'"),
        (
            '[[forward]]\nname = "ha"\nurl = "ftp://127.0.0.1:21"',
            "receiver.toml: forward[1].url: unknown scheme in 'ftp://127.0.0.1:21': expected "
            "one of mqtt://, mqtts://, nats://, http://, https://",
        ),
        (
            '[[forward]]\nurl = "mqtt://127.0.0.1:1883"',
            "receiver.toml: forward[1]: the required key 'name' is missing",
        ),
        (
            '[[forward]]\nname = "ha"\nurl = 1',
            "receiver.toml: forward[1].url: expected a string, got an integer",
        ),
        (
            '[[forward]]\nname = "hr"\nurl = "https://hr.example/in"\nca = "/nowhere/ca.pem"',
            "receiver.toml: forward[1].ca: '/nowhere/ca.pem' is not a file",
        ),
        (
            '[[forward]]\nname = "ha"\nurl = "mqtt://a"\n[[forward]]\nname = "ha"\n'
            'url = "nats://b"',
            "receiver.toml: forward: [[forward]] tables 1 and 2 are both named 'ha'; each sink "
            "needs a name of its own",
        ),
        (
            '[[terminal]]\nurl = "http://10.0.0.21:8000"\npasword = "x"',
            "receiver.toml: terminal[1]: unknown key 'pasword' (did you mean 'password'?)",
        ),
        (
            '[[terminal]]\nurl = "http://admin:pw@10.0.0.21:8000"',
            "receiver.toml: terminal[1].url: must not carry credentials",
        ),
        (
            '[[terminal]]\nurl = "10.0.0.21:8000"',
            "receiver.toml: terminal[1].url: expected an http:// or https:// URL",
        ),
        (
            '[[terminal]]\nurl = "http://a:1"\nusername = "u"\npassword = "p"\npassword_env = "P"',
            "receiver.toml: terminal[1]: give password or password_env, not both",
        ),
        (
            '[[terminal]]\nurl = "http://a:1"\nsubscribe = true',
            "terminal[1].subscribe: true needs public_url (--public-url)",
        ),
        (
            '[[terminal]]\nurl = "http://a:1"\n[[terminal]]\nurl = "http://a:1/"',
            "terminal[2].url: http://a:1 is terminal[1] already",
        ),
        ('public_url = "/Record"', "receiver.toml: public_url: must be an http or https URL"),
        ("terminal_poll = 0", "receiver.toml: terminal_poll: must be at least 0.1, got 0"),
        (
            "[attendance]\ndebounce = -5",
            "receiver.toml: attendance.debounce: -5 must be from 0 to 86400 seconds",
        ),
        (
            'listen = "127.0.0.1:1"\nlate_after 300\n',
            "receiver.toml: line 2, column 12: not valid TOML: expected '=' after a key",
        ),
    ],
)
def test_bad_files_are_refused_by_name(refused: Refused, toml: str, message: str) -> None:
    assert refused(toml).startswith(f"facepush receiver: {message}")


def test_a_terminal_password_variable_must_be_set(refused: Refused) -> None:
    toml = '[[terminal]]\nurl = "http://a:1"\nusername = "u"\npassword_env = "T_PW"\n'
    assert refused(toml, env={"T_PW": None}) == (  # unset
        "facepush receiver: terminal[1].password_env: the environment variable T_PW is not "
        "set; export it before starting the receiver"
    )
    Path("not-a-ca.pem").write_text("not a certificate")
    toml = '[[terminal]]\nurl = "https://a:1"\nca = "not-a-ca.pem"\n'
    assert refused(toml).startswith("facepush receiver: terminal[1].ca: cannot load --ca")


def test_one_reason_from_file_flag_or_environment(refused: Refused) -> None:
    reason = "must be at least 1024, got 10"
    assert refused("max_body = 10").endswith(f"receiver.toml: max_body: {reason}")
    assert refused(None, "--max-body", "10").endswith(f": --max-body: {reason}")
    bad_secret = {"FACEPUSH_SIGNING_SECRET": "whsec_"}
    assert "FACEPUSH_SIGNING_SECRET for --signing-secret: signing secret must be whsec_" in (
        refused(None, env=bad_secret)
    )
    assert "receiver.toml: signing_secret: signing secret must be whsec_" in (
        refused('signing_secret = "whsec_"')
    )
    missing = refused(None, "--config", "nowhere.toml")
    assert "nowhere.toml: cannot read the config file: No such file or directory" in missing


def test_an_unknown_time_zone_is_a_named_start_up_error(refused: Refused) -> None:
    assert refused('timezone = "Mars/Olympus_Mons"').startswith(
        "facepush receiver: receiver.toml: timezone: unknown time zone 'Mars/Olympus_Mons'; "
        "give an IANA name such as Europe/Berlin"
    )
    assert refused(None, "--timezone", "europe/berlin").startswith(
        "facepush receiver: --timezone: unknown time zone 'europe/berlin' (did you mean "
        "'Europe/Berlin'?)"
    )
