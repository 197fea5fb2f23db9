"""`facepush device serve` as a function: options checked, the service started, the API
served until SIGINT/SIGTERM, then everything stopped in order."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from facepush.device.api import make_app
from facepush.device.auth import Accounts
from facepush.device.errors import SetupError
from facepush.device.history import HISTORY_IMAGES, HISTORY_LIMIT
from facepush.device.service import PushService
from facepush.sitepolicy import SitePolicy, allowed_hosts_for
from facepush.tls import server_context
from facepush.web import is_loopback, parse_listen, serve_until_stopped


@dataclass(frozen=True, slots=True)
class ServeOptions:
    listen: str = "127.0.0.1:8000"
    data_dir: Path = Path("./var/device")
    sn: str | None = None
    cache_limit: int = 50_000
    when_full: str = "drop-oldest"
    window: int | None = None
    username: str | None = None
    password: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    ca: str | None = None
    insecure: bool = False
    signing_secret: str | None = None
    timeout: float = 10.0
    allow_remote_unauthenticated: bool = False
    allowed_hosts: tuple[str, ...] = ()
    history_limit: int = HISTORY_LIMIT
    history_images: int = HISTORY_IMAGES
    clock_offset: float | None = None  # seconds the terminal's clock is ahead (negative: behind)


def check(options: ServeOptions) -> tuple[str, int]:
    """The (host, port) to bind; raises SetupError/ListenError for unusable options."""
    host, port = parse_listen(options.listen)
    if (options.username is None) != (options.password is None):
        raise SetupError("give both --username and --password, or neither")
    if (options.tls_cert is None) != (options.tls_key is None):
        raise SetupError("give both --tls-cert and --tls-key, or neither")
    if options.ca and options.insecure:
        raise SetupError("--ca and --insecure contradict each other; give one")
    open_to_all = options.username is None and not options.allow_remote_unauthenticated
    if open_to_all and not is_loopback(host):
        raise SetupError(
            f"--listen {options.listen} is reachable beyond this machine, and without "
            "an account anyone there could change the push destination. Give "
            "--username/--password, or pass --allow-remote-unauthenticated to accept that."
        )
    return host, port


async def run(options: ServeOptions) -> None:
    host, port = check(options)
    tls = None
    if options.tls_cert is not None and options.tls_key is not None:
        tls = server_context(options.tls_cert, options.tls_key)
    service = PushService(
        options.data_dir,
        sn=options.sn,
        cache_limit=options.cache_limit,
        when_full=options.when_full,
        window=options.window,
        ca=options.ca,
        insecure=options.insecure,
        signing_secret=options.signing_secret,
        timeout=options.timeout,
        history_limit=options.history_limit,
        history_images=options.history_images,
        clock_offset_ms=None
        if options.clock_offset is None
        else round(options.clock_offset * 1000),
    )
    await service.start()
    try:
        key = service.jwt_key
        assert key is not None  # a data directory is always given here
        accounts = Accounts(options.username, options.password, key)
        policy = SitePolicy(allowed_hosts_for(host, options.allowed_hosts))
        app = make_app(service, accounts, policy)
        await serve_until_stopped(app, host, port, ssl_context=tls)
    finally:
        await service.stop()
