"""Webhook signatures: HMAC-SHA256 over the timestamp and the body."""

from __future__ import annotations

import hashlib
import hmac

from hypothesis import given
from hypothesis import strategies as st

from watchfloor.codecs.webhook import sign_body, verify_signature

SECRET = b"shared secret"


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    expected = hmac.new(SECRET, b"1700000000.{}", hashlib.sha256).hexdigest()
    assert sign_body(b"{}", secret=SECRET, timestamp=1700000000) == f"t=1700000000,v1={expected}"


@given(body=st.binary(max_size=200), timestamp=st.integers(0, 2**33))
def test_a_signature_verifies_its_body(body: bytes, timestamp: int) -> None:
    header = sign_body(body, secret=SECRET, timestamp=timestamp)
    assert verify_signature(header, body, secret=SECRET, now=timestamp)


@given(body=st.binary(min_size=1, max_size=200), index=st.integers(0, 199))
def test_any_changed_byte_fails(body: bytes, index: int) -> None:
    header = sign_body(body, secret=SECRET, timestamp=100)
    position = index % len(body)
    changed = body[:position] + bytes([body[position] ^ 1]) + body[position + 1 :]
    assert not verify_signature(header, changed, secret=SECRET, now=100)


def test_old_signatures_wrong_secrets_and_garbage_fail() -> None:
    header = sign_body(b"x", secret=SECRET, timestamp=100)
    assert not verify_signature(header, b"x", secret=SECRET, now=100 + 301)
    assert not verify_signature(header, b"x", secret=b"other", now=100)
    assert not verify_signature("garbage", b"x", secret=SECRET, now=100)
    assert not verify_signature("t=abc,v1=00", b"x", secret=SECRET, now=100)
