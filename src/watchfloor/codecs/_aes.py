"""AES-CBC with a zero IV and no cipher padding, as SIA DC-09 encryption uses it."""

from __future__ import annotations

import secrets

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

__all__ = ["BLOCK", "KEY_SIZES", "check_key", "decrypt", "encrypt", "make_pad"]

BLOCK = 16
KEY_SIZES = frozenset({16, 24, 32})
# DC-09 encryption, corpus README: AES-CBC with an IV of 16 zero bytes.
_IV = bytes(BLOCK)
# Pad characters: printable ASCII without '|', '[' and ']' (corpus README: the pad contains none
# of them, so the first '|' after decryption ends the pad).
_PAD_ALPHABET = bytes(c for c in range(0x21, 0x7F) if c not in b"|[]")


def check_key(key: bytes) -> None:
    if len(key) not in KEY_SIZES:
        raise ValueError(f"AES key must be 16, 24 or 32 bytes, got {len(key)}")


def encrypt(key: bytes, plaintext: bytes) -> bytes:
    check_key(key)
    encryptor = Cipher(algorithms.AES(key), modes.CBC(_IV)).encryptor()
    return encryptor.update(plaintext) + encryptor.finalize()


def decrypt(key: bytes, ciphertext: bytes) -> bytes:
    check_key(key)
    decryptor = Cipher(algorithms.AES(key), modes.CBC(_IV)).decryptor()
    return decryptor.update(ciphertext) + decryptor.finalize()


def make_pad(length: int, fill: bytes | None) -> bytes:
    """Return ``length`` pad bytes: ``fill`` cycled, or random printable characters."""
    if fill is None:
        return bytes(secrets.choice(_PAD_ALPHABET) for _ in range(length))
    if not fill or any(c in b"|[]\r\n" for c in fill):
        raise ValueError("pad must be non-empty and contain no '|', '[', ']', CR or LF")
    return (fill * length)[:length]
