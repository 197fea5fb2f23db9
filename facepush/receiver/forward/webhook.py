"""HTTP(S) webhooks: `POST url` with the record as the body, `webhook-id` = its key, signed
(Standard Webhooks) when the sink has a `secret`; done on any 2xx.

The project's own delivery rules, as a terminal applies them to its receiver: a reply is
read to at most 1 MiB (more is not a reply: the connection is dropped and the record sent
again later); a redirect is not an acknowledgement; HTTP 4xx other than 408 and 429
refuses this record for good (set aside, the others go on); anything else, or no reply
within `timeout`, is a retry.
"""

from __future__ import annotations

import ssl

import aiohttp

from facepush import __version__
from facepush.errors import RecordRefused, SinkUnavailable
from facepush.protocol.signing import parse_secret, sign_headers
from facepush.receiver.forward.record import Record
from facepush.receiver.forward.settings import ForwardSettings
from facepush.receiver.forward.sink import Sink
from facepush.redact import redact
from facepush.tls import client_context
from facepush.transport import read_bounded

MAX_REPLY_BYTES = 1 << 20
_RETRYABLE_4XX = {408, 429}
_DETAIL_BYTES = 200  # of a refusal's body, in last_error and the set-aside list


class WebhookSink(Sink):
    kind = "webhook"
    ordered = False  # several connections: one record of a terminal in flight at a time

    def __init__(self, settings: ForwardSettings, sender: str = "") -> None:
        super().__init__(settings, sender)
        self._key = parse_secret(settings.secret) if settings.secret else None
        self._session: aiohttp.ClientSession | None = None
        self._ssl: ssl.SSLContext | bool = client_context(settings.ca) if settings.ca else True
        self._shown = redact(settings.url)
        # Which receiver delivered (several may share one database, one at a time).
        self._agent = f"facepush/{__version__}" + (f" ({sender})" if sender else "")

    async def open(self) -> None:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self.settings.window)
            timeout = aiohttp.ClientTimeout(total=self.settings.timeout)
            self._session = aiohttp.ClientSession(connector=connector, timeout=timeout)

    async def send(self, record: Record) -> None:
        if self._session is None:
            raise SinkUnavailable("not open")
        headers = {
            "Content-Type": "application/json",
            "User-Agent": self._agent,
            "webhook-id": record.key,
        }
        if self._key is not None:
            headers.update(sign_headers(self._key, record.key, record.body))
        try:
            async with self._session.post(
                self.settings.url,
                data=record.body,
                headers=headers,
                allow_redirects=False,
                ssl=self._ssl,
            ) as resp:
                reply = await read_bounded(resp, MAX_REPLY_BYTES)
                status = resp.status
                if reply is None:
                    resp.close()  # the rest of the reply is never read
                    raise SinkUnavailable(
                        f"HTTP {status} with a reply larger than 1 MiB; connection dropped"
                    )
        except TimeoutError:
            raise SinkUnavailable(
                f"{self._shown}: no reply within {self.settings.timeout:g} s"
            ) from None
        except aiohttp.ClientConnectorCertificateError as exc:
            raise SinkUnavailable(
                f"{self._shown}: TLS certificate not trusted ({exc.certificate_error}); "
                "give the CA that signed it as `ca` in the [[forward]] table"
            ) from None
        except aiohttp.ClientConnectorError as exc:
            raise SinkUnavailable(f"cannot connect to {self._shown}: {exc.os_error}") from None
        except (aiohttp.ClientError, OSError) as exc:
            raise SinkUnavailable(f"{self._shown}: {type(exc).__name__}: {exc}") from None
        _judge(status, reply)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _judge(status: int, reply: bytes) -> None:
    if 200 <= status < 300:
        return
    detail = reply[:_DETAIL_BYTES].decode("utf-8", "replace").strip()
    reason = f"HTTP {status}" + (f": {detail}" if detail else "")
    if 400 <= status < 500 and status not in _RETRYABLE_4XX:
        raise RecordRefused(reason)
    if 300 <= status < 400:
        reason += " (a redirect is not an acknowledgement: give the final URL)"
    raise SinkUnavailable(reason)
