"""TLS contexts: the terminal's own API (`--tls-cert/--tls-key`) and trust for outgoing
HTTPS (`--ca FILE`, or `--insecure` only by explicit choice)."""

from __future__ import annotations

import ssl
from pathlib import Path

from facepush.errors import (
    TLSConfigError as TLSConfigError,  # defined in facepush.errors; exported here as before
)


def server_context(cert: str | Path, key: str | Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(str(cert), str(key))
    except (OSError, ssl.SSLError) as exc:
        raise TLSConfigError(
            f"cannot load --tls-cert {cert} / --tls-key {key}: {exc}; give readable PEM "
            "files of the certificate chain and its private key"
        ) from None
    return context


def client_context(ca: str | Path | None = None, insecure: bool = False) -> ssl.SSLContext:
    """System trust by default; a private CA with `ca`; no verification only when asked."""
    context = ssl.create_default_context()
    if ca is not None:
        try:
            context.load_verify_locations(cafile=str(ca))
        except (OSError, ssl.SSLError) as exc:
            raise TLSConfigError(
                f"cannot load --ca {ca}: {exc}; give a readable PEM file of the CA "
                "certificates to trust"
            ) from None
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
