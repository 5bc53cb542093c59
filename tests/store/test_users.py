"""The users, sessions and API tokens store, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from support.clock import FakeClock
from watchfloor.core.errors import ConflictError, NotFoundError
from watchfloor.core.principals import Principal, Role
from watchfloor.core.users import UserDirectory, UserStore
from watchfloor.store.users import SqlUsers


@pytest.fixture
def users(engine: AsyncEngine, clock: FakeClock) -> SqlUsers:
    return SqlUsers(engine, clock)


def test_the_users_store_implements_the_ports(users: SqlUsers) -> None:
    # Checked by mypy against each port.
    ports: tuple[UserStore, UserDirectory] = (users, users)
    assert all(port is users for port in ports)


async def test_a_user_is_stored_with_credentials_kept_apart(
    users: SqlUsers, clock: FakeClock
) -> None:
    created = await users.add_user(
        name="alice", role=Role.OPERATOR, password_hash="$argon2id$x", now=clock.now()
    )
    stored = await users.find_user("alice")

    assert stored is not None
    assert stored.user == created
    assert stored.password_hash == "$argon2id$x"
    assert "argon2" not in repr(stored)
    assert await users.find_user("bob") is None
    assert [u.name for u in await users.list_users()] == ["alice"]


async def test_a_taken_name_is_a_conflict(users: SqlUsers, clock: FakeClock) -> None:
    await users.add_user(name="alice", role=Role.OPERATOR, password_hash=None, now=clock.now())
    with pytest.raises(ConflictError, match="alice"):
        await users.add_user(name="alice", role=Role.ADMIN, password_hash=None, now=clock.now())


async def test_role_and_disabling_change_and_unknown_users_are_not_found(
    users: SqlUsers, clock: FakeClock
) -> None:
    await users.add_user(name="alice", role=Role.OPERATOR, password_hash=None, now=clock.now())
    first = clock.now()
    changed = await users.update_user("alice", role=Role.SUPERVISOR, disabled=True, now=first)
    clock.advance(60)
    again = await users.update_user("alice", role=None, disabled=True, now=clock.now())
    enabled = await users.update_user("alice", role=None, disabled=False, now=clock.now())

    assert changed.role is Role.SUPERVISOR
    assert again.disabled_at == first  # disabling twice keeps the first time
    assert enabled.active
    with pytest.raises(NotFoundError):
        await users.update_user("bob", role=Role.ADMIN, disabled=None, now=clock.now())
    with pytest.raises(NotFoundError):
        await users.set_password("bob", "hash")
    with pytest.raises(NotFoundError):
        await users.set_totp("bob", secret=None, pending="S")


async def test_totp_secrets_and_steps(users: SqlUsers, clock: FakeClock) -> None:
    await users.add_user(name="alice", role=Role.OPERATOR, password_hash=None, now=clock.now())
    await users.set_totp("alice", secret=None, pending="PENDING")
    pending = await users.find_user("alice")
    await users.set_totp("alice", secret="SECRET", pending=None)
    enrolled = await users.find_user("alice")

    assert pending is not None
    assert pending.totp_pending == "PENDING"
    assert not pending.user.totp_enrolled
    assert enrolled is not None
    assert enrolled.totp_secret == "SECRET"
    assert enrolled.user.totp_enrolled
    assert "SECRET" not in repr(enrolled)
    # A step is good once, and never one older than the last used.
    assert await users.use_totp_step("alice", 100)
    assert not await users.use_totp_step("alice", 100)
    assert not await users.use_totp_step("alice", 99)
    assert await users.use_totp_step("alice", 101)


async def test_sessions_are_found_by_token_touched_and_ended(
    users: SqlUsers, clock: FakeClock
) -> None:
    await users.add_user(name="alice", role=Role.OPERATOR, password_hash=None, now=clock.now())
    one = await users.add_session(token="t1", user="alice", now=clock.now(), peer="10.0.0.1")
    two = await users.add_session(token="t2", user="alice", now=clock.now(), peer=None)
    three = await users.add_session(token="t3", user="alice", now=clock.now(), peer=None)
    clock.advance(30)
    await users.touch_session(one.id, clock.now())
    await users.touch_session(one.id, one.created_at)

    found = await users.find_session("t1")
    assert found is not None
    assert found.last_seen_at == clock.now()  # never moved back
    assert found.peer == "10.0.0.1"
    assert await users.find_session("nope") is None

    assert await users.end_sessions("alice", clock.now(), keep=two.id) == 2
    await users.end_session(two.id, clock.now())
    clock.advance(5)
    await users.end_session(two.id, clock.now())
    ended = await users.find_session("t2")
    assert ended is not None
    assert ended.ended_at is not None
    assert ended.ended_at < clock.now()  # ending twice keeps the first end
    assert await users.end_sessions("alice", clock.now()) == 0
    gone = await users.find_session("t3")
    assert gone is not None
    assert gone.id == three.id
    assert gone.ended_at is not None


async def test_a_session_needs_an_existing_user(users: SqlUsers, clock: FakeClock) -> None:
    with pytest.raises(ConflictError):
        await users.add_session(token="t", user="ghost", now=clock.now(), peer=None)


async def test_tokens_are_listed_without_values_found_by_label_and_revoked_once(
    users: SqlUsers, clock: FakeClock
) -> None:
    token = await users.add_token(
        user="alice", role=Role.OPERATOR, label="ci", token="value-1", now=clock.now()
    )
    await users.add_token(user="bob", role=Role.ADMIN, label="ci", token="value-2", now=clock.now())
    assert await users.authenticate("value-1") == Principal(
        user="alice", role=Role.OPERATOR, token_label="ci"
    )
    assert [t.user for t in await users.list_tokens(None)] == ["alice", "bob"]
    assert await users.list_tokens("alice") == [token]
    assert await users.find_token("alice", "ci") == token
    assert await users.find_token("alice", "other") is None

    revoked = await users.revoke_token(token.id, clock.now())
    clock.advance(10)
    again = await users.revoke_token(token.id, clock.now())

    assert revoked.revoked_at is not None
    assert again.revoked_at == revoked.revoked_at
    assert await users.find_token("alice", "ci") is None
    assert await users.authenticate("value-1") is None
    with pytest.raises(NotFoundError):
        await users.revoke_token(9999, clock.now())


async def test_tokens_of_a_disabled_user_are_refused_until_enabled(
    users: SqlUsers, clock: FakeClock
) -> None:
    await users.add_user(name="alice", role=Role.OPERATOR, password_hash=None, now=clock.now())
    await users.add_token(
        user="alice", role=Role.OPERATOR, label="ci", token="value", now=clock.now()
    )
    await users.update_user("alice", role=None, disabled=True, now=clock.now())
    assert await users.authenticate("value") is None
    await users.update_user("alice", role=None, disabled=False, now=clock.now())
    assert await users.authenticate("value") is not None


async def test_ensure_token_is_idempotent_and_authenticates(users: SqlUsers) -> None:
    await users.ensure_token(user="admin", role=Role.ADMIN, label="bootstrap", token="s3cret")
    await users.ensure_token(user="admin", role=Role.ADMIN, label="bootstrap", token="s3cret")

    assert await users.count_tokens() == 1
    assert await users.authenticate("s3cret") == Principal(
        user="admin", role=Role.ADMIN, token_label="bootstrap"
    )
    assert await users.authenticate("s3cret ") is None


async def test_tokens_are_stored_as_hashes(users: SqlUsers, engine: AsyncEngine) -> None:
    await users.ensure_token(user="ann", role=Role.OPERATOR, label="desk", token="s3cret")

    async with engine.connect() as connection:
        stored = (await connection.execute(text("SELECT token_hash FROM api_tokens"))).scalar()
    assert stored == hashlib.sha256(b"s3cret").hexdigest()


async def test_revoked_token_no_longer_authenticates(users: SqlUsers, clock: FakeClock) -> None:
    await users.ensure_token(user="ann", role=Role.OPERATOR, label="desk", token="t1")
    await users.ensure_token(user="bob", role=Role.AUDITOR, label="audit", token="t2")
    token = await users.find_token("ann", "desk")
    assert token is not None

    await users.revoke_token(token.id, clock.now())

    assert await users.authenticate("t1") is None
    assert await users.count_tokens() == 1
    # A restart with the same bootstrap value must not undo the revocation.
    await users.ensure_token(user="ann", role=Role.OPERATOR, label="desk", token="t1")
    assert await users.authenticate("t1") is None


async def test_a_token_value_of_another_user_is_a_conflict(users: SqlUsers) -> None:
    await users.ensure_token(user="ann", role=Role.OPERATOR, label="desk", token="same")

    with pytest.raises(ConflictError):
        await users.ensure_token(user="bob", role=Role.ADMIN, label="x", token="same")
