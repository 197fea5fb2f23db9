"""Our signatures verify with the standardwebhooks reference library, and theirs with ours."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from facepush.protocol.signing import SignatureError, parse_secret, sign_headers, verify

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
BODY = b'{"type": 0, "data": {"uuid": "u-1"}}'


def test_our_signature_verifies_with_the_reference_library() -> None:
    headers = sign_headers(parse_secret(SECRET), "r:u-1", BODY)
    assert Webhook(SECRET).verify(BODY, headers) == {"type": 0, "data": {"uuid": "u-1"}}


def test_reference_signature_verifies_with_ours() -> None:
    now = datetime.now(tz=UTC)
    sig = Webhook(SECRET).sign("r:u-1", now, BODY.decode())
    headers = {
        "Webhook-Id": "r:u-1",
        "Webhook-Timestamp": str(int(now.timestamp())),
        "Webhook-Signature": sig,
    }
    assert verify(parse_secret(SECRET), headers, BODY) == "r:u-1"


def test_altered_body_fails_both_sides() -> None:
    headers = sign_headers(parse_secret(SECRET), "r:u-1", BODY)
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(BODY + b" ", headers)
    with pytest.raises(SignatureError, match="does not match"):
        verify(parse_secret(SECRET), headers, BODY + b" ")


def test_missing_and_stale_headers_are_named() -> None:
    key = parse_secret(SECRET)
    with pytest.raises(SignatureError, match="missing webhook-id header"):
        verify(key, {}, BODY)
    old = sign_headers(key, "r:u-1", BODY, now=1_000_000)
    with pytest.raises(SignatureError, match="webhook-timestamp is .* s off"):
        verify(key, old, BODY)
    for unusable in ("whsec_", "nope", "whsec_bm9wZQ==", "whsec_!!!not-base64!!!"):
        with pytest.raises(SignatureError, match="at least 16 key bytes"):
            parse_secret(unusable)
