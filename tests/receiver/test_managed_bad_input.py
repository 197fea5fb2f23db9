"""Managed terminals that cannot be used, beside one that can, in one receiver process: a
URL nothing answers, wrong credentials, an untrusted certificate, a history page that is
not the envelope. Each is a named `last_error` on its own terminal; the receiver neither
crashes nor stops watching and reconciling the others. No password appears in the log,
the API or the metrics, wherever it came from (the file, `password_env`,
`FACEPUSH_PASSWORD`)."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path
from typing import Any

import trustme
from aiohttp import web

from tests.receiver.fake_terminal import FakeTerminal, history_item
from tests.receiver.managed import (
    USER,
    basic,
    call,
    receiver_config,
    record,
    start_receiver,
    terminals,
    text,
    wait_for,
)
from tests.support.device import start_device
from tests.support.processes import free_port

GOOD_PW = "env-password-3f9a1c"  # FACEPUSH_PASSWORD
WRONG_PW = "wrong-password-77b2e0"  # password_env
FILE_PW = "file-password-c41d5e"  # in the file
SECRETS = (GOOD_PW, WRONG_PW, FILE_PW)


def not_the_envelope(query: dict[str, Any]) -> web.Response:
    return web.Response(
        text="<html><body>Service Unavailable</body></html>", content_type="text/html"
    )


async def test_each_bad_terminal_gets_a_named_error_and_the_others_carry_on(
    tmp_path: Path,
) -> None:
    account = ["--username", USER, "--password", GOOD_PW, "--sn", "SN-GOOD"]
    device, good = start_device(tmp_path, "--data", str(tmp_path / "d"), *account)
    ca = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(server)
    (tmp_path / "ca.pem").write_bytes(ca.cert_pem.bytes())
    tls, broken = (
        FakeTerminal("SN-TLS", [history_item("t-1", 1_700_000_000, serial="SN-TLS")]),
        FakeTerminal("SN-BROKEN"),
    )
    broken.history_reply = not_the_envelope
    rx_proc = None
    try:
        tls_url = await tls.start(server)
        broken_url = await broken.start()
        call(
            good + "/push/records",
            [record(n, "g", "SN-GOOD", 1_700_000_000) for n in range(5)],
            basic(GOOD_PW),
        )
        dead = f"http://127.0.0.1:{free_port()}"
        wrong = good.replace("127.0.0.1", "localhost")  # the same terminal, another password
        trusted = tls_url.replace("127.0.0.1", "localhost")
        config = receiver_config(
            tmp_path / "rx.toml",
            [
                {"url": good, "username": USER},  # FACEPUSH_PASSWORD
                {"url": dead, "username": USER, "password": FILE_PW},
                {"url": wrong, "username": USER, "password_env": "WRONG_PW"},
                {"url": tls_url, "username": USER, "password": FILE_PW},  # no ca
                {
                    "url": trusted,
                    "username": USER,
                    "password": FILE_PW,
                    "ca": str(tmp_path / "ca.pem"),
                },
                {"url": broken_url},
            ],
            terminal_poll=0.5,
        )
        env = {"FACEPUSH_PASSWORD": GOOD_PW, "WRONG_PW": WRONG_PW}
        rx_proc, rx = await asyncio.to_thread(start_receiver, tmp_path, config, env=env)

        def settled() -> list[dict[str, Any]] | None:
            items = terminals(rx)
            done = all(t["pings"] and (not t["online"] or t["reconciliations"]) for t in items)
            return items if done else None

        await asyncio.to_thread(wait_for, settled, "a ping of each, a run of each online one")
        reply = await asyncio.to_thread(call, rx + "/api/terminals/reconcile", {})
        by_url = {t["url"]: t for t in reply["items"]}
        assert list(by_url) == [good, dead, wrong, tls_url, trusted, broken_url]

        assert by_url[good]["online"] and by_url[good]["last_error"] is None
        assert by_url[good]["serial"] == "SN-GOOD" and by_url[good]["reconciled_until"] is not None
        assert by_url[trusted]["online"] and by_url[trusted]["last_error"] is None
        assert by_url[trusted]["serial"] == "SN-TLS"
        errors = {url: by_url[url]["last_error"] for url in (dead, wrong, tls_url, broken_url)}
        assert errors[dead].startswith(f"ping: {dead}/v2/datasync/ping: no answer"), errors
        assert (
            errors[wrong].startswith("info: ")
            and "wrong password for account 'admin'" in errors[wrong]
        )
        assert (
            errors[tls_url].startswith("ping: ") and "certificate is not trusted" in errors[tls_url]
        )
        assert errors[broken_url].startswith(f"history: {broken_url}/v1/event/records: HTTP 200")
        assert "not the terminal's {code, msg, data} envelope" in errors[broken_url]
        for url in (dead, wrong, tls_url, broken_url):
            assert by_url[url]["last_reconcile"]["error"], (url, by_url[url])
        assert (
            not by_url[dead]["online"] and by_url[wrong]["online"] and by_url[broken_url]["online"]
        )

        stats = await asyncio.to_thread(call, rx + "/api/stats")
        assert stats["recognitions"] == 6  # the good terminal's 5 and the trusted one's 1
        # Still watching: more rounds go on for every terminal, the bad ones too.
        pings = {t["url"]: t["pings"] for t in terminals(rx)}
        await asyncio.to_thread(
            wait_for, lambda: all(t["pings"] > pings[t["url"]] for t in terminals(rx)), "more pings"
        )
        assert rx_proc.proc.poll() is None

        shown = [
            text(rx + "/api/terminals"),
            text(rx + "/metrics"),
            str(reply),
            rx_proc.output(),
        ]
    finally:
        if rx_proc is not None:
            rx_proc.stop()
        device.stop()
        await tls.stop()
        await broken.stop()
    shown.append(rx_proc.output())  # the whole log, shutdown included
    for secret in SECRETS:
        for where in shown:
            assert secret not in where
    assert "Traceback" not in rx_proc.output()
