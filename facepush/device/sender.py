"""Sending one record to the destination and judging the reply (ruling 2,
docs/protocol-rulings.md).

Whatever goes wrong in one attempt becomes its verdict, never an exception: a network
failure is a retry, a reply larger than `MAX_REPLY_BYTES` is a retry (read no further,
connection dropped), and a request that cannot be made for this record (an identity that
cannot travel in the `webhook-id` header) or that fails in a way that is not the network's
is a refusal of this record, so that the delivery loop sets it aside rather than stall.

Two clients carry a push: the device's own lean HTTP/1.1 path (`Http1Client`, http1.py),
and an aiohttp ClientSession when the caller gives one (`facepush fleet` shares one among
its terminals). Both give the same verdicts with the same messages.
"""

from __future__ import annotations

import functools
import logging
import ssl
import time
from dataclasses import dataclass

import aiohttp

from facepush.device import http1
from facepush.protocol.ack import DeliveryOutcome, Verdict, classify_reply
from facepush.protocol.identity import header_problem
from facepush.protocol.signing import sign_headers
from facepush.transport import read_bounded

log = logging.getLogger("facepush.device")
MAX_REPLY_BYTES = 1 << 20  # a receiver's reply is a small envelope; more is not a reply
_TOO_LARGE = "reply larger than 1 MiB"


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


Client = aiohttp.ClientSession | http1.Http1Client


async def post_record(session: Client, dest: Destination, key: str, body: bytes) -> Attempt:
    """One push of one record; never raises (but for cancellation)."""
    started = time.monotonic()
    if dest.signing_key is not None and (problem := header_problem(key)) is not None:
        # Refused at intake now; a record cached by an older version may still hold one.
        reason = f"not sent: identity {key!r} cannot be the webhook-id header (it {problem})"
        return Attempt(Verdict(DeliveryOutcome.REFUSED, reason), 0.0)
    try:
        if isinstance(session, http1.Http1Client):
            verdict = await _send_lean(session, dest, key, body)
        else:
            verdict = await _send(session, dest, key, body)
    except TimeoutError:
        verdict = Verdict(DeliveryOutcome.RETRY, f"no reply within {dest.timeout:g} s")
    except (aiohttp.ClientConnectorCertificateError, http1.CertificateFailed) as exc:
        verdict = Verdict(
            DeliveryOutcome.RETRY,
            f"TLS certificate of {dest.url} not trusted ({exc.certificate_error}); "
            "give the receiver's CA with --ca FILE",
        )
    except (aiohttp.ClientSSLError, http1.TLSFailed) as exc:
        verdict = Verdict(DeliveryOutcome.RETRY, f"TLS failure talking to {dest.url}: {exc}")
    except (aiohttp.ClientConnectorError, http1.ConnectFailed) as exc:
        verdict = Verdict(DeliveryOutcome.RETRY, f"cannot connect to {dest.url}: {exc.os_error}")
    except (aiohttp.ClientError, http1.Http1Error, OSError) as exc:
        verdict = Verdict(
            DeliveryOutcome.RETRY, f"connection to {dest.url} failed: {_describe(exc)}"
        )
    except Exception as exc:  # not the network: something about this request (or a bug)
        log.exception("push of %r failed", key)
        verdict = Verdict(DeliveryOutcome.REFUSED, f"not sent: {_describe(exc)}")
    return Attempt(verdict, time.monotonic() - started)


async def _send(
    session: aiohttp.ClientSession, dest: Destination, key: str, body: bytes
) -> Verdict:
    headers = {"Content-Type": "application/json"}
    if dest.signing_key is not None:
        headers.update(sign_headers(dest.signing_key, key, body))
    async with session.post(
        dest.url,
        data=body,
        headers=headers,
        allow_redirects=False,  # a redirect is not an acknowledgement
        timeout=dest.client_timeout,
        ssl=dest.ssl if dest.ssl is not None else True,
    ) as resp:
        reply = await read_bounded(resp, MAX_REPLY_BYTES)
        if reply is None:
            resp.close()  # drop the connection: the rest of the reply is never read
            return Verdict(
                DeliveryOutcome.RETRY, f"{_TOO_LARGE} (HTTP {resp.status}); connection dropped"
            )
        return classify_reply(resp.status, reply)


async def _send_lean(
    client: http1.Http1Client, dest: Destination, key: str, body: bytes
) -> Verdict:
    headers = ""
    if dest.signing_key is not None:  # the key was checked to be a valid header value
        signed = sign_headers(dest.signing_key, key, body)
        headers = "".join(f"{name}: {value}\r\n" for name, value in signed.items())
    reply = await client.post(dest.url, dest.ssl, headers, body, MAX_REPLY_BYTES, dest.timeout)
    if reply.too_large or reply.body is None:
        reason = f"{_TOO_LARGE} (HTTP {reply.status}); connection dropped"
        return Verdict(DeliveryOutcome.RETRY, reason)
    return classify_reply(reply.status, reply.body)


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
