"""User rules, session timeouts, token roles and the login failure window (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from watchfloor.core.principals import Role
from watchfloor.core.throttle import (
    BackoffPolicy,
    FailureBackoff,
    FailureWindow,
    ThrottlePolicy,
    address_key,
)
from watchfloor.core.users import (
    MAX_PASSWORD,
    ConsoleSession,
    RateLimitedError,
    SessionPolicy,
    StoredUser,
    User,
    UserInputError,
    check_label,
    check_password,
    check_user_name,
    may_grant,
)

T0 = datetime(2026, 1, 15, 3, 0, tzinfo=UTC)
POLICY = SessionPolicy(
    idle=timedelta(minutes=30), absolute=timedelta(hours=12), touch_every=timedelta(seconds=60)
)


def _session(*, last_seen: timedelta = timedelta(0), ended: bool = False) -> ConsoleSession:
    return ConsoleSession(
        id=1,
        user="alice",
        created_at=T0,
        last_seen_at=T0 + last_seen,
        ended_at=T0 if ended else None,
    )


@pytest.mark.parametrize("name", ["alice", "a", "j.doe@example.org", "op-7_night", "x" * 64])
def test_valid_user_names_are_accepted(name: str) -> None:
    assert check_user_name(f" {name} ") == name


@pytest.mark.parametrize("name", ["", " ", "bad name", "-alice", "x" * 65, "ali/ce", "é"])
def test_invalid_user_names_are_refused_naming_the_field(name: str) -> None:
    with pytest.raises(UserInputError, match=r"^name: ") as raised:
        check_user_name(name)
    assert raised.value.field == "name"


def test_passwords_need_length_and_must_not_be_the_name() -> None:
    assert check_password("correct horse", user="alice") == "correct horse"
    with pytest.raises(UserInputError, match="at least 12"):
        check_password("short", user="alice")
    with pytest.raises(UserInputError, match="at most"):
        check_password("x" * (MAX_PASSWORD + 1), user="alice")
    with pytest.raises(UserInputError, match="user name"):
        check_password("Alice.Example", user="alice.example")


def test_token_labels_are_stripped_and_bounded() -> None:
    assert check_label(" ci ") == "ci"
    for label in ("", "   ", "x" * 101):
        with pytest.raises(UserInputError, match="label"):
            check_label(label)


@pytest.mark.parametrize(
    ("user_role", "token_role", "allowed"),
    [
        (Role.ADMIN, Role.OPERATOR, True),
        (Role.SUPERVISOR, Role.OPERATOR, True),
        (Role.OPERATOR, Role.OPERATOR, True),
        (Role.OPERATOR, Role.SUPERVISOR, False),
        (Role.OPERATOR, Role.ADMIN, False),
        (Role.ADMIN, Role.AUDITOR, False),  # administrators do not read the audit log
        (Role.AUDITOR, Role.AUDITOR, True),
        (Role.SUPERVISOR, Role.PATROL, False),
    ],
)
def test_a_token_role_may_not_exceed_the_users(
    user_role: Role, token_role: Role, allowed: bool
) -> None:
    assert may_grant(user_role, token_role) is allowed


def test_a_session_ends_when_idle_too_long() -> None:
    session = _session(last_seen=timedelta(hours=1))
    assert POLICY.expires_at(session) == T0 + timedelta(hours=1, minutes=30)
    assert POLICY.is_live(session, T0 + timedelta(hours=1, minutes=29, seconds=59))
    assert not POLICY.is_live(session, T0 + timedelta(hours=1, minutes=30))


def test_a_session_ends_at_its_absolute_timeout_however_active() -> None:
    session = _session(last_seen=timedelta(hours=11, minutes=59))
    assert POLICY.expires_at(session) == T0 + timedelta(hours=12)
    assert not POLICY.is_live(session, T0 + timedelta(hours=12))


def test_an_ended_session_is_not_live() -> None:
    assert not POLICY.is_live(_session(ended=True), T0)


def test_the_last_use_is_written_at_most_every_touch_interval() -> None:
    session = _session()
    assert not POLICY.needs_touch(session, T0 + timedelta(seconds=59))
    assert POLICY.needs_touch(session, T0 + timedelta(seconds=60))


def test_a_short_idle_timeout_is_touched_often_enough_to_stay_alive() -> None:
    short = SessionPolicy(idle=timedelta(seconds=60), touch_every=timedelta(seconds=60))
    session = _session()
    # Used every 15 s: each use within a quarter of the idle timeout of the last write.
    assert not short.needs_touch(session, T0 + timedelta(seconds=14))
    assert short.needs_touch(session, T0 + timedelta(seconds=15))
    assert short.is_live(session, T0 + timedelta(seconds=59))


def test_secrets_stay_out_of_a_stored_users_repr() -> None:
    user = User(name="alice", role=Role.OPERATOR, totp_enrolled=True, created_at=T0)
    stored = StoredUser(
        user=user, password_hash="$argon2id$hash", totp_secret="SECRET", totp_pending="PENDING"
    )
    text = repr(stored)
    assert "argon2" not in text
    assert "SECRET" not in text
    assert "PENDING" not in text
    assert user.active


def test_rate_limited_rounds_the_wait_up_to_whole_seconds() -> None:
    assert RateLimitedError(0.2).retry_after == 1
    assert RateLimitedError(10.2).retry_after == 11
    assert "11 s" in str(RateLimitedError(10.2))


def test_a_key_is_refused_after_its_failures_until_the_oldest_ages_out() -> None:
    window = FailureWindow(ThrottlePolicy(attempts=3, window=60))
    for moment in (0.0, 10.0, 20.0):
        assert window.retry_after("alice", moment) is None
        window.fail("alice", moment)
    assert window.retry_after("alice", 30.0) == 30.0
    assert window.retry_after("bob", 30.0) is None
    assert window.retry_after("alice", 60.0) is None  # the first failure aged out
    window.fail("alice", 61.0)
    assert window.retry_after("alice", 61.0) == 9.0
    assert window.retry_after("alice", 200.0) is None  # all aged out: forgotten


def test_forgetting_a_key_clears_its_failures() -> None:
    window = FailureWindow(ThrottlePolicy(attempts=1, window=60))
    window.fail("alice", 0.0)
    assert window.retry_after("alice", 1.0) is not None
    window.forget("alice")
    window.forget("nobody")
    assert window.retry_after("alice", 1.0) is None


def test_the_window_forgets_everyone_rather_than_grow_without_bound() -> None:
    window = FailureWindow(ThrottlePolicy(attempts=1, window=60), max_keys=2)
    window.fail("a", 0.0)
    window.fail("b", 0.0)
    window.fail("a", 1.0)  # a known key does not reset the table
    assert window.retry_after("b", 1.0) is not None
    window.fail("c", 1.0)
    assert window.retry_after("a", 1.0) is None
    assert window.retry_after("c", 1.0) is not None


def test_a_backoff_waits_after_the_free_attempts_and_doubles_up_to_the_most() -> None:
    backoff = FailureBackoff(BackoffPolicy(free_attempts=2, first_delay=10, max_delay=25))
    backoff.fail("k", 0.0)
    assert backoff.retry_after("k", 0.0) is None
    backoff.fail("k", 0.0)
    assert backoff.retry_after("k", 4.0) == 6.0
    assert backoff.retry_after("k", 10.0) is None
    backoff.fail("k", 10.0)
    assert backoff.retry_after("k", 10.0) == 20.0
    backoff.fail("k", 30.0)
    assert backoff.retry_after("k", 30.0) == 25.0  # 40 capped
    assert backoff.retry_after("other", 30.0) is None
    backoff.forget("k")
    assert backoff.retry_after("k", 30.0) is None


def test_a_backoff_forgets_a_key_quiet_for_long_enough() -> None:
    policy = BackoffPolicy(free_attempts=1, first_delay=10, max_delay=10, forget_after=100)
    backoff = FailureBackoff(policy)
    backoff.fail("k", 0.0)
    backoff.fail("k", 20.0)
    assert backoff.retry_after("k", 25.0) == 5.0
    backoff.fail("k", 200.0)  # quiet for 180 s: counts as the first failure again
    assert backoff.retry_after("k", 200.0) == 10.0
    assert backoff.retry_after("k", 300.0) is None


def test_a_backoff_forgets_everyone_rather_than_grow_without_bound() -> None:
    policy = BackoffPolicy(free_attempts=0, first_delay=10, max_delay=10)
    backoff = FailureBackoff(policy, max_keys=2)
    backoff.fail("a", 0.0)
    backoff.fail("b", 0.0)
    backoff.fail("c", 0.0)
    assert backoff.retry_after("a", 1.0) is None
    assert backoff.retry_after("c", 1.0) == 9.0


@pytest.mark.parametrize(
    ("peer", "key"),
    [
        ("192.0.2.7", "192.0.2.7"),
        ("::ffff:192.0.2.7", "192.0.2.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("testclient", "testclient"),
        (None, "unknown"),
    ],
)
def test_an_address_is_throttled_as_itself_or_its_ipv6_slash_64(peer: str | None, key: str) -> None:
    assert address_key(peer) == key
