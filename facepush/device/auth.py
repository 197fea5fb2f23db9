"""The terminal's account: `POST /v1/auth/login` issues a JWT (HS256); afterwards
`Authorization: Bearer <token>` or HTTP Basic. Vendor codes: 401 Unauthorized,
1000 Account Not Exist, 1001 Password Wrong. Without an account nothing is checked.

Tokens are signed with a key derived from the data directory's JWT key *and* the
account's credentials, so that changing the password (restarting with another
`--password`) ends every token issued before: they no longer verify."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from typing import Any

import jwt

from facepush.errors import AuthError, DecodeError, SetupError

UNAUTHORIZED = 401
ACCOUNT_NOT_EXIST = 1000
PASSWORD_WRONG = 1001
MIN_VALID_MINUTES, MAX_VALID_MINUTES, DEFAULT_VALID_MINUTES = 1, 1440, 5


class Accounts:
    def __init__(self, username: str | None, password: str | None, key: bytes) -> None:
        if (username is None) != (password is None):
            raise SetupError("--username/--password: give both or neither")
        self.username = username
        self._password = password
        self._key = token_key(key, username, password)

    @property
    def enabled(self) -> bool:
        return self.username is not None

    def login(self, body: Any) -> dict[str, Any]:
        """The reply data of a login: `{"token", "validTime"}`; raises AuthError/DecodeError."""
        if not isinstance(body, dict):
            raise DecodeError("body", "expected a JSON object with username and password")
        for name in ("username", "password"):
            if not isinstance(body.get(name), str):
                raise DecodeError(name, "is required (a string)")
        minutes = body.get("validTime", DEFAULT_VALID_MINUTES)
        if type(minutes) is not int or not MIN_VALID_MINUTES <= minutes <= MAX_VALID_MINUTES:
            raise DecodeError(
                "validTime",
                f"must be whole minutes from {MIN_VALID_MINUTES} to {MAX_VALID_MINUTES}, "
                f"got {minutes!r}",
            )
        self._check_password(body["username"], body["password"])
        now = int(time.time())
        claims = {"sub": body["username"], "iat": now, "exp": now + minutes * 60}
        return {"token": jwt.encode(claims, self._key, algorithm="HS256"), "validTime": minutes}

    def check(self, authorization: str | None) -> None:
        """Accept a request's `Authorization` header or raise AuthError."""
        if not self.enabled:
            return
        if not authorization:
            raise AuthError(UNAUTHORIZED, "Unauthorized: log in at /v1/auth/login first")
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer":
            self._check_token(value.strip())
        elif scheme.lower() == "basic":
            try:
                user, sep, password = base64.b64decode(value.strip()).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                sep = ""
            if not sep:
                raise AuthError(UNAUTHORIZED, "Unauthorized: malformed Basic credentials")
            self._check_password(user, password)
        else:
            raise AuthError(UNAUTHORIZED, f"Unauthorized: unsupported scheme {scheme!r}")

    def _check_token(self, token: str) -> None:
        try:
            claims = jwt.decode(
                token, self._key, algorithms=["HS256"], options={"require": ["exp"]}
            )
        except jwt.ExpiredSignatureError:
            raise AuthError(UNAUTHORIZED, "Unauthorized: token expired; log in again") from None
        except jwt.InvalidTokenError:
            raise AuthError(
                UNAUTHORIZED,
                "Unauthorized: invalid token (not issued here, or issued before the password "
                "changed); log in again",
            ) from None
        if claims.get("sub") != self.username:
            raise AuthError(UNAUTHORIZED, "Unauthorized: token of another account")

    def _check_password(self, user: str, password: str) -> None:
        if self.username is None or self._password is None:
            return  # no account: nothing to check
        # Digests of equal length: the comparison time says nothing about either value.
        if not hmac.compare_digest(_digest(user), _digest(self.username)):
            raise AuthError(ACCOUNT_NOT_EXIST, "Account Not Exist")
        if not hmac.compare_digest(_digest(password), _digest(self._password)):
            raise AuthError(PASSWORD_WRONG, "Password Wrong")


def token_key(key: bytes, username: str | None, password: str | None) -> bytes:
    """The key that signs this account's tokens: bound to the account's credentials."""
    account = f"{username or ''}\0{password or ''}".encode("utf-8", "surrogatepass")
    return hmac.new(key, b"facepush-login-token\0" + account, hashlib.sha256).digest()


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()
