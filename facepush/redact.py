"""Credentials in URLs kept out of logs and status pages.

A push destination may carry credentials as userinfo (`https://user:pass@host/Record`).
Wherever such a URL is shown rather than used, the password becomes `***`
(`https://user:***@host/Record`); a userinfo without a password (often a token used as
user name) becomes `***` whole. `RedactingFilter` does the same for every URL in the text
of a log record.
"""

from __future__ import annotations

import logging
import re

MASK = "***"
# scheme://userinfo@ — userinfo has no '/', '@' or whitespace.
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<info>[^/@\s?#]+)@")


def _mask(match: re.Match[str]) -> str:
    user, sep, _password = match.group("info").partition(":")
    shown = f"{user}:{MASK}" if sep else MASK
    return f"{match.group('scheme')}{shown}@"


def redact(text: str) -> str:
    """`text` with the password of every URL's userinfo replaced by `***`."""
    return _USERINFO.sub(_mask, text) if "@" in text else text


class RedactingFilter(logging.Filter):
    """Redacts URL credentials in a log record's message (its arguments merged in)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
