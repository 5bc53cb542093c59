"""Contact ID data blocks: decoding, encoding and their errors."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from watchfloor.codecs import (
    ContactIdEvent,
    FormatError,
    Reply,
    decode_contact_id,
    encode_contact_id,
)

HEX = "0123456789ABCDEF"


def _event(**changes: str | None) -> ContactIdEvent:
    fields: dict[str, str | None] = {
        "account": "1234",
        "qualifier": "1",
        "event": "130",
        "partition": "01",
        "zone": "005",
    }
    fields.update(changes)
    return ContactIdEvent(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("data", "account"),
    [("#1234|1130 01 005", "1234"), ("1130 01 005", None), ("|1130 01 005", None),
     ("#|1130 01 005", None), ("#1234|113001005", "1234")],
)  # fmt: skip
def test_decode_accepts_account_forms(data: str, account: str | None) -> None:
    assert decode_contact_id(data) == _event(account=account)


def test_decode_upper_cases_hex_digits() -> None:
    event = decode_contact_id("#1234|1e3a 0b 0ff")
    assert (event.event, event.partition, event.zone) == ("E3A", "0B", "0FF")


def test_restore_is_qualifier_three() -> None:
    assert decode_contact_id("3401 02 012").restore
    assert not decode_contact_id("1401 02 012").restore
    assert not decode_contact_id("6302 00 000").restore


@pytest.mark.parametrize(
    "data",
    ["", "#1234", "#1234|1130 01", "1130 01 0055", "1130  01 005", "#1234||1130 01 005",
     "1G30 01 005", "1130 01 005 ", "Nri1/BA05"],
)  # fmt: skip
def test_decode_rejects_malformed_data(data: str) -> None:
    with pytest.raises(FormatError, match="does not parse") as info:
        decode_contact_id(data)
    assert info.value.reply is Reply.DUH


@pytest.mark.parametrize("qualifier", ["0", "2", "5", "9", "A"])
def test_decode_rejects_other_qualifiers(qualifier: str) -> None:
    with pytest.raises(FormatError, match="qualifier"):
        decode_contact_id(f"{qualifier}130 01 005")


def test_encode_golden() -> None:
    assert encode_contact_id(_event()) == "#1234|1130 01 005"
    assert encode_contact_id(_event(account=None)) == "1130 01 005"


@pytest.mark.parametrize(
    ("changes", "message"),
    [({"qualifier": "5"}, "qualifier"), ({"event": "13"}, "event"), ({"event": "1G0"}, "event"),
     ({"partition": "001"}, "partition"), ({"zone": "5"}, "zone"), ({"account": ""}, "account"),
     ({"account": "12|34"}, "account")],
)  # fmt: skip
def test_encode_refuses_bad_fields(changes: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        encode_contact_id(_event(**changes))


def _hex(size: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=HEX, min_size=size, max_size=size)


EVENTS = st.builds(
    ContactIdEvent,
    account=st.none() | st.text(alphabet=st.characters(exclude_characters="|[]",
                                exclude_categories=("Cc", "Cs")), min_size=1, max_size=16),
    qualifier=st.sampled_from("136"),
    event=_hex(3),
    partition=_hex(2),
    zone=_hex(3),
)  # fmt: skip


@given(EVENTS)
def test_encode_decode_round_trip(event: ContactIdEvent) -> None:
    assert decode_contact_id(encode_contact_id(event)) == event


@given(st.text(max_size=40) | st.text(alphabet="#|0123456789ABCDEF ", max_size=24))
def test_arbitrary_text_decodes_or_raises_decode_error(data: str) -> None:
    with contextlib.suppress(FormatError):  # any other error fails the test
        decode_contact_id(data)
