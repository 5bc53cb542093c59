"""``watchfloor users`` and ``watchfloor tokens``: the same rules as the API, clear errors."""

from __future__ import annotations

import asyncio
import getpass
import re
import sqlite3
from contextlib import closing
from pathlib import Path

from typer.testing import CliRunner

from watchfloor.app import open_users
from watchfloor.cli import app
from watchfloor.config import Settings
from watchfloor.core.principals import Principal

runner = CliRunner()
PASSWORD = "correct horse battery\n"


def _run(tmp_path: Path, *args: str, stdin: str | None = None) -> tuple[int, str]:
    result = runner.invoke(app, [*args, "--data-dir", str(tmp_path)], input=stdin)
    return result.exit_code, result.output


def _authenticate(tmp_path: Path, token: str) -> Principal | None:
    async def run() -> Principal | None:
        async with open_users(Settings(data_dir=tmp_path)) as users:
            return await users.authenticate(token)

    return asyncio.run(run())


def test_users_add_list_and_refusals(tmp_path: Path) -> None:
    code, output = _run(
        tmp_path, "users", "add", "alice", "--role", "operator", "--password-stdin", stdin=PASSWORD
    )
    assert code == 0, output
    assert "user alice created with role operator" in output

    assert _run(tmp_path, "users", "add", "alice", "--role", "admin", "--no-password") == (
        1,
        "error: user 'alice' exists already\n",
    )
    code, output = _run(
        tmp_path, "users", "add", "bob", "--role", "admin", "--password-stdin", stdin="short\n"
    )
    assert code == 2
    assert "password: must have at least 12 characters" in output
    code, output = _run(tmp_path, "users", "add", "bad name", "--role", "admin", "--no-password")
    assert code == 2
    assert "name: 'bad name'" in output
    code, output = _run(tmp_path, "users", "add", "carol", "--role", "boss", "--no-password")
    assert code == 2
    assert "--role" in output

    code, output = _run(tmp_path, "users", "list")
    assert code == 0
    assert re.search(r"alice\s+│\s+operator", output)
    assert "bob" not in output


def test_users_add_asks_for_the_password_twice(tmp_path: Path) -> None:
    code, output = _run(
        tmp_path,
        "users",
        "add",
        "alice",
        "--role",
        "operator",
        stdin="correct horse battery\ncorrect horse battery\n",
    )
    assert code == 0, output
    assert "correct horse" not in output


def test_tokens_are_printed_once_and_revoked(tmp_path: Path) -> None:
    _run(tmp_path, "users", "add", "alice", "--role", "supervisor", "--no-password")
    code, output = _run(tmp_path, "tokens", "create", "--user", "alice", "--name", "ci")
    assert code == 0, output
    token = output.strip().splitlines()[-1]
    principal = _authenticate(tmp_path, token)
    assert principal is not None
    assert principal.user == "alice"
    assert principal.role == "supervisor"

    code, output = _run(tmp_path, "tokens", "list", "--user", "alice")
    assert "token 1 'ci' of alice (supervisor, active)" in output
    assert token not in output

    assert _run(tmp_path, "tokens", "revoke", "--user", "alice", "--name", "ci")[0] == 0
    assert _authenticate(tmp_path, token) is None
    code, output = _run(tmp_path, "tokens", "revoke", "1")
    assert code == 0  # idempotent
    assert "revoked" in output


def test_token_refusals_name_the_option(tmp_path: Path) -> None:
    _run(tmp_path, "users", "add", "alice", "--role", "operator", "--no-password")
    cases = [
        (["--user", "bob", "--name", "ci"], 1, "--user: user 'bob' does not exist"),
        (
            ["--user", "alice", "--name", "ci", "--role", "admin"],
            2,
            "--role: admin exceeds the operator role of 'alice'",
        ),
        (["--user", "alice", "--name", " "], 2, "--name: a token label has 1 to 100 characters"),
    ]
    for args, expected_code, message in cases:
        code, output = _run(tmp_path, "tokens", "create", *args)
        assert code == expected_code, output
        assert message in output.replace("\n", " ")
    code, output = _run(tmp_path, "tokens", "revoke")
    assert code == 2
    assert "give a token ID, or --user and --name" in output
    assert _run(tmp_path, "tokens", "revoke", "42")[0] == 1


def test_disable_role_password_and_totp_commands(tmp_path: Path) -> None:
    _run(tmp_path, "users", "add", "alice", "--role", "admin", "--no-password")
    _, output = _run(tmp_path, "tokens", "create", "--user", "alice", "--name", "ci")
    token = output.strip().splitlines()[-1]

    assert "role admin, disabled" in _run(tmp_path, "users", "disable", "alice")[1]
    assert _authenticate(tmp_path, token) is None
    assert "role admin, enabled" in _run(tmp_path, "users", "enable", "alice")[1]
    assert _authenticate(tmp_path, token) is not None
    code, output = _run(tmp_path, "users", "set-role", "alice", "--role", "operator")
    assert code == 0
    assert "role operator" in output
    assert _authenticate(tmp_path, token) is None  # an admin token is above an operator

    assert _run(tmp_path, "users", "set-password", "alice", "--password-stdin", stdin=PASSWORD)[
        1
    ] == ("password of alice set\n")
    assert _run(tmp_path, "users", "reset-totp", "alice")[0] == 0
    code, output = _run(tmp_path, "users", "disable", "bob")
    assert (code, output) == (1, "error: user 'bob' does not exist\n")
    assert _run(tmp_path, "users", "reset-totp", "bob")[0] == 1


def test_the_server_command_line_makes_auditors_and_their_tokens(tmp_path: Path) -> None:
    # What the API refuses an administrator (separation of duties) is done on the server.
    assert _run(tmp_path, "users", "add", "audrey", "--role", "auditor", "--no-password")[0] == 0
    code, output = _run(tmp_path, "tokens", "create", "--user", "audrey", "--name", "review")
    assert code == 0, output
    principal = _authenticate(tmp_path, output.strip().splitlines()[-1])
    assert principal is not None
    assert (principal.user, principal.role) == ("audrey", "auditor")
    with closing(sqlite3.connect(tmp_path / "watchfloor.db")) as database:
        rows = database.execute(
            "SELECT actor, via, action, target FROM audit_log WHERE target = 'user:audrey'"
        ).fetchall()
    assert rows == [
        (getpass.getuser(), "cli", "user.add", "user:audrey"),
        (getpass.getuser(), "cli", "token.create", "user:audrey"),
    ]
