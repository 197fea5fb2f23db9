"""`facepush device serve` as a function: settings checked, the service started, the API
served until SIGINT/SIGTERM, then everything stopped in order."""

from __future__ import annotations

from facepush.device.api import make_app
from facepush.device.auth import Accounts
from facepush.device.service import PushService
from facepush.device.settings import DeviceSettings
from facepush.errors import SetupError
from facepush.sitepolicy import SitePolicy, allowed_hosts_for
from facepush.tls import server_context
from facepush.web import is_loopback, parse_listen, serve_until_stopped


def check(settings: DeviceSettings) -> tuple[str, int]:
    """The (host, port) to bind; raises SetupError for settings that cannot work together
    (each value on its own was checked when the settings were made)."""
    host, port = parse_listen(settings.listen)
    if (settings.username is None) != (settings.password is None):
        raise SetupError("give both --username and --password, or neither")
    if (settings.tls_cert is None) != (settings.tls_key is None):
        raise SetupError("give both --tls-cert and --tls-key, or neither")
    if settings.ca and settings.insecure:
        raise SetupError("--ca and --insecure contradict each other; give one")
    if settings.data is None:
        raise SetupError("the terminal's server needs a --data directory")
    open_to_all = settings.username is None and not settings.allow_remote_unauthenticated
    if open_to_all and not is_loopback(host):
        raise SetupError(
            f"--listen {settings.listen} is reachable beyond this machine, and without "
            "an account anyone there could change the push destination. Give "
            "--username/--password, or pass --allow-remote-unauthenticated to accept that."
        )
    return host, port


async def run(settings: DeviceSettings) -> None:
    host, port = check(settings)
    tls = None
    if settings.tls_cert is not None and settings.tls_key is not None:
        tls = server_context(settings.tls_cert, settings.tls_key)
    # Started before the app is made: the accounts' token key is in its data directory.
    async with PushService(settings) as service:
        key = service.jwt_key
        assert key is not None  # check() made sure of a data directory
        accounts = Accounts(settings.username, settings.password, key)
        policy = SitePolicy(allowed_hosts_for(host, settings.allowed_host))
        app = make_app(service, accounts, policy)
        await serve_until_stopped(app, host, port, ssl_context=tls)
