"""SIA DCS data blocks: decoding, encoding, modifiers and their errors."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from watchfloor.codecs import (
    FormatError,
    Modifiers,
    Reply,
    SiaEvent,
    SiaMessage,
    decode_sia_dcs,
    encode_sia_dcs,
)


def _events(data: str) -> list[tuple[str, str, dict[str, str], str | None]]:
    return [(e.code, e.zone, dict(e.modifiers), e.text) for e in decode_sia_dcs(data).events]


@pytest.mark.parametrize(
    ("data", "account"),
    [("#1234|Nri1/BA05", "1234"), ("|Nri1/BA05", None), ("Nri1/BA05", None),
     ("#|Nri1/BA05", None)],
)  # fmt: skip
def test_decode_accepts_account_forms(data: str, account: str | None) -> None:
    message = decode_sia_dcs(data)
    assert message.account == account
    assert message.new_event
    assert _events(data) == [("BA", "05", {"ri": "1"}, None)]


def test_modifiers_stay_in_force_until_given_again() -> None:
    assert _events("Nri1/id5/OP/ri2/OP") == [
        ("OP", "", {"ri": "1", "id": "5"}, None),
        ("OP", "", {"ri": "2", "id": "5"}, None),
    ]


def test_modifier_directly_followed_by_code() -> None:
    assert _events("Nri0RP2^SL 1807^") == [("RP", "2", {"ri": "0"}, "SL 1807")]
    assert _events("Nri1BA5") == [("BA", "5", {"ri": "1"}, None)]


def test_time_and_satel_pi_modifiers() -> None:
    assert _events("Nti12:34/id5/ri1/OP5") == [
        ("OP", "5", {"ti": "12:34", "id": "5", "ri": "1"}, None)
    ]
    assert _events("#0000|Npi0/AT") == [("AT", "", {"pi": "0"}, None)]


def test_unknown_codes_decode() -> None:
    assert _events("Nri1/ZX05") == [("ZX", "05", {"ri": "1"}, None)]


def test_old_event_flag() -> None:
    assert not decode_sia_dcs("ORP").new_event


def test_empty_text_is_not_missing_text() -> None:
    assert _events("NRP^^/BA1") == [("RP", "", {}, ""), ("BA", "1", {}, None)]


@pytest.mark.parametrize(
    ("data", "message"),
    [("", "N or O"), ("#1234", "without '|'"), ("#1234|", "N or O"), ("#1234|Xri1/BA05", "N or O"),
     ("Nri1/BA05$", "does not parse"), ("NBA05^open", "does not parse"), ("Nri1", "no event"),
     ("N", "no event"), ("Nri1/B", "does not parse")],
)  # fmt: skip
def test_decode_rejects_malformed_data(data: str, message: str) -> None:
    with pytest.raises(FormatError, match=message) as info:
        decode_sia_dcs(data)
    assert info.value.reply is Reply.DUH


def test_encode_golden() -> None:
    message = decode_sia_dcs("#1234|Nri1/id5/OP/ri2/OP")
    assert encode_sia_dcs(message) == "#1234|Nri1/id5/OP/ri2/OP"
    message = SiaMessage(
        account=None,
        new_event=False,
        events=(SiaEvent(code="RP", zone="2", text="SL 1"),),
    )
    assert encode_sia_dcs(message) == "ORP2^SL 1^"


@pytest.mark.parametrize(
    ("events", "account", "message"),
    [
        ((), "1234", "at least one event"),
        ((SiaEvent(code="ba", zone=""),), None, "code"),
        ((SiaEvent(code="BA", zone="5a"),), None, "parameter"),
        ((SiaEvent(code="BA", zone="", modifiers={"RI": "1"}),), None, "modifier name"),
        ((SiaEvent(code="BA", zone="", modifiers={"ri": "x"}),), None, "modifier value"),
        ((SiaEvent(code="BA", zone="", text="a^b"),), None, "text"),
        ((SiaEvent(code="BA", zone=""),), "12|34", "account"),
        (
            (SiaEvent(code="BA", zone="", modifiers={"ri": "1"}), SiaEvent(code="BA", zone="")),
            None,
            "lacks modifiers",
        ),
    ],
)
def test_encode_refuses_bad_messages(
    events: tuple[SiaEvent, ...], account: str | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        encode_sia_dcs(SiaMessage(account=account, new_event=True, events=events))


def test_modifiers_are_an_immutable_hashable_mapping() -> None:
    modifiers = Modifiers({"ri": "1", "id": "5"})
    assert modifiers == {"id": "5", "ri": "1"}
    assert modifiers == Modifiers({"id": "5", "ri": "1"})
    assert hash(modifiers) == hash(Modifiers({"id": "5", "ri": "1"}))
    assert modifiers != ["ri"]
    assert len(modifiers) == 2
    assert list(modifiers) == ["ri", "id"]
    assert modifiers["ri"] == "1"
    assert repr(modifiers) == "Modifiers({'ri': '1', 'id': '5'})"
    assert Modifiers() == {}


def test_events_store_any_mapping_as_modifiers() -> None:
    event = SiaEvent(code="BA", zone="1", modifiers={"ri": "1"})
    assert isinstance(event.modifiers, Modifiers)
    assert hash(event) == hash(SiaEvent(code="BA", zone="1", modifiers=Modifiers({"ri": "1"})))
    assert SiaEvent(code="BA", zone="1").modifiers == {}


_NAMES = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=2)
_VALUES = st.text(alphabet="0123456789:", max_size=5)
_STEP = st.tuples(
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=2, max_size=2),
    st.text(alphabet="0123456789", max_size=4),
    st.none() | st.text(alphabet=st.characters(exclude_characters="^[]",
                                               exclude_categories=("Cc", "Cs")), max_size=12),
    st.dictionaries(_NAMES, _VALUES, max_size=3),
)  # fmt: skip


@st.composite
def messages(draw: st.DrawFn) -> SiaMessage:
    in_force: dict[str, str] = {}
    events = []
    for code, zone, text, updates in draw(st.lists(_STEP, min_size=1, max_size=4)):
        in_force.update(updates)
        events.append(SiaEvent(code=code, zone=zone, modifiers=dict(in_force), text=text))
    account = draw(
        st.none()
        | st.text(
            alphabet=st.characters(exclude_characters="|[]", exclude_categories=("Cc", "Cs")),
            min_size=1,
            max_size=12,
        )
    )
    return SiaMessage(account=account, new_event=draw(st.booleans()), events=tuple(events))


@given(messages())
def test_encode_decode_round_trip(message: SiaMessage) -> None:
    assert decode_sia_dcs(encode_sia_dcs(message)) == message


@given(st.text(max_size=40) | st.text(alphabet="#|NOri1/BA05^ id:", max_size=30))
def test_arbitrary_text_decodes_or_raises_decode_error(data: str) -> None:
    with contextlib.suppress(FormatError):  # any other error fails the test
        decode_sia_dcs(data)
