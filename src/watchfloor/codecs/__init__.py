"""Pure protocol codecs: bytes in, typed values or a DecodeError out; no I/O, no clock.

``dc09`` owns SIA DC-09 framing, CRC, header, AES and the ACK/NAK/DUH replies;
``contact_id`` and ``sia_dcs`` own the two event formats DC-09 data blocks carry;
``accounts`` owns the account rule and the parsing of configured AES keys. Every
decoder, fed arbitrary bytes, returns a value or raises a ``DecodeError`` whose ``reply``
says what the sender is owed.
"""

from watchfloor.codecs.accounts import (
    ACCOUNT_PATTERN,
    parse_account,
    parse_either_key,
    parse_key,
)
from watchfloor.codecs.contact_id import ContactIdEvent, decode_contact_id, encode_contact_id
from watchfloor.codecs.dc09 import (
    TOKENS,
    Dc09Frame,
    FrameSplitter,
    check_timestamp,
    crc16_arc,
    decode_frame,
    decode_reply,
    decrypt_frame,
    encode_ack,
    encode_duh,
    encode_frame,
    encode_nak,
    timestamp_skew,
)
from watchfloor.codecs.errors import (
    ChecksumError,
    DecodeError,
    DecryptionError,
    FormatError,
    FramingError,
    Reply,
    TimestampError,
    UnsupportedMessageError,
)
from watchfloor.codecs.sia_dcs import (
    Modifiers,
    SiaEvent,
    SiaMessage,
    decode_sia_dcs,
    encode_sia_dcs,
)

__all__ = [
    "ACCOUNT_PATTERN",
    "TOKENS",
    "ChecksumError",
    "ContactIdEvent",
    "Dc09Frame",
    "DecodeError",
    "DecryptionError",
    "FormatError",
    "FrameSplitter",
    "FramingError",
    "Modifiers",
    "Reply",
    "SiaEvent",
    "SiaMessage",
    "TimestampError",
    "UnsupportedMessageError",
    "check_timestamp",
    "crc16_arc",
    "decode_contact_id",
    "decode_frame",
    "decode_reply",
    "decode_sia_dcs",
    "decrypt_frame",
    "encode_ack",
    "encode_contact_id",
    "encode_duh",
    "encode_frame",
    "encode_nak",
    "encode_sia_dcs",
    "parse_account",
    "parse_either_key",
    "parse_key",
    "timestamp_skew",
]
