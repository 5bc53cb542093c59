"""The Ed25519 key that signs audit checkpoints, kept in the data directory.

The private key is a PEM file readable by its owner only, made at first start. Its public
half identifies it (``key_id``, 64 hex digits) and is what ``watchfloor audit verify`` trusts;
a checkpoint signed by any other key does not verify. On several nodes, each node has its own
key and the verifier is given every node's public key.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = ["KEY_FILE", "AuditSigner", "verify_with"]

#: The key's file name in the data directory.
KEY_FILE: Final = "audit-signing-key.pem"


@dataclass(frozen=True, slots=True)
class AuditSigner:
    """Signs checkpoint messages with the deployment's Ed25519 key."""

    _key: Ed25519PrivateKey

    @classmethod
    def load_or_create(cls, data_dir: Path) -> AuditSigner:
        """Load the data directory's key, making it (mode 0600) if there is none yet."""
        path = data_dir / KEY_FILE
        if path.exists():
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            if not isinstance(key, Ed25519PrivateKey):
                raise ValueError(f"{path} is not an Ed25519 private key")
            return cls(key)
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        # O_EXCL: two processes starting at once must not overwrite each other's key.
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return cls.load_or_create(data_dir)
        with os.fdopen(descriptor, "wb") as file:
            file.write(pem)
        return cls(key)

    @property
    def key_id(self) -> str:
        """The hex of the raw public key."""
        return (
            self._key.public_key()
            .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            .hex()
        )

    def sign(self, message: bytes) -> str:
        """Return the hex signature of a message."""
        return self._key.sign(message).hex()


def verify_with(trusted: frozenset[str], key_id: str, message: bytes, signature: str) -> bool:
    """Return whether a signature over a message verifies with ``key_id``, a trusted key."""
    if key_id not in trusted:
        return False
    try:
        public = Ed25519PublicKey.from_public_bytes(bytes.fromhex(key_id))
        public.verify(bytes.fromhex(signature), message)
    except (ValueError, InvalidSignature):
        return False
    return True
