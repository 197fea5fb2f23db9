"""The `facepush` command. Each sub-command is a thin wrapper over a public Python API;
the groups live beside the code they drive (`facepush/device/cli.py`, ...)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from facepush import __version__
from facepush.errors import DecodeError
from facepush.protocol import decode_pushes, push_to_plain
from facepush.protocol.jsontext import dump_json


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="facepush")
def main() -> None:
    """facepush: terminal push service, receiver and tools for face-recognition terminals."""


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--strict", is_flag=True, help="Accept only what the vendor's document allows.")
def check(files: tuple[Path, ...], strict: bool) -> None:
    """Decode push bodies from FILES ('-' for stdin) and report each record or the error."""
    failed = 0
    for path in files:
        body = sys.stdin.buffer.read() if str(path) == "-" else path.read_bytes()
        try:
            pushes = decode_pushes(body, strict=strict)
        except DecodeError as exc:
            failed += 1
            click.echo(f"{path}: {exc}", err=True)
            continue
        for push in pushes:
            click.echo(f"{path}: ok {push.key} " + dump_json(push_to_plain(push)).decode()[:200])
    if failed:
        raise SystemExit(1)


def _register() -> None:
    # Imported here so that each group's dependencies load only with the package.
    from facepush.device.cli import device
    from facepush.receiver.cli import receiver
    from facepush.tools.cli import COMMANDS
    from facepush.tools.simulate_cli import simulate
    from facepush.tools.terminal_cli import COMMANDS as TERMINAL_COMMANDS

    main.add_command(device)
    main.add_command(receiver)
    for command in [*COMMANDS, simulate, *TERMINAL_COMMANDS]:
        main.add_command(command)


_register()
