"""aiohttp's connection failures as the ClientErrors a person can act on, and a reply read
to a bound."""

from __future__ import annotations

import aiohttp

from facepush.errors import ClientError, TerminalUnreachable, TLSError


def connection_error(url: str, exc: BaseException) -> ClientError:
    """The ClientError for a request to `url` that got no HTTP answer."""
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return TLSError(
            f"{url}: the terminal's certificate is not trusted ({exc.certificate_error}); "
            "pass --ca FILE with the CA that signed it, or --insecure to skip the check"
        )
    if isinstance(exc, aiohttp.ClientSSLError):
        return TLSError(f"{url}: TLS handshake failed ({exc}); is it really https?")
    return TerminalUnreachable(
        f"{url}: no answer ({type(exc).__name__}: {exc or 'timed out'}); "
        "check the address and port and that the terminal is on"
    )


async def read_bounded(resp: aiohttp.ClientResponse, limit: int) -> bytes | None:
    """The reply body, or None as soon as it exceeds `limit` bytes (announced or not: a
    chunked or compressed reply has no useful Content-Length)."""
    if (resp.content_length or 0) > limit:
        return None
    body = bytearray()
    async for chunk in resp.content.iter_any():
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)
