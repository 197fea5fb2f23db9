"""Settings of the two servers, read from one place.

A server's settings are one frozen msgspec Struct (`DeviceSettings`, `ReceiverSettings`),
a subclass of `Settings`. Each field is one setting: its name is the key in the TOML file
and, with `-` for `_`, the long command-line option; its `Annotated` metadata (`Option`)
holds the help text and the one check of its value. `load()` builds the settings from,
lowest first:

    the field defaults < the TOML file (--config) < the environment (secrets) < the command line

An option not given on the command line keeps the file's value (click's ParameterSource
tells given from defaulted). A value is checked by its field's check wherever it came
from, and an error names where: `config.toml: cache_limit: must be at least 1, got 0`,
`--cache-limit: must be at least 1, got 0`, `FACEPUSH_TOKEN for --token: ...`. List
positions in a key path count from 1, as a reader counts the `[[table]]`s of a file
(`forward[1].url` is the first `[[forward]]` table's url).

A table a later version adds (`[[forward]]`) is a field typed by a Struct (or a tuple of
them) whose fields carry `Option` metadata too: typed, checked and named like the rest,
and not a command-line option of its own.

    model.py     Option, Settings: the fields, their defaults and checks
    load.py      load(): the layers; read_toml(), to_toml()
    messages.py  msgspec's validation errors reworded for people editing a file
    cli.py       click options generated from the model; from_click()
"""

from facepush.errors import SettingsError
from facepush.settings.cli import click_options, from_click
from facepush.settings.load import load, read_toml, to_toml
from facepush.settings.model import Option, Settings, fields_of

__all__ = [
    "Option",
    "Settings",
    "SettingsError",
    "click_options",
    "fields_of",
    "from_click",
    "load",
    "read_toml",
    "to_toml",
]
