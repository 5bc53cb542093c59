"""Managing users and API tokens, over the real store and credentials."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from support.clock import FakeClock
from support.users import RecordedEvents, fast_credentials, open_sqlite_users
from watchfloor.core.errors import ConflictError, NotFoundError
from watchfloor.core.principals import Role
from watchfloor.core.user_admin import UserAdmin
from watchfloor.core.users import AuthEventKind, SeparationOfDutiesError, UserInputError

PASSWORD = "correct horse battery"


@pytest.fixture
async def admin(tmp_path: Path, clock: FakeClock) -> AsyncIterator[UserAdmin]:
    async with open_sqlite_users(tmp_path) as store:
        yield UserAdmin(
            store=store, credentials=fast_credentials(), clock=clock, events=RecordedEvents()
        )


def _kinds(admin: UserAdmin) -> list[AuthEventKind]:
    assert isinstance(admin.events, RecordedEvents)
    return admin.events.kinds()


async def test_a_user_is_created_with_a_hashed_password(admin: UserAdmin) -> None:
    user = await admin.add_user(
        name=" alice ", role=Role.SUPERVISOR, password=PASSWORD, actor="root"
    )
    stored = await admin.store.find_user("alice")

    assert user.name == "alice"
    assert stored is not None
    assert stored.password_hash is not None
    assert stored.password_hash.startswith("$argon2id$")
    assert PASSWORD not in stored.password_hash
    assert [u.name for u in await admin.list_users()] == ["alice"]
    event = admin.events.events[-1]  # type: ignore[attr-defined]
    assert (event.kind, event.subject, event.actor, event.detail) == (
        AuthEventKind.USER_CREATED,
        "alice",
        "root",
        "role supervisor",
    )


async def test_bad_names_and_passwords_are_refused_naming_the_field(admin: UserAdmin) -> None:
    with pytest.raises(UserInputError, match="name"):
        await admin.add_user(name="bad name", role=Role.OPERATOR, password=PASSWORD, actor=None)
    with pytest.raises(UserInputError, match="password"):
        await admin.add_user(name="alice", role=Role.OPERATOR, password="short", actor=None)
    await admin.add_user(name="alice", role=Role.OPERATOR, password=None, actor=None)
    with pytest.raises(ConflictError):
        await admin.add_user(name="alice", role=Role.OPERATOR, password=None, actor=None)


async def test_a_token_takes_the_users_role_or_a_lesser_one_never_a_higher(
    admin: UserAdmin,
) -> None:
    await admin.add_user(name="alice", role=Role.SUPERVISOR, password=None, actor=None)
    default = await admin.create_token(user="alice", label="ci", role=None, actor=None)
    lesser = await admin.create_token(user="alice", label="wall", role=Role.OPERATOR, actor=None)

    assert default.token.role is Role.SUPERVISOR
    assert lesser.token.role is Role.OPERATOR
    assert default.value != lesser.value
    assert len(default.value) >= 40
    with pytest.raises(UserInputError, match="exceeds the supervisor role"):
        await admin.create_token(user="alice", label="x", role=Role.ADMIN, actor=None)
    with pytest.raises(ConflictError, match="'ci'"):
        await admin.create_token(user="alice", label="ci", role=None, actor=None)
    with pytest.raises(NotFoundError):
        await admin.create_token(user="bob", label="ci", role=None, actor=None)
    with pytest.raises(UserInputError, match="label"):
        await admin.create_token(user="alice", label=" ", role=None, actor=None)
    assert [t.label for t in await admin.list_tokens("alice")] == ["ci", "wall"]
    assert _kinds(admin).count(AuthEventKind.TOKEN_CREATED) == 2


async def test_tokens_are_revoked_by_id_or_by_user_and_label(admin: UserAdmin) -> None:
    await admin.add_user(name="alice", role=Role.OPERATOR, password=None, actor=None)
    one = await admin.create_token(user="alice", label="one", role=None, actor=None)
    await admin.create_token(user="alice", label="two", role=None, actor=None)

    revoked = await admin.revoke_token(one.token.id, actor="root")
    named = await admin.revoke_token_named(user="alice", label="two", actor=None)

    assert revoked.revoked_at is not None
    assert named.label == "two"
    assert named.revoked_at is not None
    with pytest.raises(NotFoundError, match="no unrevoked token named 'two'"):
        await admin.revoke_token_named(user="alice", label="two", actor=None)
    # A revoked label may be used again.
    await admin.create_token(user="alice", label="one", role=None, actor=None)
    assert _kinds(admin).count(AuthEventKind.TOKEN_REVOKED) == 2


async def test_a_disabled_user_gets_no_new_token(admin: UserAdmin) -> None:
    await admin.add_user(name="alice", role=Role.OPERATOR, password=None, actor=None)
    await admin.update_user("alice", role=None, disabled=True, actor=None)
    with pytest.raises(UserInputError, match="disabled"):
        await admin.create_token(user="alice", label="ci", role=None, actor=None)


async def test_lowering_a_role_revokes_the_tokens_above_it(admin: UserAdmin) -> None:
    await admin.add_user(name="alice", role=Role.ADMIN, password=None, actor=None)
    high = await admin.create_token(user="alice", label="high", role=None, actor=None)
    low = await admin.create_token(user="alice", label="low", role=Role.OPERATOR, actor=None)

    user = await admin.update_user("alice", role=Role.OPERATOR, disabled=None, actor="root")

    tokens = {t.label: t for t in await admin.list_tokens("alice")}
    assert user.role is Role.OPERATOR
    assert tokens["high"].revoked_at is not None
    assert tokens["low"].revoked_at is None
    assert high.token.id != low.token.id
    assert _kinds(admin)[-2:] == [AuthEventKind.TOKEN_REVOKED, AuthEventKind.USER_CHANGED]


async def test_a_password_reset_checks_the_policy_and_ends_sessions(
    admin: UserAdmin, clock: FakeClock
) -> None:
    await admin.add_user(name="alice", role=Role.OPERATOR, password=PASSWORD, actor=None)
    session = await admin.store.add_session(token="t", user="alice", now=clock.now(), peer=None)
    with pytest.raises(UserInputError, match="password"):
        await admin.set_password("alice", "short", actor=None)
    before = await admin.store.find_user("alice")

    await admin.set_password("alice", "another long passphrase", actor="root")

    after = await admin.store.find_user("alice")
    ended = await admin.store.find_session("t")
    assert before is not None
    assert after is not None
    assert before.password_hash != after.password_hash
    assert ended is not None
    assert ended.id == session.id
    assert ended.ended_at is not None
    with pytest.raises(NotFoundError):
        await admin.set_password("bob", "another long passphrase", actor=None)
    with pytest.raises(NotFoundError):
        await admin.reset_totp("bob", actor=None)
    assert AuthEventKind.PASSWORD_CHANGED in _kinds(admin)


async def test_the_api_door_may_not_make_auditors_nor_tokens_for_others(admin: UserAdmin) -> None:
    await admin.add_user(name="olga", role=Role.OPERATOR, password=None, actor=None)
    with pytest.raises(SeparationOfDutiesError, match="auditor role"):
        await admin.add_user(name="audrey", role=Role.AUDITOR, password=None, actor="root")
    with pytest.raises(SeparationOfDutiesError, match="auditor role"):
        await admin.update_user("olga", role=Role.AUDITOR, disabled=None, actor="root")
    with pytest.raises(SeparationOfDutiesError, match="act as them"):
        await admin.create_token(user="olga", label="ci", role=None, actor="root")

    assert isinstance(admin.events, RecordedEvents)
    refused = [e for e in admin.events.events if e.kind is AuthEventKind.ADMIN_REFUSED]
    assert [(e.subject, e.actor) for e in refused] == [
        ("audrey", "root"),
        ("olga", "root"),
        ("olga", "root"),
    ]
    assert [(u.name, u.role) for u in await admin.list_users()] == [("olga", Role.OPERATOR)]
    assert await admin.list_tokens("olga") == []


async def test_the_command_line_door_makes_both(admin: UserAdmin) -> None:
    await admin.add_user(name="audrey", role=Role.AUDITOR, password=None, actor=None)
    await admin.add_user(name="olga", role=Role.OPERATOR, password=None, actor=None)
    await admin.update_user("olga", role=Role.AUDITOR, disabled=None, actor=None)
    created = await admin.create_token(user="audrey", label="review", role=None, actor=None)
    assert created.token.role is Role.AUDITOR
    assert AuthEventKind.ADMIN_REFUSED not in _kinds(admin)


async def test_an_administrator_makes_tokens_for_themself(admin: UserAdmin) -> None:
    await admin.add_user(name="root", role=Role.ADMIN, password=None, actor=None)
    created = await admin.create_token(user="root", label="laptop", role=None, actor="root")
    assert created.token.user == "root"
