"""``watchfloor users …`` and ``watchfloor tokens …``: users and API tokens from the command line.

They work on the database of ``--data-dir`` / ``WATCHFLOOR_DATABASE_URL``, also while the server
runs, through the same use cases (``core.user_admin``) as the API, so the same rules apply and
the same events are recorded (with no actor: whoever runs these holds the database).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from watchfloor.app import open_user_admin
from watchfloor.cli._common import ConfigFile, DataDir, cli_settings, fail, wide_console
from watchfloor.core.errors import NotFoundError, WatchfloorError
from watchfloor.core.principals import Role
from watchfloor.core.user_admin import UserAdmin
from watchfloor.core.users import ApiToken, UserInputError

__all__ = ["register"]

users_app = typer.Typer(help="Users of the console and the API.", no_args_is_help=True)
tokens_app = typer.Typer(help="API tokens of users.", no_args_is_help=True)

_err = Console(stderr=True)
_out = Console()

PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from the first line of stdin.")
]
UserName = Annotated[str, typer.Argument(help="The user's name.", show_default=False)]


def register(app: typer.Typer) -> None:
    """Attach ``users`` and ``tokens`` to the command line."""
    app.add_typer(users_app, name="users")
    app.add_typer(tokens_app, name="tokens")


def _run(
    data_dir: Path | None, config: Path | None, work: Callable[[UserAdmin], Awaitable[None]]
) -> None:
    settings = cli_settings(config, data_dir=data_dir)

    async def run() -> None:
        async with open_user_admin(settings) as admin:
            await work(admin)

    try:
        asyncio.run(run())
    except UserInputError as err:
        raise fail(str(err), 2) from err
    except WatchfloorError as err:
        raise fail(str(err), 1) from err


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


@users_app.command("add")
def users_add(
    name: UserName,
    role: Annotated[Role, typer.Option("--role", help="The user's role.", show_default=False)],
    password_stdin: PasswordStdin = False,
    no_password: Annotated[
        bool, typer.Option("--no-password", help="Tokens only: the user cannot sign in.")
    ] = False,
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """Create a user (asks for the password twice unless --password-stdin)."""
    password = None if no_password else _read_password(password_stdin)

    async def work(admin: UserAdmin) -> None:
        user = await admin.add_user(name=name, role=role, password=password, actor=None)
        _out.print(f"user {user.name} created with role {user.role}", highlight=False)

    _run(data_dir, config, work)


@users_app.command("list")
def users_list(data_dir: DataDir = None, config: ConfigFile = None) -> None:
    """List the users."""

    async def work(admin: UserAdmin) -> None:
        table = Table(title="users")
        for column in ("name", "role", "TOTP", "created", "disabled"):
            table.add_column(column)
        for user in await admin.list_users():
            table.add_row(
                user.name,
                user.role,
                "yes" if user.totp_enrolled else "no",
                f"{user.created_at:%Y-%m-%d %H:%M}",
                "" if user.disabled_at is None else f"{user.disabled_at:%Y-%m-%d %H:%M}",
            )
        wide_console().print(table)

    _run(data_dir, config, work)


def _change(name: str, data_dir: Path | None, config: Path | None, **change: object) -> None:
    async def work(admin: UserAdmin) -> None:
        role = change.get("role")
        disabled = change.get("disabled")
        user = await admin.update_user(
            name,
            role=role if isinstance(role, Role) else None,
            disabled=disabled if isinstance(disabled, bool) else None,
            actor=None,
        )
        state = "disabled" if user.disabled_at else "enabled"
        _out.print(f"user {user.name}: role {user.role}, {state}", highlight=False)

    _run(data_dir, config, work)


@users_app.command("disable")
def users_disable(name: UserName, data_dir: DataDir = None, config: ConfigFile = None) -> None:
    """Disable a user: their sessions end and their tokens stop working."""
    _change(name, data_dir, config, disabled=True)


@users_app.command("enable")
def users_enable(name: UserName, data_dir: DataDir = None, config: ConfigFile = None) -> None:
    """Enable a disabled user again."""
    _change(name, data_dir, config, disabled=False)


@users_app.command("set-role")
def users_set_role(
    name: UserName,
    role: Annotated[Role, typer.Option("--role", help="The new role.", show_default=False)],
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """Change a user's role; their tokens of a higher role are revoked."""
    _change(name, data_dir, config, role=role)


@users_app.command("set-password")
def users_set_password(
    name: UserName,
    password_stdin: PasswordStdin = False,
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """Set (reset) a user's password; their sessions end."""
    password = _read_password(password_stdin)

    async def work(admin: UserAdmin) -> None:
        await admin.set_password(name, password, actor=None)
        _out.print(f"password of {name} set", highlight=False)

    _run(data_dir, config, work)


@users_app.command("reset-totp")
def users_reset_totp(name: UserName, data_dir: DataDir = None, config: ConfigFile = None) -> None:
    """Remove a user's TOTP second factor (a lost phone); they may enrol again."""

    async def work(admin: UserAdmin) -> None:
        await admin.reset_totp(name, actor=None)
        _out.print(f"second factor of {name} removed", highlight=False)

    _run(data_dir, config, work)


def _describe(token: ApiToken) -> str:
    state = "active" if token.revoked_at is None else f"revoked {token.revoked_at:%Y-%m-%d %H:%M}"
    return f"token {token.id} {token.label!r} of {token.user} ({token.role}, {state})"


@tokens_app.command("create")
def tokens_create(
    user: Annotated[str, typer.Option("--user", help="The token's user.", show_default=False)],
    name: Annotated[str, typer.Option("--name", help="The token's label.", show_default=False)],
    role: Annotated[
        Role | None, typer.Option("--role", help="A role no higher than the user's [theirs].")
    ] = None,
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """Create an API token and print it, this once only."""

    async def work(admin: UserAdmin) -> None:
        try:
            created = await admin.create_token(user=user, label=name, role=role, actor=None)
        except NotFoundError as err:
            raise fail(f"--user: {err}", 1) from err
        except UserInputError as err:
            raise fail(f"--{err.field}: {err.problem}", 2) from err
        _err.print(f"created {_describe(created.token)}; it is shown this once:", highlight=False)
        _out.print(created.value, highlight=False, soft_wrap=True)

    _run(data_dir, config, work)


@tokens_app.command("list")
def tokens_list(
    user: Annotated[str | None, typer.Option("--user", help="Only this user's tokens.")] = None,
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """List API tokens (never their values)."""

    async def work(admin: UserAdmin) -> None:
        for token in await admin.list_tokens(user):
            _out.print(_describe(token), highlight=False)

    _run(data_dir, config, work)


@tokens_app.command("revoke")
def tokens_revoke(
    token_id: Annotated[
        int | None, typer.Argument(help="The token's id (see tokens list).", show_default=False)
    ] = None,
    user: Annotated[str | None, typer.Option("--user", help="With --name: the user.")] = None,
    name: Annotated[str | None, typer.Option("--name", help="With --user: the label.")] = None,
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """Revoke a token, by id or by --user and --name."""
    if (token_id is None) == (user is None or name is None):
        raise fail("give a token ID, or --user and --name (not both)", 2)

    async def work(admin: UserAdmin) -> None:
        if token_id is not None:
            token = await admin.revoke_token(token_id, actor=None)
        else:
            assert user is not None  # noqa: S101 - checked above
            assert name is not None  # noqa: S101 - checked above
            token = await admin.revoke_token_named(user=user, label=name, actor=None)
        _out.print(f"revoked {_describe(token)}", highlight=False)

    _run(data_dir, config, work)
