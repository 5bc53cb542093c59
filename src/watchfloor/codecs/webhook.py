"""Signatures of outgoing webhooks: HMAC-SHA256 over the timestamp and the body. Pure.

The header is ``X-Watchfloor-Signature: t=<unix seconds>,v1=<hex>``, where the hex is
HMAC-SHA256(secret, ``<t>.<body>``). Signing the timestamp with the body lets a receiver
refuse a replay of an old delivery (``verify_signature``'s ``tolerance``).
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["SIGNATURE_HEADER", "sign_body", "verify_signature"]

SIGNATURE_HEADER = "X-Watchfloor-Signature"


def sign_body(body: bytes, *, secret: bytes, timestamp: int) -> str:
    """Return the signature header's value for a body sent at ``timestamp`` (unix seconds)."""
    digest = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_signature(
    header: str, body: bytes, *, secret: bytes, now: int, tolerance: int = 300
) -> bool:
    """Return whether a signature header is valid for the body and recent enough.

    Args:
        header: the header's value as received.
        body: the body as received, byte for byte.
        secret: the shared secret.
        now: the receiver's time in unix seconds.
        tolerance: how many seconds a signature stays valid either side of ``now``.
    """
    parts = dict(part.partition("=")[::2] for part in header.split(","))
    timestamp = parts.get("t", "")
    if not timestamp.isdigit() or abs(now - int(timestamp)) > tolerance:
        return False
    expected = sign_body(body, secret=secret, timestamp=int(timestamp))
    return hmac.compare_digest(expected, f"t={timestamp},v1={parts.get('v1', '')}")
