"""Console sign-in use cases over the real store and credentials, on a clock the test moves."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pyotp
import pytest

from support.clock import FakeClock
from support.users import RecordedEvents, fast_credentials, open_sqlite_users
from watchfloor.adapters.credentials import Argon2Credentials
from watchfloor.core.errors import NotFoundError
from watchfloor.core.logins import SESSION_LABEL, Logins
from watchfloor.core.principals import Role
from watchfloor.core.throttle import BackoffPolicy, FailureBackoff, FailureWindow, ThrottlePolicy
from watchfloor.core.user_admin import UserAdmin
from watchfloor.core.users import (
    UNKNOWN_NAME,
    AuthEventKind,
    LoginRefusedError,
    RateLimitedError,
    SecondFactorRequiredError,
    SessionPolicy,
    UserInputError,
)

PASSWORD = "correct horse battery"


@pytest.fixture
async def logins(tmp_path: Path, clock: FakeClock) -> AsyncIterator[tuple[Logins, UserAdmin]]:
    async with open_sqlite_users(tmp_path) as store:
        events = RecordedEvents()
        credentials = fast_credentials()
        admin = UserAdmin(store=store, credentials=credentials, clock=clock, events=events)
        await admin.add_user(name="alice", role=Role.OPERATOR, password=PASSWORD, actor=None)
        yield (
            Logins(
                store=store,
                credentials=credentials,
                clock=clock,
                policy=SessionPolicy(idle=timedelta(minutes=30), absolute=timedelta(hours=2)),
                events=events,
                by_name_and_address=FailureBackoff(
                    BackoffPolicy(free_attempts=3, first_delay=30, max_delay=300)
                ),
                by_address=FailureWindow(ThrottlePolicy(attempts=8, window=300)),
            ),
            admin,
        )


def _events(logins: Logins) -> RecordedEvents:
    events = logins.events
    assert isinstance(events, RecordedEvents)
    return events


async def test_a_login_opens_a_session_its_token_authenticates(
    logins: tuple[Logins, UserAdmin],
) -> None:
    sessions, _ = logins
    result = await sessions.login(name="alice", password=PASSWORD, code=None, peer="10.0.0.9")
    signed_in = await sessions.authenticate(result.token)

    assert signed_in is not None
    assert signed_in.principal.user == "alice"
    assert signed_in.principal.role is Role.OPERATOR
    assert signed_in.principal.token_label == f"{SESSION_LABEL}:{signed_in.session.id}"
    assert signed_in.session.peer == "10.0.0.9"
    assert await sessions.authenticate("not-a-token") is None
    last = _events(sessions).events[-1]
    assert (last.kind, last.subject, last.peer) == (
        AuthEventKind.LOGIN_SUCCEEDED,
        "alice",
        "10.0.0.9",
    )


@pytest.mark.parametrize(("name", "password"), [("alice", "wrong password!"), ("bob", PASSWORD)])
async def test_wrong_password_and_unknown_name_get_the_same_refusal(
    logins: tuple[Logins, UserAdmin], name: str, password: str
) -> None:
    sessions, _ = logins
    with pytest.raises(LoginRefusedError) as raised:
        await sessions.login(name=name, password=password, code=None, peer="10.0.0.9")
    assert str(raised.value) == "the name, password or code is wrong"
    assert _events(sessions).kinds()[-1] is AuthEventKind.LOGIN_FAILED


async def test_a_name_no_user_has_is_recorded_only_as_its_hash(
    logins: tuple[Logins, UserAdmin],
) -> None:
    sessions, _ = logins
    typed = " hunter2-secret "
    for _ in range(3):
        with pytest.raises(LoginRefusedError):
            await sessions.login(name=typed, password="x", code=None, peer="10.0.0.9")
    with pytest.raises(RateLimitedError):
        await sessions.login(name=typed, password="x", code=None, peer="10.0.0.9")
    with pytest.raises(LoginRefusedError):
        await sessions.login(name="alice", password="wrong password!", code=None, peer=None)

    events = _events(sessions).events[-5:]
    assert "hunter2" not in repr(events)
    digest = hashlib.sha256(b"hunter2-secret").hexdigest()
    assert [(e.kind, e.subject, e.name_digest) for e in events] == [
        (AuthEventKind.LOGIN_FAILED, UNKNOWN_NAME, digest),
        (AuthEventKind.LOGIN_FAILED, UNKNOWN_NAME, digest),
        (AuthEventKind.LOGIN_FAILED, UNKNOWN_NAME, digest),
        (AuthEventKind.LOGIN_RATE_LIMITED, UNKNOWN_NAME, digest),
        (AuthEventKind.LOGIN_FAILED, "alice", None),
    ]


async def test_a_disabled_user_cannot_sign_in_and_their_sessions_end(
    logins: tuple[Logins, UserAdmin],
) -> None:
    sessions, admin = logins
    result = await sessions.login(name="alice", password=PASSWORD, code=None, peer=None)
    await admin.update_user("alice", role=None, disabled=True, actor="root")

    assert await sessions.authenticate(result.token) is None
    with pytest.raises(LoginRefusedError):
        await sessions.login(name="alice", password=PASSWORD, code=None, peer=None)


async def test_a_session_of_a_user_disabled_behind_its_back_is_refused(
    logins: tuple[Logins, UserAdmin], clock: FakeClock
) -> None:
    sessions, admin = logins
    result = await sessions.login(name="alice", password=PASSWORD, code=None, peer=None)
    # Straight in the store (another node, a database console): the session was not ended.
    await admin.store.update_user("alice", role=None, disabled=True, now=clock.now())
    assert await sessions.authenticate(result.token) is None


async def test_failures_of_a_name_from_an_address_wait_longer_each_time(
    logins: tuple[Logins, UserAdmin], clock: FakeClock
) -> None:
    sessions, _ = logins
    for _ in range(3):  # free
        with pytest.raises(LoginRefusedError):
            await sessions.login(name="alice", password="wrong password!", code=None, peer="a")
    waits = []
    for _ in range(5):
        with pytest.raises(RateLimitedError) as raised:
            await sessions.login(name="ALICE ", password=PASSWORD, code=None, peer="a")
        waits.append(raised.value.retry_after)
        clock.advance(raised.value.retry_after)
        with pytest.raises(LoginRefusedError):
            await sessions.login(name="alice", password="wrong again!", code=None, peer="a")
    assert waits == [30, 60, 120, 240, 300]  # doubling, up to the most
    assert _events(sessions).kinds()[-2] is AuthEventKind.LOGIN_RATE_LIMITED

    clock.advance(300)
    await sessions.login(name="alice", password=PASSWORD, code=None, peer="a")  # forgets
    for _ in range(3):
        with pytest.raises(LoginRefusedError):
            await sessions.login(name="alice", password="wrong password!", code=None, peer="a")


async def test_failures_from_one_address_never_lock_the_name_out_elsewhere(
    logins: tuple[Logins, UserAdmin], clock: FakeClock
) -> None:
    sessions, _ = logins
    for _ in range(3):
        with pytest.raises(LoginRefusedError):
            await sessions.login(name="alice", password="wrong password!", code=None, peer="a")
    with pytest.raises(RateLimitedError):
        await sessions.login(name="alice", password=PASSWORD, code=None, peer="a")

    await sessions.login(name="alice", password=PASSWORD, code=None, peer="10.0.0.9")
    # The rightful user's success elsewhere does not free the guesser.
    with pytest.raises(RateLimitedError):
        await sessions.login(name="alice", password="a guess", code=None, peer="a")


async def test_an_ipv6_subscriber_is_counted_by_its_slash_64(
    logins: tuple[Logins, UserAdmin],
) -> None:
    sessions, _ = logins
    for host in range(1, 4):
        with pytest.raises(LoginRefusedError):
            await sessions.login(
                name="alice", password="wrong password!", code=None, peer=f"2001:db8:0:1::{host}"
            )
    with pytest.raises(RateLimitedError):
        await sessions.login(name="alice", password=PASSWORD, code=None, peer="2001:db8:0:1::ff")
    await sessions.login(name="alice", password=PASSWORD, code=None, peer="2001:db8:0:2::1")


async def test_failures_are_limited_per_address_across_names(
    logins: tuple[Logins, UserAdmin],
) -> None:
    sessions, _ = logins
    for number in range(8):
        with pytest.raises(LoginRefusedError):
            await sessions.login(name=f"guess{number}", password="x", code=None, peer="6.6.6.6")
    with pytest.raises(RateLimitedError):
        await sessions.login(name="alice", password=PASSWORD, code=None, peer="6.6.6.6")
    await sessions.login(name="alice", password=PASSWORD, code=None, peer="10.0.0.9")


async def test_sessions_expire_when_idle_and_at_the_absolute_limit(
    logins: tuple[Logins, UserAdmin], clock: FakeClock
) -> None:
    sessions, _ = logins
    idle = await sessions.login(name="alice", password=PASSWORD, code=None, peer=None)
    busy = await sessions.login(name="alice", password=PASSWORD, code=None, peer=None)
    for _ in range(4):  # 4 x 29 min: the busy one stays in use, the idle one does not
        clock.advance(29 * 60)
        assert await sessions.authenticate(busy.token) is not None
    assert await sessions.authenticate(idle.token) is None
    assert AuthEventKind.SESSION_EXPIRED in _events(sessions).kinds()

    clock.advance(5 * 60)  # past 2 h since sign-in, though used 5 minutes ago
    assert await sessions.authenticate(busy.token) is None
    assert await sessions.authenticate(busy.token) is None  # ended, stays ended


async def test_logout_and_end_all_end_sessions(logins: tuple[Logins, UserAdmin]) -> None:
    sessions, _ = logins
    one = await sessions.login(name="alice", password=PASSWORD, code=None, peer=None)
    two = await sessions.login(name="alice", password=PASSWORD, code=None, peer=None)
    three = await sessions.login(name="alice", password=PASSWORD, code=None, peer=None)
    signed_in = await sessions.authenticate(one.token)
    assert signed_in is not None

    await sessions.logout(signed_in, peer=None)
    assert await sessions.authenticate(one.token) is None
    assert await sessions.authenticate(two.token) is not None
    assert await sessions.end_all("alice", peer=None) == 2
    assert await sessions.authenticate(two.token) is None
    assert await sessions.authenticate(three.token) is None
    assert _events(sessions).kinds()[-2:] == [
        AuthEventKind.LOGGED_OUT,
        AuthEventKind.SESSIONS_ENDED,
    ]


async def test_totp_enrolment_then_every_login_needs_a_fresh_code(
    logins: tuple[Logins, UserAdmin], clock: FakeClock
) -> None:
    sessions, admin = logins
    uri = await sessions.begin_totp("alice")
    totp = pyotp.parse_uri(uri)
    assert isinstance(totp, pyotp.TOTP)
    assert "issuer=watchfloor" in uri
    # Still pending: a login needs no code yet.
    await sessions.login(name="alice", password=PASSWORD, code=None, peer=None)
    with pytest.raises(UserInputError, match="code"):
        await sessions.confirm_totp("alice", "000000", peer=None)
    await sessions.confirm_totp("alice", totp.at(clock.now()), peer=None)
    with pytest.raises(UserInputError, match="enrolled already"):
        await sessions.begin_totp("alice")

    clock.advance(30)
    with pytest.raises(SecondFactorRequiredError):
        await sessions.login(name="alice", password=PASSWORD, code=None, peer=None)
    with pytest.raises(LoginRefusedError):
        await sessions.login(name="alice", password=PASSWORD, code="123", peer=None)
    code = totp.at(clock.now())
    await sessions.login(name="alice", password=PASSWORD, code=code, peer=None)
    with pytest.raises(LoginRefusedError):  # a code is good once
        await sessions.login(name="alice", password=PASSWORD, code=code, peer=None)

    await admin.reset_totp("alice", actor="root")
    await sessions.login(name="alice", password=PASSWORD, code=None, peer=None)
    with pytest.raises(UserInputError, match="no enrolment is pending"):
        await sessions.confirm_totp("alice", code, peer=None)
    assert AuthEventKind.TOTP_ENROLLED in _events(sessions).kinds()


async def test_a_principal_without_a_user_cannot_enrol(logins: tuple[Logins, UserAdmin]) -> None:
    sessions, _ = logins
    with pytest.raises(NotFoundError):
        await sessions.begin_totp("bootstrap-admin")


async def test_changing_ones_password_ends_the_other_sessions(
    logins: tuple[Logins, UserAdmin],
) -> None:
    sessions, _ = logins
    mine = await sessions.login(name="alice", password=PASSWORD, code=None, peer=None)
    other = await sessions.login(name="alice", password=PASSWORD, code=None, peer=None)
    signed_in = mine.signed_in
    new = "a much better passphrase"

    with pytest.raises(LoginRefusedError):
        await sessions.change_password(signed_in, current="wrong", new=new, peer=None)
    with pytest.raises(UserInputError, match="password"):
        await sessions.change_password(signed_in, current=PASSWORD, new="short", peer=None)
    await sessions.change_password(signed_in, current=PASSWORD, new=new, peer=None)

    assert await sessions.authenticate(mine.token) is not None
    assert await sessions.authenticate(other.token) is None
    with pytest.raises(LoginRefusedError):
        await sessions.login(name="alice", password=PASSWORD, code=None, peer=None)
    await sessions.login(name="alice", password=new, code=None, peer=None)


async def test_a_hash_with_old_parameters_is_replaced_at_login(
    tmp_path: Path, clock: FakeClock
) -> None:
    async with open_sqlite_users(tmp_path) as store:
        events = RecordedEvents()
        old = fast_credentials()
        admin = UserAdmin(store=store, credentials=old, clock=clock, events=events)
        await admin.add_user(name="alice", role=Role.OPERATOR, password=PASSWORD, actor=None)
        sessions = Logins(
            store=store,
            credentials=Argon2Credentials(),
            clock=clock,
            policy=SessionPolicy(),
            events=events,
            by_name_and_address=FailureBackoff(
                BackoffPolicy(free_attempts=3, first_delay=30, max_delay=300)
            ),
            by_address=FailureWindow(ThrottlePolicy(attempts=3, window=300)),
        )
        before = await store.find_user("alice")
        await sessions.login(name="alice", password=PASSWORD, code=None, peer=None)
        after = await store.find_user("alice")

    assert before is not None
    assert after is not None
    assert before.password_hash != after.password_hash
    assert after.password_hash is not None
    assert not sessions.credentials.needs_rehash(after.password_hash)
