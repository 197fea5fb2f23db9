"""The CLI commands through click's runner, against real terminal emulators."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from facepush.cli import main
from tests.support.processes import free_port
from tests.support.terminals import PASSWORD, USERNAME, Terminal


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_subscribe_several_terminals_reports_each(plain_terminal: Terminal, tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    listing = tmp_path / "terminals.txt"
    listing.write_text(f"# site A\n{dead}  # switched off\n\n")
    code, out, err = _run(
        "subscribe",
        plain_terminal.url,
        "--file",
        str(listing),
        "--dest",
        "http://127.0.0.1:9/Record",
        "--timeout",
        "2",
    )
    assert code == 1
    assert f"{plain_terminal.url}: push enabled to http://127.0.0.1:9/Record" in out
    assert f"{dead}: " in err and "no answer" in err


def test_subscribe_json_disable_and_subscription(plain_terminal: Terminal) -> None:
    code, out, _ = _run(
        "subscribe", plain_terminal.url, "--dest", "http://127.0.0.1:9/R", "--disable", "--json"
    )
    assert code == 0
    assert json.loads(out) == [
        {
            "terminal": plain_terminal.url,
            "ok": True,
            "config": {"event_dest": "http://127.0.0.1:9/R", "enabled": False},
        }
    ]
    code, out, _ = _run("subscription", plain_terminal.url, "--json")
    assert code == 0 and json.loads(out) == {"event_dest": "http://127.0.0.1:9/R", "enabled": False}
    code, out, _ = _run("subscription", plain_terminal.url)
    assert out.strip() == f"{plain_terminal.url}: push disabled, event_dest http://127.0.0.1:9/R"


def test_subscribe_refusal_names_the_field(plain_terminal: Terminal) -> None:
    code, _, err = _run("subscribe", plain_terminal.url, "--dest", "gopher://h/x")
    assert code == 1
    assert "event_dest" in err and "refused with code" in err


def test_subscribe_needs_a_terminal() -> None:
    code, _, err = _run("subscribe", "--dest", "http://127.0.0.1:9/R")
    assert code == 2 and "give at least one DEVICE_URL" in err


def test_subscription_with_credentials_and_ca(secure_terminal: Terminal) -> None:
    assert secure_terminal.ca_file is not None
    base = ["--username", USERNAME, "--password", PASSWORD]
    code, out, _ = _run(
        "subscribe",
        secure_terminal.url,
        "--dest",
        "https://127.0.0.1:9/R",
        "--ca",
        str(secure_terminal.ca_file),
        *base,
    )
    assert code == 0, out
    code, out, _ = _run("subscription", secure_terminal.url, "--insecure", "--basic", *base)
    assert code == 0 and "https://127.0.0.1:9/R" in out
    code, _, err = _run("subscription", secure_terminal.url, *base)
    assert code == 1 and "--ca FILE" in err
    code, _, err = _run(
        "subscription",
        secure_terminal.url,
        "--insecure",
        "--username",
        USERNAME,
        "--password",
        "nope",
    )
    assert code == 1 and "wrong password for account 'admin'" in err


def test_the_password_may_come_from_the_environment(secure_terminal: Terminal) -> None:
    """FACEPUSH_PASSWORD keeps the password off the command line; credentials in the
    destination are masked in the human output, kept in --json."""
    login = ["--insecure", "--username", USERNAME]
    dest = "https://integrator:hunter2-secret@127.0.0.1:9/R"
    runner = CliRunner(env={"FACEPUSH_PASSWORD": PASSWORD})
    result = runner.invoke(main, ["subscribe", secure_terminal.url, "--dest", dest, *login])
    assert result.exit_code == 0, result.output
    assert "push enabled to https://integrator:***@127.0.0.1:9/R" in result.stdout
    result = runner.invoke(main, ["subscription", secure_terminal.url, *login])
    assert result.exit_code == 0 and "hunter2" not in result.stdout
    result = runner.invoke(main, ["subscription", secure_terminal.url, "--json", *login])
    assert json.loads(result.stdout)["event_dest"] == dest
    wrong = CliRunner(env={"FACEPUSH_PASSWORD": "nope"})
    result = wrong.invoke(main, ["subscription", secure_terminal.url, *login])
    assert result.exit_code == 1 and "wrong password for account 'admin'" in result.stderr
    for command in ("subscribe", "subscription", "simulate"):
        help_text = CliRunner().invoke(main, [command, "--help"]).stdout
        assert "FACEPUSH_PASSWORD" in help_text, command


def test_simulate_hands_records_to_the_terminal(plain_terminal: Terminal) -> None:
    code, _, _ = _run("subscribe", plain_terminal.url, "--dest", "http://127.0.0.1:9/R")
    assert code == 0
    code, out, _ = _run(
        "simulate", plain_terminal.url, "--count", "120", "--seed", "3", "--no-images", "--json"
    )
    assert code == 0
    report = json.loads(out)
    assert report["handed"] == 120 and report["accepted"] == 120
    assert report["refused"] == 0 and report["skipped"] == 0


def test_simulate_skipped_while_push_is_disabled(plain_terminal: Terminal) -> None:
    _run("subscribe", plain_terminal.url, "--dest", "http://127.0.0.1:9/R", "--disable")
    code, out, _ = _run("simulate", plain_terminal.url, "--count", "10", "--rate", "200")
    assert code == 0
    assert "handed 10 records" in out and "0 accepted, 10 skipped (push disabled)" in out
