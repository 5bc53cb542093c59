"""Credential cryptography: argon2 password hashes, TOTP codes and random tokens.

The adapter behind ``core.users.Credentials``. Argon2id through argon2-cffi with its default
(RFC 9106 "low memory") parameters; hashing runs in a worker thread, as it takes tens of
milliseconds on purpose. TOTP is RFC 6238 through pyotp: 6 digits, 30 s steps, and a code of
the step before or after is accepted too (clock drift between phone and server).
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
from datetime import datetime, timedelta
from typing import Final

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

__all__ = ["Argon2Credentials"]

_ISSUER: Final = "watchfloor"
_STEP: Final = 30
_DRIFT: Final = (0, -1, 1)


class Argon2Credentials:
    """Implements ``core.users.Credentials``."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self._hasher = hasher or PasswordHasher()
        # Checked against when a name is unknown, so that the answer takes as long. Made at
        # the first check, in the worker thread: hashing must not hold up start-up's loop.
        self._dummy: str | None = None

    async def hash_password(self, password: str) -> str:
        """Return the argon2id hash (PHC string) of a password."""
        return await asyncio.to_thread(self._hasher.hash, password)

    async def verify_password(self, password_hash: str | None, password: str) -> bool:
        """Return whether the password matches; with no hash, take as long and return False."""
        return await asyncio.to_thread(self._verify, password_hash, password)

    def needs_rehash(self, password_hash: str) -> bool:
        """Return whether the hash was made with other parameters than today's."""
        return self._hasher.check_needs_rehash(password_hash)

    def new_totp_secret(self) -> str:
        """Return a new random base32 TOTP secret (160 bits, RFC 4226 §4's recommendation)."""
        return pyotp.random_base32(32)

    def totp_uri(self, secret: str, *, user: str) -> str:
        """Return the ``otpauth://totp/...`` URI for an authenticator app."""
        return pyotp.TOTP(secret, interval=_STEP).provisioning_uri(name=user, issuer_name=_ISSUER)

    def totp_step(self, secret: str, code: str, at: datetime) -> int | None:
        """Return the time step whose code this is, within one step of ``at``; else None."""
        if not (code.isascii() and code.isdigit() and len(code) == 6):
            return None
        totp = pyotp.TOTP(secret, interval=_STEP)
        for drift in _DRIFT:
            moment = at + timedelta(seconds=drift * _STEP)
            if hmac.compare_digest(totp.at(moment), code):
                return int(totp.timecode(moment))
        return None

    def new_token(self) -> str:
        """Return 256 random bits, URL-safe."""
        return secrets.token_urlsafe(32)

    def _dummy_hash(self) -> str:
        if self._dummy is None:
            self._dummy = self._hasher.hash(secrets.token_urlsafe(16))
        return self._dummy

    def _verify(self, password_hash: str | None, password: str) -> bool:
        try:
            self._hasher.verify(password_hash or self._dummy_hash(), password)
        except (VerificationError, InvalidHashError):
            return False
        return password_hash is not None
