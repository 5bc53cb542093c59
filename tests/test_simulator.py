"""The DC-09 panel simulator against the real receiver, and its ``simulate`` command.

Runs go on a FakeClock: the panels' sleeps move it on at once, so the counts of a run are
exact and no test measures wall time. The command runs on the system clock, as users run it.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import pytest
import typer
from typer.testing import CliRunner

from support.clock import FakeClock
from support.panel import REPLY_TIMEOUT
from support.server import free_port
from watchfloor.app import Platform, open_platform
from watchfloor.cli import simulate
from watchfloor.codecs.accounts import parse_key
from watchfloor.codecs.contact_id import decode_contact_id
from watchfloor.codecs.dc09 import (
    Dc09Frame,
    FrameSplitter,
    decode_frame,
    encode_ack,
)
from watchfloor.codecs.sia_dcs import decode_sia_dcs
from watchfloor.config import Settings
from watchfloor.simulator import (
    DEFAULT_KEY_ASCII,
    SimulationPlan,
    SimulationProgress,
    SimulationReport,
    Sleep,
    run_simulation,
)
from watchfloor.simulator._traffic import PanelTraffic

TEST_KEY = parse_key(DEFAULT_KEY_ASCII, ascii=True)
NOW = datetime(2026, 1, 15, 3, 0, tzinfo=UTC)


def _sleep_on(clock: FakeClock) -> Sleep:
    """Sleep on the fake clock: it moves on at once, and the loop runs every other task."""

    async def sleep(seconds: float) -> None:
        clock.advance(seconds)
        await asyncio.sleep(0)

    return sleep


async def _simulate(
    plan: SimulationPlan,
    clock: FakeClock,
    *,
    sleep: Sleep | None = None,
    progress: Callable[[SimulationProgress], None] | None = None,
) -> SimulationReport:
    return await run_simulation(
        plan, clock=clock, sleep=sleep or _sleep_on(clock), progress=progress
    )


@pytest.fixture
async def platform(settings: Settings, clock: FakeClock) -> AsyncIterator[Platform]:
    """The platform on the same fake clock as the panels (encrypted timestamps must agree)."""
    async with open_platform(settings, clock=clock) as running:
        yield running


@pytest.fixture
async def live_platform(settings: Settings) -> AsyncIterator[Platform]:
    """The platform on the system clock, for the command, which runs on it."""
    async with open_platform(settings) as running:
        yield running


def _plan(platform: Platform, **fields: object) -> SimulationPlan:
    host, port = platform.dc09_address
    values: dict[str, object] = {
        "host": host,
        "port": port,
        "panels": 4,
        "rate": 20.0,
        "duration": 1.0,
        # Generous, as for every test panel: a loaded machine must not turn a slow reply
        # into a retransmission that a test counts.
        "reply_timeout": REPLY_TIMEOUT,
        "retries": 1,
        "seed": 7,
    }
    values.update(fields)
    return SimulationPlan(**values)  # type: ignore[arg-type]


def _assert_adds_up(report: SimulationReport) -> None:
    assert report.sent == (
        report.acked + report.naked + report.duh + report.unanswered + report.other
    )


def _assert_all_acked(report: SimulationReport) -> None:
    _assert_adds_up(report)
    assert report.sent > 0
    assert report.all_acked, report.summary_line()
    assert len(report.latencies) == report.acked
    assert report.p50_ms is not None
    assert report.p99_ms is not None
    assert report.max_ms is not None
    assert 0 <= report.p50_ms <= report.p99_ms <= report.max_ms
    assert report.retransmissions == 0
    assert report.connection_errors == 0


async def test_tcp_panels_get_every_message_acked(platform: Platform, clock: FakeClock) -> None:
    plan = _plan(platform)
    updates: list[SimulationProgress] = []
    report = await _simulate(plan, clock, progress=updates.append)
    _assert_all_acked(report)
    # 4 panels at 20 msg/s in total: each has a slot every 0.2 s from an offset below 0.2 s,
    # so 5 slots within the 1 s; the last message starts within the last 0.2 s.
    assert plan.interval == pytest.approx(0.2)
    assert report.sent == 4 * 5
    assert plan.duration - plan.interval <= report.elapsed < plan.duration
    assert report.rate == pytest.approx(report.sent / report.elapsed)
    assert updates
    assert updates[-1].sent == report.sent
    assert updates[-1].acked == report.acked
    assert updates[-1].failed == 0
    # The receiver stored and acknowledged each message once: no retransmission was needed.
    assert platform.receiver.counters["acked"] == report.sent


async def test_panels_use_consecutive_hex_accounts() -> None:
    plan = SimulationPlan(panels=3, account_start=0x10FE, account_digits=4)
    assert plan.accounts() == ("10FE", "10FF", "1100")
    assert SimulationPlan(panels=2, account_start=0xABC, account_digits=6).accounts() == (
        "000ABC",
        "000ABD",
    )


async def test_udp_panels_get_every_message_acked(platform: Platform, clock: FakeClock) -> None:
    report = await _simulate(_plan(platform, udp=True), clock)
    _assert_all_acked(report)
    assert report.sent == 4 * 5


async def test_encrypted_panels_with_registered_keys_get_encrypted_acks(
    platform: Platform, clock: FakeClock
) -> None:
    plan = _plan(platform, key=TEST_KEY, panels=3)
    for account in plan.accounts():
        await platform.repository.add_account(account=account, site=None, key=TEST_KEY)
    report = await _simulate(plan, clock)
    _assert_all_acked(report)
    assert platform.receiver.counters["acked"] == report.sent


async def test_encrypted_panels_over_udp_get_encrypted_acks(
    platform: Platform, clock: FakeClock
) -> None:
    plan = _plan(platform, key=TEST_KEY, panels=2, udp=True)
    for account in plan.accounts():
        await platform.repository.add_account(account=account, site=None, key=TEST_KEY)
    _assert_all_acked(await _simulate(plan, clock))


async def test_encrypted_messages_from_accounts_without_key_get_duh(
    platform: Platform, clock: FakeClock
) -> None:
    report = await _simulate(_plan(platform, key=TEST_KEY, panels=2), clock)
    _assert_adds_up(report)
    assert report.sent > 0
    assert report.duh == report.sent
    assert report.acked == 0
    assert not report.all_acked
    assert report.latencies == ()
    assert "ack latency n/a" in report.summary_line()


async def test_messages_under_another_key_than_the_registered_one_get_duh(
    platform: Platform, clock: FakeClock
) -> None:
    plan = _plan(platform, key=TEST_KEY, panels=1, rate=5.0)
    other_key = parse_key("FEDCBA9876543210", ascii=True)
    await platform.repository.add_account(account=plan.accounts()[0], site=None, key=other_key)
    report = await _simulate(plan, clock)
    _assert_adds_up(report)
    assert report.sent > 0
    assert report.duh == report.sent


@asynccontextmanager
async def _fake_receiver(
    answer: Callable[[Dc09Frame], list[bytes]],
) -> AsyncIterator[int]:
    """A misbehaving receiver over real TCP: ``answer`` says what each frame gets."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        splitter = FrameSplitter()
        try:
            while chunk := await reader.read(4096):
                for frame in splitter.feed(chunk):
                    writer.write(b"".join(answer(decode_frame(frame))))
                    await writer.drain()
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    async with server:
        yield server.sockets[0].getsockname()[1]


def _ack(frame: Dc09Frame) -> bytes:
    return encode_ack(frame, now=NOW)


async def test_frames_carry_the_time_of_the_runs_clock(clock: FakeClock) -> None:
    sent_at: list[tuple[datetime | None, datetime]] = []

    def stamped(frame: Dc09Frame) -> list[bytes]:
        sent_at.append((frame.timestamp, clock.now()))
        return [_ack(frame)]

    async with _fake_receiver(stamped) as port:
        report = await _simulate(
            SimulationPlan(port=port, panels=1, rate=4.0, duration=1.0, seed=3), clock
        )
    _assert_all_acked(report)
    assert report.sent == 4
    assert len(sent_at) == report.sent
    # DC-09 timestamps have whole seconds; the clock moved on only by the panels' sleeps.
    for stamp, now in sent_at:
        assert stamp == now.replace(microsecond=0)
    assert sent_at[-1][1] > NOW


async def test_ack_latency_and_elapsed_time_are_read_on_the_runs_clock(clock: FakeClock) -> None:
    def slow(frame: Dc09Frame) -> list[bytes]:
        clock.advance(0.25)  # the receiver takes a quarter of a second
        return [_ack(frame)]

    plan = SimulationPlan(panels=1, rate=1.0, duration=3.0, seed=3)
    async with _fake_receiver(slow) as port:
        report = await _simulate(replace(plan, port=port), clock)
    _assert_all_acked(report)
    assert report.sent == 3  # one slot a second for 3 s
    assert report.latencies == pytest.approx((0.25, 0.25, 0.25))
    assert report.p99_ms == pytest.approx(250.0)
    # The third message starts within the last second and its reply takes 0.25 s.
    assert 2.25 <= report.elapsed < 3.25


async def test_a_panel_behind_its_slots_sends_at_once_and_stops_at_the_runs_end(
    clock: FakeClock,
) -> None:
    sends: list[datetime] = []

    def slower_than_the_slots(frame: Dc09Frame) -> list[bytes]:
        sends.append(clock.now())
        clock.advance(1.5)  # three slots of 0.5 s pass while a message waits for its ACK
        return [_ack(frame)]

    plan = SimulationPlan(panels=1, rate=2.0, duration=2.0, seed=3)
    async with _fake_receiver(slower_than_the_slots) as port:
        report = await _simulate(replace(plan, port=port), clock)
    _assert_all_acked(report)
    # The second message went out as soon as the first was ACKed, never two at a time;
    # after it the run's 2 s were over, so the slots left were dropped.
    assert report.sent == 2
    assert sends[1] - sends[0] == timedelta(seconds=1.5)


@dataclass
class _Hangups:
    """A receiver that ACKs one frame per connection and hangs up: what it answered, closed."""

    answered: int = 0
    closed: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)


async def test_panel_reconnects_before_sending_when_the_receiver_closed_its_connection(
    clock: FakeClock,
) -> None:
    hangups = _Hangups()
    changed = hangups.changed

    async def ack_once_and_hang_up(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        splitter = FrameSplitter()
        try:
            while chunk := await reader.read(4096):
                if frames := splitter.feed(chunk):
                    writer.write(_ack(decode_frame(frames[0])))
                    await writer.drain()
                    hangups.answered += 1
                    break
        finally:
            writer.close()
            await writer.wait_closed()
            hangups.closed += 1
            changed.set()

    async def sleep_until_hung_up(seconds: float) -> None:
        # Like an idle timeout at the receiver: the connection is closed before the next slot.
        clock.advance(seconds)
        while hangups.closed < hangups.answered:
            changed.clear()
            await changed.wait()
        # Over loopback the panel's socket has the FIN once the receiver's is closed; one turn
        # of the loop lets the panel's transport read it.
        await asyncio.sleep(0)

    server = await asyncio.start_server(ack_once_and_hang_up, "127.0.0.1", 0)
    async with server:
        port = server.sockets[0].getsockname()[1]
        plan = SimulationPlan(port=port, panels=1, rate=2.0, duration=2.0, seed=3)
        report = await _simulate(plan, clock, sleep=sleep_until_hung_up)
    _assert_all_acked(report)
    assert report.sent == 4
    assert report.connections == report.sent
    assert hangups.answered == report.sent


async def test_replies_to_other_sequence_numbers_are_skipped(clock: FakeClock) -> None:
    def late_then_right(frame: Dc09Frame) -> list[bytes]:
        stale = f"{int(frame.seq) % 9999 + 1:04d}"
        return [_ack(replace(frame, seq=stale)), _ack(frame)]

    async with _fake_receiver(late_then_right) as port:
        report = await _simulate(
            SimulationPlan(port=port, panels=2, rate=10.0, duration=0.5, seed=3), clock
        )
    _assert_all_acked(report)
    assert report.stale_replies == report.sent


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(lambda frame: [b"\nnot a DC-09 frame\r"], id="garbage"),
        pytest.param(lambda frame: [_ack(replace(frame, account="9999"))], id="another-account"),
    ],
)
async def test_replies_that_are_no_fitting_ack_count_as_other(
    answer: Callable[[Dc09Frame], list[bytes]], clock: FakeClock
) -> None:
    async with _fake_receiver(answer) as port:
        report = await _simulate(
            SimulationPlan(port=port, panels=2, rate=10.0, duration=0.5, seed=3), clock
        )
    _assert_adds_up(report)
    assert report.sent > 0
    assert report.other == report.sent
    assert f" other {report.sent} |" in report.summary_line()


async def test_plain_ack_to_an_encrypted_message_counts_as_other(clock: FakeClock) -> None:
    def plain_ack(frame: Dc09Frame) -> list[bytes]:
        return [_ack(replace(frame, encrypted=False))]

    async with _fake_receiver(plain_ack) as port:
        report = await _simulate(
            SimulationPlan(port=port, panels=1, rate=5.0, duration=0.5, key=TEST_KEY, seed=3),
            clock,
        )
    assert report.sent > 0
    assert report.other == report.sent


async def test_target_where_nothing_listens_ends_unanswered_without_hanging(
    clock: FakeClock,
) -> None:
    plan = SimulationPlan(
        host="127.0.0.1",
        port=free_port(),
        panels=2,
        rate=4.0,
        duration=0.5,
        reply_timeout=0.2,
        retries=1,
        seed=1,
    )
    async with asyncio.timeout(plan.max_seconds + 5):
        report = await _simulate(plan, clock)
    _assert_adds_up(report)
    assert report.sent > 0
    assert report.unanswered == report.sent
    assert report.connection_errors == 2 * report.sent  # each attempt failed to connect
    assert report.retransmissions == report.sent
    assert not report.all_acked


async def test_udp_target_where_nothing_listens_ends_unanswered(clock: FakeClock) -> None:
    plan = SimulationPlan(
        host="127.0.0.1",
        port=free_port(),
        panels=2,
        rate=4.0,
        duration=0.5,
        reply_timeout=0.2,
        retries=1,
        udp=True,
    )
    async with asyncio.timeout(plan.max_seconds + 5):
        report = await _simulate(plan, clock)
    _assert_adds_up(report)
    assert report.sent > 0
    assert report.unanswered == report.sent
    assert report.acked == 0


async def test_receiver_that_closes_the_connection_is_reconnected(clock: FakeClock) -> None:
    async def close_at_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    # A receiver that hangs up on every connection: each attempt reconnects and fails.
    server = await asyncio.start_server(close_at_once, "127.0.0.1", 0)
    async with server:
        port = server.sockets[0].getsockname()[1]
        plan = SimulationPlan(
            port=port, panels=1, rate=4.0, duration=0.3, reply_timeout=0.2, retries=2
        )
        report = await _simulate(plan, clock)
    assert report.sent > 0
    assert report.unanswered == report.sent
    assert report.connection_errors == 3 * report.sent


def test_summary_line_has_counts_latencies_and_rate() -> None:
    report = SimulationReport(
        sent=15000,
        acked=15000,
        naked=0,
        duh=0,
        unanswered=0,
        other=0,
        retransmissions=0,
        connections=1,
        connection_errors=0,
        stale_replies=0,
        latencies=tuple(sorted([0.0021] * 7000 + [0.0030] * 7800 + [0.0083] * 180 + [0.0204] * 20)),
        elapsed=30.0,
    )
    assert report.summary_line() == (
        "sent 15000 acked 15000 nak 0 duh 0 unanswered 0"
        " | ack latency p50 3.0 ms p99 8.3 ms max 20.4 ms | 500.0 msg/s over 30.0 s"
    )


def test_summary_line_shows_other_replies_only_when_there_are_some() -> None:
    report = SimulationReport(
        sent=3,
        acked=1,
        naked=0,
        duh=0,
        unanswered=0,
        other=2,
        retransmissions=0,
        connections=1,
        connection_errors=0,
        stale_replies=0,
        latencies=(0.001,),
        elapsed=1.0,
    )
    assert report.summary_line().startswith("sent 3 acked 1 nak 0 duh 0 unanswered 0 other 2 |")


def test_latency_percentiles_use_nearest_rank() -> None:
    report = SimulationReport(
        sent=100,
        acked=100,
        naked=0,
        duh=0,
        unanswered=0,
        other=0,
        retransmissions=0,
        connections=1,
        connection_errors=0,
        stale_replies=0,
        latencies=tuple(i / 1000 for i in range(1, 101)),
        elapsed=1.0,
    )
    assert report.p50_ms == pytest.approx(50.0)
    assert report.p99_ms == pytest.approx(99.0)
    assert report.max_ms == pytest.approx(100.0)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"panels": 0}, "panels"),
        ({"rate": 0.0}, "rate"),
        ({"rate": float("nan")}, "rate"),
        ({"duration": -1.0}, "duration"),
        ({"port": 0}, "port"),
        ({"retries": -1}, "retries"),
        ({"reply_timeout": 0.0}, "reply_timeout"),
        ({"key": b"short"}, "key"),
        ({"account_start": 16**16 - 1, "panels": 2}, "accounts"),
    ],
)
def test_plan_rejects_fields_out_of_range(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SimulationPlan(**fields)  # type: ignore[arg-type]


def test_traffic_mixes_sia_contact_id_and_link_tests_that_decode() -> None:
    traffic = PanelTraffic(account="1000", rng=random.Random(3))
    messages = [traffic.next_message() for _ in range(500)]
    tokens = {message.token for message in messages}
    assert tokens == {"SIA-DCS", "ADM-CID", "NULL"}
    open_zones: set[str] = set()
    for message in messages:
        if message.token == "SIA-DCS":
            event = decode_sia_dcs(message.data)
            assert event.account == "1000"
            (sia,) = event.events
            # A burglary restore only ever follows its own alarm.
            if sia.code == "BA":
                open_zones.add(sia.zone)
            elif sia.code == "BR":
                assert sia.zone in open_zones
                open_zones.discard(sia.zone)
        elif message.token == "ADM-CID":
            assert decode_contact_id(message.data).account == "1000"
        else:
            assert message.data == ""


# --- the command ------------------------------------------------------------------------


def _cli() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def root() -> None:
        """Stand-in for the watchfloor command line."""

    simulate.register(app)
    return app


runner = CliRunner()


async def _invoke(*args: str) -> tuple[int, str, str]:
    result = await asyncio.to_thread(runner.invoke, _cli(), ["simulate", *args])
    return result.exit_code, result.stdout, result.stderr


async def test_command_exits_0_and_prints_the_summary_when_all_is_acked(
    live_platform: Platform,
) -> None:
    host, port = live_platform.dc09_address
    code, out, err = await _invoke(
        "--panels", "3", "--rate", "15", "--duration", "1", "--target", f"{host}:{port}"
    )
    assert code == 0, err
    (line,) = out.splitlines()
    assert line.startswith("sent ")
    assert " unanswered 0 | ack latency p50 " in line
    assert line.endswith(" s")
    sent = int(line.split()[1])
    assert f"sent {sent} acked {sent} nak 0 duh 0 unanswered 0" in line


async def test_command_encrypts_with_the_test_key_and_says_so(live_platform: Platform) -> None:
    host, port = live_platform.dc09_address
    for account in ("2000", "2001"):
        await live_platform.repository.add_account(account=account, site=None, key=TEST_KEY)
    code, out, err = await _invoke(
        "--panels",
        "2",
        "--rate",
        "10",
        "--duration",
        "1",
        "--encrypt",
        "--accounts-from",
        "2000",
        "--target",
        f"{host}:{port}",
    )
    assert code == 0, err
    assert DEFAULT_KEY_ASCII in err
    assert "2000..2001" in err
    assert " nak 0 duh 0 unanswered 0 " in out


async def test_command_exits_1_when_messages_are_not_acked(live_platform: Platform) -> None:
    host, port = live_platform.dc09_address
    code, out, err = await _invoke(
        "--panels",
        "2",
        "--rate",
        "10",
        "--duration",
        "1",
        "--encrypt",
        "--target",
        f"{host}:{port}",
    )
    assert code == 1
    assert " acked 0 " in out
    assert "not ACKed" in err


async def test_command_against_nothing_exits_1_without_hanging() -> None:
    async with asyncio.timeout(20):
        code, out, err = await _invoke(
            "--panels",
            "2",
            "--rate",
            "4",
            "--duration",
            "0.5",
            "--reply-timeout",
            "0.2",
            "--retries",
            "1",
            "--target",
            f"127.0.0.1:{free_port()}",
        )
    assert code == 1
    assert " acked 0 " in out
    assert "connection errors" in err


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--panels", "0"], "--panels"),
        (["--rate", "0"], "--rate"),
        (["--duration", "-1"], "--duration"),
        (["--reply-timeout", "0"], "--reply-timeout"),
        (["--retries", "-1"], "--retries"),
        (["--target", "localhost"], "--target"),
        (["--target", "localhost:99999"], "--target"),
        (["--accounts-from", "12"], "--accounts-from"),
        (["--accounts-from", "12G4"], "--accounts-from"),
        (["--key", "abc"], "--key"),
        (["--key-ascii", "short"], "--key-ascii"),
        (["--key", "00" * 16, "--key-ascii", "x" * 16], "not both"),
    ],
)
def test_command_names_the_bad_option(args: list[str], option: str) -> None:
    result = runner.invoke(_cli(), ["simulate", *args])
    assert result.exit_code == 2
    assert option in result.stderr


def test_register_prints_the_accounts_add_commands() -> None:
    result = runner.invoke(
        _cli(), ["simulate", "--panels", "3", "--accounts-from", "10FE", "--encrypt", "--register"]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"watchfloor accounts add --account {account} --key-ascii {DEFAULT_KEY_ASCII}"
        for account in ("10FE", "10FF", "1100")
    ]
