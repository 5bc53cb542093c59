"""Longer fuzzing campaigns against the DC-09 codecs and the receiver's frame handling.

Usage (from the project root)::

    .venv/bin/python scripts/fuzz_dc09.py                  # 60 s, built-in mutational fuzzer
    .venv/bin/python scripts/fuzz_dc09.py --seconds 3600   # a longer campaign
    .venv/bin/python scripts/fuzz_dc09.py --atheris --seconds 600   # coverage-guided (libFuzzer)
    .venv/bin/python scripts/fuzz_dc09.py --replay var/fuzz/crashes/decode_frame-0123abcd.bin

Targets: ``decode_frame``, ``decode_reply``, ``decrypt_frame`` (frames encrypted with a known
key around mutated plaintext, and arbitrary blocks), ``decode_contact_id``,
``decode_sia_dcs``, ``FrameSplitter.feed`` (with checks of its output), and
``Dc09Receiver.handle_frame`` (whose reply must be None or a frame ``decode_reply`` reads).
Any exception other than ``DecodeError`` is a finding: the input is written to
``var/fuzz/crashes/<target>-<sha1>.bin`` with the traceback beside it (``.txt``).

The default fuzzer mutates seeds (the corpus vectors in ``tests/data/dc09/vectors.jsonl`` and
frames from ``encode_frame``), and half the time rewrites the CRC and length so that the
mutation reaches the header, body and crypto code instead of stopping at the checksum. See
docs/fuzzing.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import importlib
import json
import logging
import random
import sys
import time
import traceback
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VECTORS = ROOT / "tests" / "data" / "dc09" / "vectors.jsonl"
DEFAULT_OUT = ROOT / "var" / "fuzz"
KEY = b"0123456789ABCDEF"  # AES-128: the key of account 5EC, the receiver's keyed account
KEYED_ACCOUNT = "5EC"
NOW = datetime(2026, 1, 15, 3, 0, tzinfo=UTC)
MAX_FRAME = 256  # small, so that the splitter's oversize path is reached often
TARGETS = (
    "decode_frame",
    "decode_reply",
    "decrypt_frame",
    "decode_contact_id",
    "decode_sia_dcs",
    "splitter",
    "handle_frame",
)

# Bytes and tokens that matter to the DC-09 grammar, for insertions.
_DICTIONARY = [
    b'"', b"*", b"SIA-DCS", b"ADM-CID", b"NULL", b"ACK", b"NAK", b"DUH", b"R", b"L", b"#",
    b"A0", b"[", b"]", b"|", b"^", b"/", b"_", b"\n", b"\r", b"N", b"O", b"ri", b"id", b"ti",
    b"pi", b"BA", b"12:34:56,01-15-2026", b"1130 01 005", b"\x00", b"\xff", b"\xc3\xa9",
    b"0000", b"FFFF",
]  # fmt: skip


# --- The targets -----------------------------------------------------------------------------


class _FixedClock:
    def now(self) -> datetime:
        return NOW

    def monotonic(self) -> float:
        return 0.0


@dataclass
class _Harness:
    """The code under test, imported once (under atheris's instrumentation when it runs)."""

    dc09: ModuleType
    contact_id: ModuleType
    sia_dcs: ModuleType
    errors: ModuleType
    receiver: Any
    loop: asyncio.AbstractEventLoop
    decode_error: type[Exception] = field(init=False)

    def __post_init__(self) -> None:
        self.decode_error = self.errors.DecodeError

    def run(self, target: str, data: bytes) -> None:
        """Run one target on one input; DecodeError is a normal outcome, anything else is not."""
        with contextlib.suppress(self.decode_error):
            getattr(self, f"_{target}")(data)

    def _decode_frame(self, data: bytes) -> None:
        frame = self.dc09.decode_frame(data)
        # What the receiver does with a frame it decoded must not fail either.
        self.dc09.encode_duh(frame)
        if not frame.encrypted:
            self.dc09.encode_ack(frame, now=NOW)

    def _decode_reply(self, data: bytes) -> None:
        self.dc09.decode_reply(data)

    def _decrypt_frame(self, data: bytes) -> None:
        frame = self.dc09.decode_frame(data)
        if frame.encrypted:
            plain = self.dc09.decrypt_frame(frame, KEY)
            self.dc09.check_timestamp(plain, NOW)
            self.dc09.encode_ack(plain, now=NOW, key=KEY, pad=b"p")

    def _decode_contact_id(self, data: bytes) -> None:
        self.contact_id.decode_contact_id(data.decode("latin-1"))

    def _decode_sia_dcs(self, data: bytes) -> None:
        self.sia_dcs.decode_sia_dcs(data.decode("latin-1"))

    def _splitter(self, data: bytes) -> None:
        # The first byte picks the cut points: the output must not depend on them.
        step = 1 + (data[0] if data else 0) % 17
        splitter = self.dc09.FrameSplitter(max_frame_size=MAX_FRAME)
        whole = self.dc09.FrameSplitter(max_frame_size=MAX_FRAME)
        for start in range(0, len(data), step):
            try:
                frames = splitter.feed(data[start : start + step])
            except self.errors.FramingError as err:
                frames = list(err.frames)
            for frame in frames:
                if not 0 < len(frame) <= MAX_FRAME or b"\n" in frame or b"\r" in frame:
                    raise AssertionError(f"splitter returned a bad frame {frame!r}")
            if splitter.pending > MAX_FRAME:
                raise AssertionError(f"splitter holds {splitter.pending} bytes")
        with contextlib.suppress(self.errors.FramingError):
            whole.feed(data)  # all at once, as one read

    def _handle_frame(self, data: bytes) -> None:
        reply = self.loop.run_until_complete(self.receiver.handle_frame(data, "fuzz:1"))
        if reply is None:
            return
        if not (reply.startswith(b"\n") and reply.endswith(b"\r")):
            raise AssertionError(f"reply is not framed: {reply!r}")
        decoded = self.dc09.decode_reply(reply[1:-1])
        if decoded.encrypted:
            self.dc09.decrypt_frame(decoded, KEY)


def _load_harness(loop: asyncio.AbstractEventLoop) -> _Harness:
    dc09 = importlib.import_module("watchfloor.codecs.dc09")
    receivers = importlib.import_module("watchfloor.receivers.dc09")

    class _NullSink:
        async def submit(self, items: Sequence[object]) -> Sequence[None]:
            return [None] * len(items)

    async def lookup(account: str) -> object:
        if account == KEYED_ACCOUNT:
            return receivers.AccountView(key=KEY)
        if account == "D15":
            return receivers.AccountView(enabled=False)
        return receivers.AccountView()  # registered: the unregistered-traffic budget stays out

    receiver = receivers.Dc09Receiver(
        sink=_NullSink(), lookup=lookup, clock=_FixedClock(), settings=receivers.Dc09Settings()
    )
    return _Harness(
        dc09=dc09,
        contact_id=importlib.import_module("watchfloor.codecs.contact_id"),
        sia_dcs=importlib.import_module("watchfloor.codecs.sia_dcs"),
        errors=importlib.import_module("watchfloor.codecs.errors"),
        receiver=receiver,
        loop=loop,
    )


# --- Seeds and mutations ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Seeds:
    frames: list[bytes]  # without LF/CR
    plaintexts: list[bytes]  # decrypted data blocks: pad|data]ext_timestamp
    bodies: list[bytes]  # ADM-CID and SIA-DCS data blocks


def _seeds(dc09: ModuleType) -> _Seeds:
    frames = []
    bodies = [b"#1234|1130 01 005", b"1130 01 005", b"|3401 01 012", b"#1234|Nri1/BA05",
              b"Nri1/id5/OP/ri2/OP", b"#0000|Npi0/AT", b"Nri0RP2^SL 18^", b"OBA05"]  # fmt: skip
    for line in VECTORS.read_text(encoding="utf-8").splitlines():
        raw = json.loads(line)["raw"].encode("latin-1")
        frames.append(raw.strip(b"\n\r"))
        data = (json.loads(line).get("expected") or {}).get("data")
        if isinstance(data, str):
            bodies.append(data.encode("utf-8"))
    stamp = f"_{NOW:%H:%M:%S,%m-%d-%Y}"
    for token, data in [("SIA-DCS", "#5EC|Nri1/BA05"), ("ADM-CID", "#5EC|1130 01 005"),
                        ("NULL", "")]:  # fmt: skip
        frames.append(
            dc09.encode_frame(
                token=token, seq="0001", account=KEYED_ACCOUNT, data=data, timestamp=NOW, key=KEY
            )[1:-1]
        )
        frames.append(dc09.encode_frame(token=token, seq="0002", account="1234", data=data)[1:-1])
    plaintexts = [
        b"pppp|#5EC|Nri1/BA05]" + stamp.encode(),
        b"pp|#5EC|1130 01 005][X006E07.77]" + stamp.encode(),
        b"ppppppppppp]" + stamp.encode(),
        b"\xff\xfe|]" + stamp.encode(),
    ]
    return _Seeds(frames=frames, plaintexts=plaintexts, bodies=bodies)


def _mutate(rng: random.Random, data: bytes, others: Sequence[bytes]) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(7)
        pos = rng.randint(0, len(out))
        if op == 0 and out:  # flip a bit
            pos = min(pos, len(out) - 1)
            out[pos] ^= 1 << rng.randrange(8)
        elif op == 1 and out:  # set a byte
            pos = min(pos, len(out) - 1)
            out[pos] = rng.choice([0, 0xFF, 0x7F, 0x80, rng.randrange(256), *b'"[]|#_\n\r'])
        elif op == 2:  # insert a grammar token
            out[pos:pos] = rng.choice(_DICTIONARY)
        elif op == 3:  # delete a range
            del out[pos : pos + rng.randint(1, 16)]
        elif op == 4:  # duplicate a range
            out[pos:pos] = out[pos : pos + rng.randint(1, 32)]
        elif op == 5 and others:  # splice with another seed
            other = rng.choice(others)
            cut = rng.randint(0, len(other))
            out = out[:pos] + bytearray(other[cut:])
        else:  # insert random bytes
            out[pos:pos] = rng.randbytes(rng.randint(1, 8))
    return bytes(out)


def _fix_checksum(dc09: ModuleType, frame: bytes) -> bytes:
    """Rewrite the CRC and length of everything from the first '"' so that the frame passes."""
    quote = frame.find(b'"')
    if quote < 0:
        return frame
    span = frame[quote:]
    return b"%04X%04X%s" % (dc09.crc16_arc(span) & 0xFFFF, len(span) & 0xFFFF, span)


def _encrypted_frame(dc09: ModuleType, rng: random.Random, plaintext: bytes) -> bytes:
    aes = importlib.import_module("watchfloor.codecs._aes")
    padded = plaintext + b"0" * (-len(plaintext) % 16)
    token = rng.choice([b"SIA-DCS", b"ADM-CID", b"NULL", b"FOO"])
    head = b'"*%s"0001L0#%s[' % (token, KEYED_ACCOUNT.encode())
    return _fix_checksum(dc09, b"00000000" + head + aes.encrypt(KEY, padded).hex().encode())


def _next_input(target: str, dc09: ModuleType, seeds: _Seeds, rng: random.Random) -> bytes:
    if target in {"decode_contact_id", "decode_sia_dcs"}:
        return _mutate(rng, rng.choice(seeds.bodies), seeds.bodies)
    if target in {"decrypt_frame", "handle_frame"} and rng.random() < 0.5:
        plain = _mutate(rng, rng.choice(seeds.plaintexts), seeds.plaintexts)
        return _encrypted_frame(dc09, rng, plain)
    if target == "splitter":
        pieces = [b"\n" + rng.choice(seeds.frames) + b"\r" for _ in range(rng.randint(1, 4))]
        return _mutate(rng, b"".join(pieces), seeds.frames)
    if rng.random() < 0.02:
        return rng.randbytes(rng.randint(0, 300))
    mutated = _mutate(rng, rng.choice(seeds.frames), seeds.frames)
    return _fix_checksum(dc09, mutated) if rng.random() < 0.5 else mutated


# --- Running ---------------------------------------------------------------------------------


@dataclass
class _Findings:
    out: Path
    seen: set[tuple[str, str, str]] = field(default_factory=set)
    saved: list[Path] = field(default_factory=list)

    def record(self, target: str, data: bytes, err: BaseException) -> None:
        where = traceback.extract_tb(err.__traceback__)[-1]
        signature = (target, type(err).__name__, f"{where.filename}:{where.lineno}")
        if signature in self.seen:
            return
        self.seen.add(signature)
        crashes = self.out / "crashes"
        crashes.mkdir(parents=True, exist_ok=True)
        path = crashes / f"{target}-{hashlib.sha1(data).hexdigest()[:12]}.bin"  # noqa: S324 - a file name, not security
        path.write_bytes(data)
        path.with_suffix(".txt").write_text(
            f"target: {target}\ninput: {data!r}\nreplay: .venv/bin/python scripts/fuzz_dc09.py"
            f" --replay {path}\n\n" + "".join(traceback.format_exception(err)),
            encoding="utf-8",
        )
        self.saved.append(path)
        _say(f"FINDING {signature[1]} in {target} at {signature[2]}: saved {path}")


def _say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _campaign(seconds: float, seed: int, out: Path) -> int:
    loop = asyncio.new_event_loop()
    try:
        harness = _load_harness(loop)
        seeds = _seeds(harness.dc09)
        rng = random.Random(seed)  # noqa: S311 - fuzzing inputs, not cryptography
        findings = _Findings(out)
        counts: Counter[str] = Counter()
        started = time.monotonic()
        deadline = started + seconds
        next_report = started + 10
        while (now := time.monotonic()) < deadline:
            for target in TARGETS:
                data = _next_input(target, harness.dc09, seeds, rng)
                counts[target] += 1
                try:
                    harness.run(target, data)
                except Exception as err:  # noqa: BLE001 - every non-DecodeError is a finding
                    findings.record(target, data, err)
            if now >= next_report:
                total = sum(counts.values())
                _say(f"{now - started:6.0f} s  {total} inputs  {total / (now - started):.0f}/s")
                next_report += 10
        elapsed = time.monotonic() - started
        total = sum(counts.values())
        _say(f"seed {seed}: {total} inputs in {elapsed:.1f} s ({total / elapsed:.0f}/s)")
        for target in TARGETS:
            _say(f"  {target:18} {counts[target]}")
        _say(f"findings: {len(findings.saved)}" + "".join(f"\n  {p}" for p in findings.saved))
        return 1 if findings.saved else 0
    finally:
        loop.close()


def _atheris(seconds: int, out: Path, extra: list[str]) -> int:
    try:
        atheris = importlib.import_module("atheris")
    except ImportError:
        _say("atheris is not installed: .venv/bin/pip install atheris (see docs/fuzzing.md)")
        return 2
    loop = asyncio.new_event_loop()
    with atheris.instrument_imports(include=["watchfloor"]):
        harness = _load_harness(loop)
    seeds = _seeds(harness.dc09)
    corpus = out / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    for index, frame in enumerate(seeds.frames):
        # The first byte picks the target; seed every target with every frame.
        for number in range(len(TARGETS)):
            (corpus / f"seed-{index:03d}-{number}").write_bytes(bytes([number]) + frame)
    for index, body in enumerate(seeds.bodies):
        for number in (TARGETS.index("decode_contact_id"), TARGETS.index("decode_sia_dcs")):
            (corpus / f"body-{index:03d}-{number}").write_bytes(bytes([number]) + body)
    crashes = out / "crashes"
    crashes.mkdir(parents=True, exist_ok=True)

    def test_one_input(data: bytes) -> None:
        if not data:
            return
        harness.run(TARGETS[data[0] % len(TARGETS)], data[1:])

    argv = [
        sys.argv[0],
        str(corpus),
        f"-max_total_time={seconds}",
        f"-artifact_prefix={crashes}/atheris-",
        "-print_final_stats=1",
        *extra,
    ]
    atheris.Setup(argv, test_one_input)
    atheris.Fuzz()  # exits the process when done
    return 0  # pragma: no cover - Fuzz() does not return


def _replay(path: Path) -> int:
    loop = asyncio.new_event_loop()
    try:
        harness = _load_harness(loop)
        data = path.read_bytes()
        if path.name.startswith("atheris-"):
            target, data = TARGETS[data[0] % len(TARGETS)], data[1:]
        else:
            target = path.name.rsplit("-", 1)[0]
        _say(f"target {target}, input {data!r}")
        harness.run(target, data)
        _say("no exception: fixed, or not reproducible")
        return 0
    finally:
        loop.close()


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run a campaign (or replay one saved input)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--seconds", type=int, default=60, help="campaign length (default 60)")
    parser.add_argument("--atheris", action="store_true", help="coverage-guided, with atheris")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: random)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="corpus and crashes dir")
    parser.add_argument("--replay", type=Path, help="run the target on one saved input")
    args, extra = parser.parse_known_args(argv)
    # The receiver logs every rejected frame; at fuzzing rates that is all the time goes on.
    logging.disable(logging.WARNING)
    if args.replay is not None:
        return _replay(args.replay)
    if args.atheris:
        return _atheris(args.seconds, args.out, extra)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    return _campaign(args.seconds, seed, args.out)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "src"))
    sys.exit(main())
