"""Differential tests: our DC-09 decoding against pysiaalarm 3.1.1, the receiver Home Assistant uses.

Frames come from our ``encode_frame`` (SIA-DCS, ADM-CID and NULL; accounts of 3-16 hex digits;
with or without R and L; one or more events with modifiers, zones and text; extended blocks;
no timestamp, a current one or a skewed one; plain or encrypted with AES-128/192/256). Each is
given to both sides:

- ours: ``decode_frame`` -> ``decrypt_frame`` + ``check_timestamp`` when encrypted -> the body
  codec the token names, as ``Dc09Receiver.handle_frame`` chains them; accepted means ACK.
- pysiaalarm: ``BaseSIAServer.parse_and_check_event`` (what its TCP and UDP servers call for
  each read; pure apart from logging and its wall clock), then ``event.response``; accepted
  means ``ResponseType.ACK`` (only ACKed events reach its user callback). Accounts are handed
  to it as its client does, ``{account.account_id: account}`` with the id upper-cased.

Where both accept, account, sequence, code, zone, partition, text, extended data and timestamp
must agree, after normalising what pysiaalarm represents differently (Contact ID events become
SIA codes through its own table; the zone and ``^text^`` are one ``message`` string; a NULL
link test is code ``RP``; the extended blocks are one ``x_data`` string joined by ``][``).

Every class of frame on which they disagree is predicted by ``known_disagreements`` and has a
named test below with a concrete frame and which side is right. The property tests do not
filter the classes away: ``test_both_agree_outside_the_known_disagreements`` checks agreement
everywhere else, and ``test_each_known_disagreement_really_disagrees`` checks that a frame in
exactly one class really is handled differently, so no class hides agreement.

Keys: pysiaalarm takes a key as text and uses its UTF-8 bytes (the ASCII form of DESIGN.md);
for a hex-configured key (arbitrary bytes, ``--key HEX``) its account's ``key_b`` is set
directly, since its configuration cannot express one (``SIAAccount.validate_account`` even
demands hex characters, then uses the characters, not their value, as the key).
"""

from __future__ import annotations

import json
import string
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import resources

from hypothesis import HealthCheck, assume, event, given, note, settings
from hypothesis import strategies as st

from watchfloor.codecs import (
    DecodeError,
    FrameSplitter,
    SiaEvent,
    SiaMessage,
    check_timestamp,
    crc16_arc,
    decode_contact_id,
    decode_frame,
    decode_reply,
    decode_sia_dcs,
    decrypt_frame,
    encode_ack,
    encode_frame,
    encode_sia_dcs,
)

with warnings.catch_warnings():
    # pysiaalarm imports pkg_resources, which warns on newer setuptools.
    warnings.simplefilter("ignore")
    from pysiaalarm.account import SIAAccount
    from pysiaalarm.base_server import BaseSIAServer
    from pysiaalarm.event import NAKEvent, SIAEvent
    from pysiaalarm.utils.counter import Counter
    from pysiaalarm.utils.enums import MessageTypes, ResponseType

DIFF = settings(deadline=None, max_examples=150)

_PYSIA_DATA = resources.files("pysiaalarm") / "data"
#: pysiaalarm's SIA code table: codes outside it get DUH.
PYSIA_SIA_CODES = frozenset(json.loads((_PYSIA_DATA / "sia_codes.json").read_text("utf-8")))
#: pysiaalarm's Contact ID -> SIA table: event -> qualifier -> SIA code.
PYSIA_ADM_MAPPING: dict[str, dict[str, str]] = json.loads(
    (_PYSIA_DATA / "adm_mapping.json").read_text("utf-8")
)

# --- The two sides -------------------------------------------------------------------------


@dataclass(frozen=True)
class Parsed:
    """What a receiver read from a frame it accepted, in one shape for both sides."""

    account: str | None
    seq: str | None
    code: str | None
    zone: str
    message: str  # zone + "^text^": pysiaalarm keeps them as one string
    partition: str | None
    x_data: str
    timestamp: datetime | None
    events: int = 1


@dataclass(frozen=True)
class Outcome:
    """``reply`` is ACK, NAK, DUH, RSP, none (no reply) or crash (an uncaught exception)."""

    reply: str
    parsed: Parsed | None = None
    raw_reply: bytes | None = field(default=None, compare=False)
    error: str | None = field(default=None, compare=False)

    @property
    def accepted(self) -> bool:
        return self.reply == "ACK"


def ours(raw: bytes, key: bytes | None, now: datetime) -> Outcome:
    try:
        frame = decode_frame(raw)
        if frame.encrypted:
            assert key is not None
            frame = decrypt_frame(frame, key)
            check_timestamp(frame, now)
        x_data = "][".join(frame.ext)
        if frame.token == "NULL":
            parsed = Parsed(frame.account, frame.seq, "RP", "", "", None, x_data, frame.timestamp)
        elif frame.token == "ADM-CID":
            cid = decode_contact_id(frame.data)
            code = PYSIA_ADM_MAPPING.get(cid.event, {}).get(cid.qualifier)
            parsed = Parsed(
                frame.account,
                frame.seq,
                code,
                cid.zone.lstrip("0"),
                "",
                cid.partition,
                x_data,
                frame.timestamp,
            )
        else:
            message = decode_sia_dcs(frame.data)
            first = message.events[0]
            text = "" if first.text is None else f"^{first.text}^"
            parsed = Parsed(
                frame.account,
                frame.seq,
                first.code,
                first.zone.lstrip("0"),
                first.zone + text,
                first.modifiers.get("ri"),
                x_data,
                frame.timestamp,
                events=len(message.events),
            )
    except DecodeError as err:
        return Outcome(reply=str(err.reply).upper(), error=str(err))
    return Outcome(reply="ACK", parsed=parsed, raw_reply=encode_ack(frame, now=now, key=key))


@contextmanager
def _quiet() -> Iterator[None]:
    # pysiaalarm reads its JSON tables through pkg_resources on every event and never closes
    # the file (ResourceWarning, an error under the suite's -W error).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def pysia_account(account: str, key: bytes | None) -> SIAAccount:
    ascii_key = key is not None and key.isascii() and key.decode("ascii").isprintable()
    with _quiet():
        entry = SIAAccount(account, key.decode("ascii") if key and ascii_key else None)
    if key is not None and not ascii_key:
        entry.key_b = key  # a hex-configured key; see the module docstring
    return entry


def theirs(raw: bytes, accounts: list[SIAAccount]) -> Outcome:
    server = BaseSIAServer({entry.account_id: entry for entry in accounts}, Counter())
    with _quiet():
        try:
            result = server.parse_and_check_event(raw)
            if isinstance(result, NAKEvent):
                return Outcome(reply="NAK")
            assert isinstance(result, SIAEvent)
            response = result.response
            reply = result.create_response()
        except Exception as err:  # noqa: BLE001 - an uncaught exception is what we record
            return Outcome(reply="crash", error=repr(err))
    if response is None:
        return Outcome(reply="none", raw_reply=reply)
    if response is not ResponseType.ACK:
        return Outcome(reply=response.value, raw_reply=reply)
    message = result.message or ""
    zone = message[: len(message) - len(message.lstrip(string.digits))]
    if result.message_type is MessageTypes.ADMCID:
        zone, message = result.ri or "", ""
    parsed = Parsed(
        result.account,
        result.sequence,
        result.code,
        zone.lstrip("0"),
        message,
        None if result.message_type is MessageTypes.NULL else (result.partition or result.ri),
        result.x_data or "",
        result.timestamp if isinstance(result.timestamp, datetime) else None,
    )
    return Outcome(reply="ACK", parsed=parsed, raw_reply=reply)


# --- Frames --------------------------------------------------------------------------------

HEX = "0123456789ABCDEF"
_SAFE = "".join(c for c in string.printable if c not in "^[]" and c.isprintable())
_NON_ASCII = "äöüéøß€Ωж"
_TEXT = st.text(st.sampled_from(_SAFE), max_size=10) | st.text(
    st.sampled_from(_SAFE) | st.sampled_from(_NON_ASCII), max_size=10
)
_EXT_BLOCKS = st.sampled_from(
    ["X006E07.7777777", "Y49N06.6666666", "M0026B9E4268B", "V0001", "RLivingRoom",
     "Iuser@example.com", "", "Küche", "KAAAAAAAAAAAAAAAA"]
) | st.builds(
    lambda ident, rest: ident + rest,
    st.sampled_from("ACHIJLMNPORSTVXYZ"),
    st.text(st.sampled_from(_SAFE), max_size=8),
)  # fmt: skip
_KNOWN_CODES = sorted(PYSIA_SIA_CODES)
_CODES = st.sampled_from(_KNOWN_CODES) | st.text(string.ascii_uppercase, min_size=2, max_size=2)
_MODIFIERS = st.sampled_from(["ti", "id", "ri", "pi"])
_CID_EVENTS = [*sorted(PYSIA_ADM_MAPPING), "999", "627", "1B0"]
_PYSIA_MODIFIER_ORDER = ("ti", "id", "ri")
_PAD_BYTES = [b for b in range(256) if b not in b"|[]\r\n"]
_DATA_PREFIX = {"#": "#{account}|", "|": "|", "": ""}


@dataclass(frozen=True)
class Case:
    token: str
    seq: str
    account: str
    receiver: str | None
    prefix: str | None
    data: str
    first_modifiers: tuple[str, ...]  # SIA: the modifier names before the first event, in order
    first_code: str | None
    events: int
    new_event: bool
    cid: tuple[str, str] | None  # ADM-CID: (qualifier, event)
    ext: tuple[str, ...]
    when: str  # "none", "near" or "far"
    offset: int  # seconds from now
    key: bytes | None
    pad: bytes

    def frame(self, now: datetime) -> bytes:
        return encode_frame(
            token=self.token,
            seq=self.seq,
            account=self.account,
            data=self.data,
            receiver=self.receiver,
            prefix=self.prefix,
            ext=self.ext,
            timestamp=None if self.when == "none" else now + timedelta(seconds=self.offset),
            key=self.key,
            pad=self.pad,
        )

    @property
    def stale_encrypted(self) -> bool:
        """Encrypted and outside the replay window: both sides must reject it."""
        return self.key is not None and self.when == "far"


def _modifier_value(name: str) -> st.SearchStrategy[str]:
    if name == "ti":
        return st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.integers(0, 59))
    return st.text(string.digits, min_size=1, max_size=3)


@st.composite
def sia_events(draw: st.DrawFn) -> tuple[list[SiaEvent], tuple[str, ...]]:
    in_force: dict[str, str] = {}
    events: list[SiaEvent] = []
    first_names: tuple[str, ...] = ()
    for index in range(draw(st.integers(1, 3) if draw(st.integers(0, 3)) == 0 else st.just(1))):
        names = draw(st.lists(_MODIFIERS, unique=True, max_size=3 if index == 0 else 1))
        if index == 0 and draw(st.integers(0, 3)):
            # Mostly the order pysiaalarm reads; the rest exercises any order.
            names = [name for name in _PYSIA_MODIFIER_ORDER if name in names]
        for name in names:
            in_force[name] = draw(_modifier_value(name))
        if index == 0:
            first_names = tuple(in_force)
        text = draw(st.none() | _TEXT)
        zone = draw(st.text(string.digits, max_size=4))
        events.append(SiaEvent(code=draw(_CODES), zone=zone, modifiers=in_force, text=text))
    return events, first_names


@st.composite
def cases(draw: st.DrawFn) -> Case:
    token = draw(st.sampled_from(["SIA-DCS", "SIA-DCS", "ADM-CID", "NULL"]))
    account = draw(st.text(HEX, min_size=3, max_size=16))
    if draw(st.integers(0, 9)) == 0:
        account = account.lower()
    prefix_form = draw(st.sampled_from(["#", "#", "|", ""]))
    first_modifiers: tuple[str, ...] = ()
    first_code = None
    cid = None
    events = 1
    new_event = True
    if token == "SIA-DCS":
        sia, first_modifiers = draw(sia_events())
        new_event = draw(st.integers(0, 9)) != 0
        block = encode_sia_dcs(SiaMessage(account=None, new_event=new_event, events=tuple(sia)))
        data = _DATA_PREFIX[prefix_form].format(account=account) + block
        first_code, events = sia[0].code, len(sia)
    elif token == "ADM-CID":
        qualifier = draw(st.sampled_from("136"))
        cid_event = draw(st.sampled_from(_CID_EVENTS))
        digits = st.sampled_from(string.digits) | st.sampled_from("ABCDEF")
        if draw(st.integers(0, 7)) != 0:
            digits = st.sampled_from(string.digits)
        partition = draw(st.text(digits, min_size=2, max_size=2))
        zone = draw(st.text(digits, min_size=3, max_size=3))
        data = _DATA_PREFIX[prefix_form].format(account=account)
        data += f"{qualifier}{cid_event} {partition} {zone}"
        cid = (qualifier, cid_event + partition + zone)
    else:
        data = ""
    key = None
    if draw(st.integers(0, 2)) == 0:
        size = draw(st.sampled_from([16, 24, 32]))
        key = draw(
            st.text(
                st.sampled_from(string.ascii_letters + string.digits), min_size=size, max_size=size
            ).map(str.encode)
            | st.binary(min_size=size, max_size=size)
        )
    when = draw(st.sampled_from(["near", "near", "far"] if key else ["none", "near", "far"]))
    if when == "far":
        offset = draw(st.integers(3600, 20 * 365 * 86400)) * draw(st.sampled_from([-1, 1]))
    else:
        offset = draw(st.integers(-30, 10))
    return Case(
        token=token,
        seq=f"{draw(st.integers(0, 9999)):04d}",
        account=account,
        receiver=draw(st.none() | st.text(HEX, min_size=1, max_size=6)),
        prefix=draw(st.text(HEX, min_size=1, max_size=6)) if draw(st.integers(0, 7)) else None,
        data=data,
        first_modifiers=first_modifiers,
        first_code=first_code,
        events=events,
        new_event=new_event,
        cid=cid,
        ext=tuple(draw(st.lists(_EXT_BLOCKS, max_size=3) if draw(st.booleans()) else st.just([]))),
        when=when,
        offset=offset,
        key=key,
        pad=bytes(draw(st.lists(st.sampled_from(_PAD_BYTES), min_size=1, max_size=4))),
    )


# --- The known disagreements ---------------------------------------------------------------

NO_L = "pysiaalarm NAKs a frame without an L field"
LOWER_ACCOUNT = "pysiaalarm NAKs an account written in lower-case hex"
LOCAL_TIME = "pysiaalarm NAKs an unencrypted frame with a skewed timestamp"
NON_ASCII = "pysiaalarm drops non-ASCII bytes (no reply, or mangled text)"
OLD_FLAG = "pysiaalarm misreads the O (old event) flag"
MODIFIERS = "pysiaalarm misreads modifiers other than ti/id/ri in that order"
UNKNOWN_CODE = "pysiaalarm DUHs a SIA code outside its table"
MULTI_EVENT = "pysiaalarm keeps only the first of several events"
HEX_CID = "pysiaalarm NAKs Contact ID hex digits (A-F)"
UNMAPPED_CID = "pysiaalarm DUHs a Contact ID event outside its CID->SIA table"
ADM_EXT = "pysiaalarm NAKs an ADM-CID frame with several or empty extended blocks"
K_BLOCK = "pysiaalarm answers RSP, not ACK, to a [K...] block"
EMPTY_EXT = "pysiaalarm crashes on an empty extended block among several"


def known_disagreements(case: Case) -> set[str]:
    """The documented classes a generated frame falls into (empty: the sides must agree).

    Encrypted frames outside the replay window are rejected by both sides, so most classes
    only show on frames we accept ("fresh").
    """
    fresh = not case.stale_encrypted
    classes = set()
    if fresh and case.prefix is None:
        classes.add(NO_L)
    if fresh and case.account != case.account.upper():
        classes.add(LOWER_ACCOUNT)
    if case.key is None and case.when == "far":
        classes.add(LOCAL_TIME)
    if fresh and not (case.data + "".join(case.ext)).isascii():
        classes.add(NON_ASCII)
    if fresh and case.token == "SIA-DCS":
        names = case.first_modifiers
        if not case.new_event:
            classes.add(OLD_FLAG)
        elif list(names) != [n for n in _PYSIA_MODIFIER_ORDER if n in names]:
            classes.add(MODIFIERS)
        elif case.first_code not in PYSIA_SIA_CODES:
            classes.add(UNKNOWN_CODE)
        if case.events > 1:
            classes.add(MULTI_EVENT)
    if fresh and case.cid is not None:
        qualifier, digits = case.cid
        if not digits.isdigit():
            classes.add(HEX_CID)
        elif qualifier not in PYSIA_ADM_MAPPING.get(digits[:3], {}):
            classes.add(UNMAPPED_CID)
        if len(case.ext) > 1 or case.ext == ("",):
            classes.add(ADM_EXT)
    if fresh and any(block.startswith("K") for block in case.ext):
        classes.add(K_BLOCK)
    readable = case.prefix is not None and not (case.key and case.account != case.account.upper())
    if case.token != "ADM-CID" and len(case.ext) > 1 and "" in case.ext and readable:
        classes.add(EMPTY_EXT)
    return classes


def _run(case: Case) -> tuple[Outcome, Outcome, bytes]:
    now = datetime.now(UTC).replace(microsecond=0)
    raw = case.frame(now)
    note(f"frame: {raw!r}")
    mine = ours(raw, case.key, now)
    other = theirs(raw, [pysia_account(case.account, case.key)])
    note(f"ours: {mine}")
    note(f"pysiaalarm: {other}")
    return mine, other, raw


def _agree(mine: Outcome, other: Outcome) -> bool:
    # Rejections agree whatever the reply (pysiaalarm checks the code before the timestamp,
    # so a stale encrypted frame with an unknown code gets DUH there and NAK here); a crash
    # is never agreement.
    if other.reply == "crash":
        return False
    return mine.accepted == other.accepted and mine.parsed == other.parsed


@DIFF
@given(cases())
def test_both_agree_outside_the_known_disagreements(case: Case) -> None:
    assume(not known_disagreements(case))
    mine, other, _ = _run(case)
    assert _agree(mine, other)
    event(f"{case.token} {'encrypted' if case.key else 'plain'} {mine.reply}")
    if not mine.accepted:
        assert case.stale_encrypted
        return
    assert mine.raw_reply is not None
    assert other.raw_reply is not None
    if case.key is None:
        if case.receiver is None:
            # test_pysiaalarm_writes_none_into_the_ack_without_an_r_field_we_are_right
            assert b"None" in other.raw_reply
        else:
            assert other.raw_reply == mine.raw_reply
    elif case.receiver is not None:
        # Its encrypted ACK (zero-filled pad without '|') decrypts with our codec and echoes
        # the same header as ours.
        ack = decrypt_frame(decode_reply(other.raw_reply[1:-1]), case.key)
        expected = decode_reply(mine.raw_reply[1:-1])
        assert (ack.token, ack.seq, ack.receiver, ack.prefix, ack.account) == (
            expected.token,
            expected.seq,
            expected.receiver,
            expected.prefix,
            expected.account,
        )
        assert ack.timestamp is not None


# Most generated frames fall in no known disagreement or in several: the test keeps the
# others, so it filters by design, and how much depends on the draw (seen failing the health
# check with 9 kept of 59).
@settings(DIFF, suppress_health_check=[HealthCheck.filter_too_much])
@given(cases())
def test_each_known_disagreement_really_disagrees(case: Case) -> None:
    classes = known_disagreements(case)
    assume(len(classes) == 1)
    (name,) = classes
    event(name)
    mine, other, _ = _run(case)
    assert not _agree(mine, other), f"{name!r} predicted, but both sides agree"


# --- One test per class, each with a concrete frame ----------------------------------------


def _now() -> datetime:
    """The wall clock when a frame is built: both receivers check encrypted timestamps."""
    return datetime.now(UTC).replace(microsecond=0)


def _both(raw: bytes, account: str = "1234", key: bytes | None = None) -> tuple[Outcome, Outcome]:
    now = datetime.now(UTC).replace(microsecond=0)
    return ours(raw, key, now), theirs(raw, [pysia_account(account, key)])


def _sia(data: str, **kwargs: object) -> bytes:
    fields: dict[str, object] = {"seq": "0001", "account": "1234", "prefix": "0", **kwargs}
    return encode_frame(token="SIA-DCS", data=data, **fields)  # type: ignore[arg-type]


def test_pysiaalarm_naks_frames_without_an_l_field_we_are_right() -> None:
    """No L field: pysiaalarm's header regex requires ``L`` and NAKs; we ACK.

    Ours is right: the corpus vector ``gen-no-L`` (dc09_spt omits L) is a valid message owed
    an ACK, and DESIGN.md's ACK echoes the fields the message had — "no missing R/L when the
    message had them" implies messages that do not. A NAK is for the replay window only.
    """
    raw = _sia("#1234|Nri1/BA05", prefix=None, receiver="1")
    assert raw.endswith(b'"SIA-DCS"0001R1#1234[#1234|Nri1/BA05]\r')
    mine, other = _both(raw)
    assert mine.reply == "ACK"
    assert mine.raw_reply is not None
    assert mine.raw_reply.endswith(b'"ACK"0001R1#1234[]\r')
    assert other.reply == "NAK"


def test_pysiaalarm_naks_accounts_in_lower_case_hex_we_are_right() -> None:
    """Account ``abc123``: pysiaalarm's client keys accounts by the upper-cased id, so the frame's
    account is "unknown" and gets NAK (and an ADM-CID body with it does not even parse); we ACK.

    Ours is right: the account is hex (corpus README: `#acct` hex, "Accept lower-case hex"),
    and DESIGN.md stores and raises even an unregistered transmitter rather than refusing it;
    a NAK makes the panel retry, then give up, and the event is lost. (This is the codec's
    reading. The receiver's account lookup is an exact match, so a frame from ``abcd`` does
    not find an account registered as ``ABCD``; see docs/fuzzing.md.)
    """
    raw = _sia("#abc123|Nri1/BA05", account="abc123")
    mine, other = _both(raw, account="abc123")
    assert mine.reply == "ACK"
    assert mine.parsed is not None
    assert mine.parsed.account == "abc123"
    assert other.reply == "NAK"
    adm = encode_frame(token="ADM-CID", seq="0002", account="abc", data="#abc|1130 01 005")
    mine, other = _both(adm, account="abc")
    assert (mine.reply, other.reply) == ("ACK", "NAK")


def test_pysiaalarm_naks_local_time_panels_we_are_right() -> None:
    """An unencrypted frame whose timestamp is an hour ahead (a panel sending local time, as the
    Trikdis E16 of corpus vector ``gh-pys52-trikdis-null`` does): pysiaalarm NAKs it; we ACK.

    Ours is right: DESIGN.md, "Unencrypted messages with a skewed timestamp (panels that send
    local time) are accepted and the skew is recorded on the device — never silently
    dropped"; the corpus lists "NAKing unencrypted messages from panels that send local time"
    among the known receiver bugs.
    """
    raw = _sia("#1234|Nri1/BA05", timestamp=_now() + timedelta(hours=1))
    mine, other = _both(raw)
    assert mine.reply == "ACK"
    assert other.reply == "NAK"


def test_pysiaalarm_drops_non_ascii_bytes_so_the_crc_fails_we_are_right() -> None:
    """``^Küche^``: pysiaalarm decodes each read as ASCII ignoring errors, computes the CRC over
    what is left, finds a mismatch and answers a bare ``LF CR`` (no reply); inside an encrypted
    block it drops the bytes from the text instead. We ACK and keep the text.

    Ours is right: the corpus README defines the CRC and length over the *bytes* from the first
    '"' to CR, and these bytes are intact. pysiaalarm's panel retransmits a good frame until it
    gives up, and the event is lost.
    """
    raw = _sia("#1234|Nri1/BA05^Küche^")
    mine, other = _both(raw)
    assert mine.reply == "ACK"
    assert mine.parsed is not None
    assert mine.parsed.message == "05^Küche^"
    assert other.reply == "none"
    assert other.raw_reply == b"\n\r"
    key = b"0123456789abcdef"
    enc = _sia("#1234|Nri1/BA05^Küche^", timestamp=_now(), key=key, pad=b"x")
    mine, other = _both(enc, key=key)
    assert mine.reply == other.reply == "ACK"
    assert mine.parsed is not None
    assert other.parsed is not None
    assert (mine.parsed.message, other.parsed.message) == ("05^Küche^", "05^Kche^")


def test_pysiaalarm_misreads_the_old_event_flag_we_are_right() -> None:
    """``O`` (old, previously sent event) instead of ``N``: pysiaalarm's regex knows only ``N``,
    so ``OBA05`` reads as code ``OB`` (a real SIA code, ACKed as the wrong event) and
    ``Ori1/BA05`` as code ``Or`` (DUH). We decode event BA in zone 05, not new.

    Ours is right by SIA DCS's N/O flag as ``sia_dcs.py`` documents it; the corpus README
    shows only ``N`` and holds no ``O`` frame, so this class rests on our codec's contract.
    """
    mine, other = _both(_sia("#1234|OBA05"))
    assert mine.parsed is not None
    assert other.parsed is not None
    assert (mine.parsed.code, other.parsed.code) == ("BA", "OB")
    mine, other = _both(_sia("#1234|Ori1/BA05"))
    assert (mine.reply, other.reply) == ("ACK", "DUH")


def test_pysiaalarm_rejects_modifiers_in_other_orders_or_unknown_ones_we_are_right() -> None:
    """``Nri1/id5/BA05`` and SATEL's ``Npi0/AT``: pysiaalarm's regex reads only ``ti``, ``id``,
    ``ri`` in that order, so it takes ``id`` or ``pi`` for the event code and DUHs. We ACK
    event BA (area 1, user 5) and AT.

    Ours is right: the corpus README says modifiers (``ri``, ``id``, ``ti``, ``pi`` …) come
    "in any order"; vectors ``gh-pys87-satel-pi`` (a real panel) and ``gen-sia-multi-order``
    are owed an ACK.
    """
    mine, other = _both(_sia("#1234|Nri1/id5/BA05"))
    assert mine.parsed is not None
    assert (mine.reply, mine.parsed.code, mine.parsed.partition) == ("ACK", "BA", "1")
    assert other.reply == "DUH"
    mine, other = _both(_sia("#0000|Npi0/AT", account="ABCD"), account="ABCD")
    assert (mine.reply, other.reply) == ("ACK", "DUH")


def test_pysiaalarm_duhs_sia_codes_outside_its_table_we_are_right() -> None:
    """``ZX`` is in no code table: pysiaalarm answers DUH; we ACK.

    Ours is right: DESIGN.md, "A valid event whose code has no mapping in the taxonomy is
    stored and raised as an 'unclassified signal' alarm"; the corpus lists "answering unknown
    codes with DUH so the event is lost" among the known receiver bugs.
    """
    mine, other = _both(_sia("#1234|Nri1/ZX05"))
    assert mine.parsed is not None
    assert (mine.reply, mine.parsed.code) == ("ACK", "ZX")
    assert other.reply == "DUH"


def test_pysiaalarm_keeps_only_the_first_of_several_events_we_are_right() -> None:
    """``Nri1/BA05/BR05``: pysiaalarm ACKs with code BA and message ``05/BR05`` — the restore
    is acknowledged to the panel but never delivered. We decode two events.

    Ours is right: the corpus README describes SIA-DCS data as "``/``-separated events like
    ``BA01``" after modifiers in force, and the panel will not resend an ACKed frame.
    """
    mine, other = _both(_sia("#1234|Nri1/BA05/BR05"))
    assert mine.parsed is not None
    assert other.parsed is not None
    assert (mine.parsed.events, mine.parsed.code, mine.parsed.zone) == (2, "BA", "5")
    assert (other.reply, other.parsed.code, other.parsed.message) == ("ACK", "BA", "05/BR05")


def test_pysiaalarm_naks_contact_id_hex_digits_we_are_right() -> None:
    """``1130 0A 00B``: pysiaalarm's ADM-CID regex takes decimal digits only and NAKs; we ACK
    zone ``00B``.

    Ours is right: corpus vector ``gen-adm-hexzone`` (``1130 0A 0FF``, "CID allows B-F") is
    owed an ACK. Even if the digits were wrong a NAK would be: DESIGN.md reserves NAK for the
    replay window, and a body that cannot be processed gets DUH.
    """
    raw = encode_frame(token="ADM-CID", seq="0003", account="1234", data="#1234|1130 0A 00B")
    mine, other = _both(raw)
    assert mine.parsed is not None
    assert (mine.reply, mine.parsed.zone) == ("ACK", "B")
    assert other.reply == "NAK"


def test_pysiaalarm_duhs_contact_id_events_outside_its_table_we_are_right() -> None:
    """``1999 01 001`` (event 999) and ``6130 01 005`` (qualifier 6, "still present"):
    pysiaalarm's CID->SIA table has no entry, so the code is None and it DUHs; we ACK.

    Ours is right: DESIGN.md raises unknown codes as unclassified signals, never DUH; corpus
    vector ``gen-adm-unknown-event`` allows ACK, and qualifier 6 is one of the three
    qualifiers the corpus README defines (vector ``gen-adm-6302`` is owed an ACK).
    """
    for data in ("#1234|1999 01 001", "#1234|6130 01 005"):
        raw = encode_frame(token="ADM-CID", seq="0004", account="1234", data=data)
        mine, other = _both(raw)
        assert (mine.reply, other.reply) == ("ACK", "DUH")


def test_pysiaalarm_naks_adm_cid_with_several_extended_blocks_we_are_right() -> None:
    """``…|3450 01 033][RLivingRoom][Iuser@example.com]``: pysiaalarm's ADM-CID regex allows one
    non-empty extended block and NAKs; we ACK and keep both blocks.

    Ours is right: the corpus README says extended blocks ``[X…][Y…][M…]…`` may follow, and
    its vector ``gh-pys58-dahua-xdata`` is such a frame from a Dahua panel.
    """
    raw = encode_frame(
        token="ADM-CID",
        seq="0006",
        account="ABC",
        data="#ABC|3450 01 033",
        ext=("RLivingRoom", "Iuser@example.com"),
    )
    mine, other = _both(raw, account="ABC")
    assert mine.parsed is not None
    assert (mine.reply, mine.parsed.x_data) == ("ACK", "RLivingRoom][Iuser@example.com")
    assert other.reply == "NAK"


def test_pysiaalarm_answers_rsp_to_a_k_block_and_drops_the_event_unsettled() -> None:
    """``[KAAAAAAAAAAAAAAAA]`` (corpus vector ``pys-xdata-K``): pysiaalarm answers ``RSP`` and,
    since only ACKed events reach its callback, drops the event; we ACK and store it.

    Not settled by our sources: DESIGN.md defines ACK, NAK and DUH only and the standard's text
    is not public, so whether a ``[K…]`` block is owed an RSP is open. Ours loses nothing;
    pysiaalarm's RSP also sends its configured key back in a ``[K…]`` block when it has one.
    """
    mine, other = _both(
        _sia("#1111|Nri1/RP000", account="1111", ext=("KAAAAAAAAAAAAAAAA",)), "1111"
    )
    assert mine.reply == "ACK"
    assert other.reply == "RSP"


def test_pysiaalarm_crashes_on_an_empty_extended_block_we_are_right() -> None:
    """``[X1][]``: pysiaalarm splits ``x_data`` on ``][`` and indexes ``x_data[0]`` of the empty
    piece: an uncaught IndexError out of ``parse_and_check_event`` (its TCP handler dies with
    the connection open, no reply). We ACK and keep the blocks.

    Ours is right: the corpus lists crashing the connection on bad input among the known
    receiver bugs, and STYLE.md requires decoders to raise only ``DecodeError``.
    """
    mine, other = _both(_sia("#1234|Nri1/BA05", ext=("X1", "")))
    assert mine.parsed is not None
    assert (mine.reply, mine.parsed.x_data) == ("ACK", "X1][")
    assert other.reply == "crash"
    assert other.error is not None
    assert other.error.startswith("IndexError")


def test_pysiaalarm_writes_none_into_the_ack_without_an_r_field_we_are_right() -> None:
    """No R field: both accept, but pysiaalarm's ACK reads ``"ACK"0001NoneL0#1234[]``.

    Ours is right: DESIGN.md, the ACK echoes the message's fields, "no ``None``"; the corpus
    lists "writing ``None`` into an ACK when the panel sent no R field" among the known bugs.
    """
    mine, other = _both(_sia("#1234|Nri1/BA05"))
    assert mine.raw_reply is not None
    assert other.raw_reply is not None
    assert mine.raw_reply.endswith(b'"ACK"0001L0#1234[]\r')
    assert other.raw_reply.endswith(b'"ACK"0001NoneL0#1234[]\r')


# --- Classes our encoder cannot produce: mutated frames from the corpus's known bugs -------


def _reframe(body: bytes, *, crc: str | None = None, length: str | None = None) -> bytes:
    return b"\n%s%s%s\r" % (
        (crc or f"{crc16_arc(body):04X}").encode(),
        (length or f"{len(body):04X}").encode(),
        body,
    )


def test_pysiaalarm_ignores_the_length_field_we_are_right() -> None:
    """A length field one too large (corpus vector ``gen-bad-length``): pysiaalarm never checks it
    and ACKs; we send nothing.

    Ours is right: DESIGN.md, "Bad CRC or length: no reply (the panel retransmits)".
    """
    body = b'"SIA-DCS"0020L0#1234[#1234|Nri1/BA05]'
    raw = _reframe(body, length=f"{len(body) + 1:04X}")
    mine, other = _both(raw)
    assert (mine.reply, other.reply) == ("NONE", "ACK")


def test_pysiaalarm_compares_the_crc_case_sensitively_we_are_right() -> None:
    """CRC written in lower-case hex: pysiaalarm compares strings against its upper-case CRC and
    answers nothing; we ACK.

    Ours is right: the corpus README, "Accept lower-case hex" (vector ``gen-lowercase-hex``),
    and it lists "case-sensitive CRC compare" among the known receiver bugs.
    """
    body = b'"SIA-DCS"0020L0#1234[#1234|Nri1/BA05]'
    raw = _reframe(body, crc=f"{crc16_arc(body):04x}")
    assert any(c in b"abcdef" for c in raw[1:5])
    mine, other = _both(raw)
    assert (mine.reply, other.reply) == ("ACK", "none")


def test_pysiaalarm_crashes_on_non_hex_ciphertext_we_are_right() -> None:
    """``*SIA-DCS`` whose block is not hex (corpus vector ``gen-enc-not-hex``): pysiaalarm's
    ``bytes.fromhex`` raises an uncaught ValueError; we answer DUH.

    Ours is right: DESIGN.md, DUH for an encrypted message "that does not decrypt"; the corpus
    lists "crashing the connection on non-hex ciphertext" among the known receiver bugs.
    """
    key = b"0123456789ABCDEF"
    raw = _reframe(b'"*SIA-DCS"0033L0#1234[' + b"Z" * 32)
    mine, other = _both(raw, key=key)
    assert (mine.reply, other.reply) == ("DUH", "crash")
    assert other.error is not None
    assert other.error.startswith("ValueError")


def test_pysiaalarm_answers_neither_of_two_frames_in_one_read_we_are_right() -> None:
    """Two frames in one TCP read: pysiaalarm's server parses each read as one frame, the second
    frame breaks its body regex, and it answers one NAK for both. We frame by LF … CR and ACK
    each.

    Ours is right: DESIGN.md, "several frames in one TCP segment … must work" (vector
    ``gen-two-frames-one-read``); the corpus lists "parsing each socket read as one frame" among the known receiver bugs.
    """
    first, second = _sia("#1234|Nri1/BA05"), _sia("#1234|Nri1/BR05", seq="0002")
    frames = FrameSplitter().feed(first + second)
    assert [ours(frame, None, _now()).reply for frame in frames] == ["ACK", "ACK"]
    other = theirs(first + second, [pysia_account("1234", None)])
    assert other.reply == "NAK"


def test_pysiaalarm_accepts_plain_frames_for_a_keyed_account_and_echoes_its_key() -> None:
    """An unencrypted frame from an account configured with a key, carrying an extended block:
    pysiaalarm ACKs it, and its ACK carries ``[K<the account's key>]`` in clear text. We DUH.

    Ours is right: DESIGN.md, "An account with a key accepts only encrypted messages (an
    unencrypted one gets DUH)". pysiaalarm's check ``[...] is not None`` is always true, so
    any known extended block makes it disclose the key to whoever sent the plain frame.
    """
    key = b"0123456789ABCDEF"
    raw = _sia("#1234|Nri1/BA05", ext=("X006E07.7777777",))
    other = theirs(raw, [pysia_account("1234", key)])
    assert other.reply == "ACK"
    assert other.raw_reply is not None
    assert b"[K0123456789ABCDEF]" in other.raw_reply
    # Ours: the receiver refuses plain text from a keyed account before decoding the body
    # (Dc09Receiver.handle_frame -> FormatError -> DUH); the codec itself reads it fine.
    assert decode_frame(raw).encrypted is False
