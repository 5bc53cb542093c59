"""The account rule and the key parser that the command line, the API and the simulator share."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from watchfloor.codecs.accounts import (
    ACCOUNT_PATTERN,
    parse_account,
    parse_either_key,
    parse_key,
)
from watchfloor.codecs.dc09 import decode_frame, encode_frame

# --- accounts ----------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "account"), [("1234", "1234"), (" c0ffee ", "C0FFEE")])
def test_an_account_is_kept_in_upper_case_without_blanks(text: str, account: str) -> None:
    assert parse_account(text) == account


@pytest.mark.parametrize("text", ["12", "0" * 17, "12G4", "", "12 34", "\uff11\uff12\uff13"])
def test_an_account_that_is_not_3_to_16_hex_digits_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="is not 3 to 16 hex digits") as raised:
        parse_account(text)
    assert repr(text) in str(raised.value)


@given(st.text(alphabet="0123456789abcdefABCDEF", min_size=3, max_size=16))
def test_every_account_the_rule_accepts_frames_and_decodes(digits: str) -> None:
    account = parse_account(digits)
    assert account == digits.upper()
    frame = decode_frame(encode_frame(token="NULL", seq="0001", account=account, data=""))
    assert frame.account == account
    assert re.fullmatch(ACCOUNT_PATTERN, digits)


# --- parse_key ---------------------------------------------------------------------------


@pytest.mark.parametrize("size", [16, 24, 32])
def test_parse_key_reads_hex_and_ascii(size: int) -> None:
    key = bytes(range(size))
    assert parse_key(key.hex(), ascii=False) == key
    assert parse_key(key.hex().upper(), ascii=False) == key
    assert parse_key("A" * size, ascii=True) == b"A" * size


@pytest.mark.parametrize(
    ("text", "ascii", "message"),
    [
        ("00" * 15, False, "32, 48 or 64"),
        ("0G" * 16, False, "only the digits"),
        (" 0" * 16, False, "only the digits"),
        ("A" * 15, True, "16, 24 or 32"),
        ("é" * 16, True, "only ASCII"),
    ],
)
def test_parse_key_rejects_bad_keys(text: str, ascii: bool, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_key(text, ascii=ascii)


def test_either_key_form_is_parsed_and_neither_is_none() -> None:
    assert parse_either_key("00" * 16, None) == bytes(16)
    assert parse_either_key(None, "A" * 16) == b"A" * 16
    assert parse_either_key(None, None) is None


@pytest.mark.parametrize(
    ("hex_text", "ascii_text", "message"),
    [
        ("abc", None, "--key: a hex key has 32, 48 or 64 hex digits, got 3 characters"),
        (None, "short", "--key-ascii: an ASCII key has 16, 24 or 32 characters, got 5"),
        ("00" * 16, "x" * 16, "give --key or --key-ascii, not both"),
    ],
)
def test_a_bad_key_names_the_callers_option(
    hex_text: str | None, ascii_text: str | None, message: str
) -> None:
    with pytest.raises(ValueError, match=f"^{message}$"):
        parse_either_key(hex_text, ascii_text, hex_name="--key", ascii_name="--key-ascii")


def test_a_bad_key_names_the_api_field_by_default() -> None:
    with pytest.raises(ValueError, match=r"^key_ascii: "):
        parse_either_key(None, "short")
