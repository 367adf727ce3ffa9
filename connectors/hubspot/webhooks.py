"""Verifying HubSpot's webhook requests (signature v3, reference 1.11)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

MAX_AGE_MS = 5 * 60 * 1000  # HubSpot: reject requests older than five minutes


def signature_v3(client_secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    message = method.upper().encode() + uri.encode() + body + timestamp.encode()
    return base64.b64encode(hmac.new(client_secret.encode(), message, hashlib.sha256).digest()).decode()


def verify_v3(client_secret: str, method: str, uri: str, body: bytes, headers, *, now_ms: int | None = None) -> bool:
    """True when the request carries a valid, fresh v3 signature for `client_secret`.

    `uri` is the full URL as received; `headers` is any case-insensitive mapping (or a dict).
    """
    lowered = {str(k).lower(): v for k, v in dict(headers).items()}
    signature = str(lowered.get("x-hubspot-signature-v3") or "")
    timestamp = str(lowered.get("x-hubspot-request-timestamp") or "")
    # A signature made with an empty secret proves nothing; a non-ASCII signature or timestamp
    # ("²" is a digit to str.isdigit) cannot be valid and must answer False, not raise.
    if not client_secret or not signature or not signature.isascii():
        return False
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 16):
        return False
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    if abs(now_ms - int(timestamp)) > MAX_AGE_MS:
        return False
    expected = signature_v3(client_secret, method, uri, body, timestamp)
    return hmac.compare_digest(expected.encode(), signature.encode())
