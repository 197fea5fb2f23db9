"""Sending one record to the destination and judging the reply (ruling 2,
docs/protocol-rulings.md)."""

from __future__ import annotations

import functools
import ssl
import time
from dataclasses import dataclass

import aiohttp

from facepush.protocol.ack import Outcome, Verdict, classify_reply
from facepush.protocol.signing import sign_headers

MAX_REPLY_BYTES = 1 << 20  # a receiver's reply is a small envelope; more is not a reply


@dataclass(frozen=True, slots=True)
class Destination:
    """Where records go. `ssl` is the trust for https (None: system trust); with
    `signing_key` every push carries Standard Webhooks headers (webhook-id = identity)."""

    url: str
    ssl: ssl.SSLContext | None = None
    signing_key: bytes | None = None
    timeout: float = 10.0

    @property
    def client_timeout(self) -> aiohttp.ClientTimeout:
        return _timeout(self.timeout)


@functools.lru_cache(maxsize=64)
def _timeout(seconds: float) -> aiohttp.ClientTimeout:
    return aiohttp.ClientTimeout(total=seconds)


@dataclass(frozen=True, slots=True)
class Attempt:
    verdict: Verdict
    rtt: float  # seconds from sending to the end of the reply (or the failure)


async def post_record(
    session: aiohttp.ClientSession, dest: Destination, key: str, body: bytes
) -> Attempt:
    headers = {"Content-Type": "application/json"}
    if dest.signing_key is not None:
        headers.update(sign_headers(dest.signing_key, key, body))
    started = time.monotonic()
    try:
        async with session.post(
            dest.url,
            data=body,
            headers=headers,
            allow_redirects=False,  # a redirect is not an acknowledgement
            timeout=dest.client_timeout,
            ssl=dest.ssl if dest.ssl is not None else True,
        ) as resp:
            if (resp.content_length or 0) > MAX_REPLY_BYTES:
                verdict = Verdict(Outcome.RETRY, f"HTTP {resp.status} with an oversized reply")
            else:
                verdict = classify_reply(resp.status, await resp.read())
    except TimeoutError:
        verdict = Verdict(Outcome.RETRY, f"no reply within {dest.timeout:g} s")
    except aiohttp.ClientConnectorCertificateError as exc:
        verdict = Verdict(
            Outcome.RETRY,
            f"TLS certificate of {dest.url} not trusted ({exc.certificate_error}); "
            "give the receiver's CA with --ca FILE",
        )
    except aiohttp.ClientSSLError as exc:
        verdict = Verdict(Outcome.RETRY, f"TLS failure talking to {dest.url}: {exc}")
    except aiohttp.ClientConnectorError as exc:
        verdict = Verdict(Outcome.RETRY, f"cannot connect to {dest.url}: {exc.os_error}")
    except (aiohttp.ClientError, OSError) as exc:
        verdict = Verdict(Outcome.RETRY, f"connection to {dest.url} failed: {_describe(exc)}")
    return Attempt(verdict, time.monotonic() - started)


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
