"""DC-09 accounts and their AES keys as people type them: the one account rule and key parser.

A DC-09 account is 3 to 16 hex digits (the ``#acct`` of the header, corpus README); it is
kept in upper case. An account's AES key is configured as 32, 48 or 64 hex digits
(AES-128/192/256), or as 16, 24 or 32 ASCII characters whose codes are the key bytes, the
form many panels' menus take. The command line, the API and the simulator all read them
here, and name their own option or field in the messages.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["ACCOUNT_PATTERN", "parse_account", "parse_either_key", "parse_key"]

ACCOUNT_PATTERN: Final = "[0-9A-Fa-f]{3,16}"
"""A DC-09 account, as a regular expression (without anchors): 3 to 16 hex digits."""

_ACCOUNT: Final = re.compile(ACCOUNT_PATTERN)
_HEX: Final = re.compile(r"[0-9A-Fa-f]*", re.ASCII)


def parse_account(text: str) -> str:
    """Return a DC-09 account as it is stored: without surrounding blanks, in upper case.

    Raises:
        ValueError: ``text`` is not 3 to 16 hex digits; the message quotes it as given.
    """
    account = text.strip().upper()
    if _ACCOUNT.fullmatch(account) is None:
        raise ValueError(f"{text!r} is not 3 to 16 hex digits")
    return account


def parse_key(text: str, *, ascii: bool) -> bytes:
    """Turn an account's configured key into AES key bytes.

    Args:
        text: 32, 48 or 64 hex digits, or (``ascii=True``) 16, 24 or 32 ASCII characters
            whose codes are the key bytes, the form many panels' menus take.
        ascii: how to read ``text``.

    Returns:
        16, 24 or 32 bytes (AES-128/192/256).

    Raises:
        ValueError: ``text`` has the wrong length or characters; the message says which.
    """
    if ascii:
        if len(text) not in {16, 24, 32}:
            raise ValueError(f"an ASCII key has 16, 24 or 32 characters, got {len(text)}")
        if not text.isascii():
            raise ValueError("an ASCII key may contain only ASCII characters")
        return text.encode("ascii")
    if len(text) not in {32, 48, 64}:
        raise ValueError(f"a hex key has 32, 48 or 64 hex digits, got {len(text)} characters")
    if _HEX.fullmatch(text) is None:
        raise ValueError("a hex key may contain only the digits 0-9 and A-F")
    return bytes.fromhex(text)


def parse_either_key(
    hex_text: str | None,
    ascii_text: str | None,
    *,
    hex_name: str = "key",
    ascii_name: str = "key_ascii",
) -> bytes | None:
    """Return the key given in one of its two forms (``parse_key``), or None if neither.

    Args:
        hex_text: the key as hex digits, if given.
        ascii_text: the key as ASCII characters, if given.
        hex_name: what the caller calls the hex form (an option, a field), for messages.
        ascii_name: what the caller calls the ASCII form.

    Raises:
        ValueError: both forms are given ("give key or key_ascii, not both"), or the one
            given is malformed; the message then starts with its name ("key: a hex key ...").
    """
    if hex_text is not None and ascii_text is not None:
        raise ValueError(f"give {hex_name} or {ascii_name}, not both")
    try:
        if hex_text is not None:
            return parse_key(hex_text, ascii=False)
        if ascii_text is not None:
            return parse_key(ascii_text, ascii=True)
    except ValueError as err:
        raise ValueError(f"{hex_name if hex_text is not None else ascii_name}: {err}") from err
    return None
