"""The command line: account registration (also while the server runs) and clear errors."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from support.panel import sia_frame
from support.server import run_server
from watchfloor.cli import app

runner = CliRunner()


def test_accounts_add_registers_with_a_key(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "accounts",
            "add",
            "--account",
            "1a2b",
            "--site",
            "Depot",
            "--key-ascii",
            "0123456789ABCDEF",
            "--data-dir",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "registered account 1A2B" in result.output
    assert "encryption AES" in result.output
    assert "0123456789ABCDEF" not in result.output
    again = runner.invoke(
        app, ["accounts", "add", "--account", "1A2B", "--data-dir", str(tmp_path)]
    )
    assert again.exit_code == 1
    assert "--account: 1A2B is registered already" in again.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--account", "12"], "--account"),
        (["--account", "12G4"], "--account"),
        (["--account", "1234", "--key", "abc"], "--key"),
        (["--account", "1234", "--key-ascii", "short"], "--key-ascii"),
        (["--account", "1234", "--key", "00" * 16, "--key-ascii", "x" * 16], "not both"),
    ],
)
def test_accounts_add_names_the_bad_option(tmp_path: Path, args: list[str], message: str) -> None:
    result = runner.invoke(app, ["accounts", "add", *args, "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert message in result.output


def test_bad_setting_is_reported_with_its_name(tmp_path: Path) -> None:
    result = runner.invoke(app, ["serve", "--data-dir", str(tmp_path), "--http", "nowhere"])
    assert result.exit_code == 2
    assert "http" in result.output
    assert "HOST:PORT" in result.output


def test_taxonomy_show_lists_types_with_their_basis() -> None:
    result = runner.invoke(app, ["taxonomy", "show"])
    assert result.exit_code == 0, result.output
    assert "Unclassified signal" in result.output
    assert "intrusion" in result.output
    assert (
        "Overdue alarms escalate to: supervisor at the deadline, then duty_manager 120 s later"
        in result.output
    )


def test_taxonomy_check_refuses_a_type_without_valid_basis(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('version = "x"\n[[types]]\ncode = 1\nname = "Crowd"\n')
    result = runner.invoke(app, ["taxonomy", "check", str(bad)])
    assert result.exit_code == 1


@pytest.mark.slow
def test_accounts_add_works_while_the_server_runs(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    with run_server(data_dir) as server:
        added = subprocess.run(  # noqa: S603 - our own interpreter and module
            [
                sys.executable,
                "-m",
                "watchfloor",
                "accounts",
                "add",
                "--account",
                "BEEF",
                "--site",
                "Harbour",
                "--data-dir",
                str(data_dir),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert added.returncode == 0, added.stderr
        with server.client() as client:
            with socket.create_connection(("127.0.0.1", server.dc09_port), timeout=10) as panel:
                panel.sendall(sia_frame("BEEF", 1))
                assert b"ACK" in panel.recv(1024)
            alarms = client.get("/api/alarms").json()["items"]
    assert [(a["site"], a["device"]) for a in alarms] == [("Harbour", "BEEF")]


def test_accounts_lifecycle_from_the_command_line(tmp_path: Path) -> None:
    def run(*args: str) -> str:
        result = runner.invoke(app, ["accounts", *args, "--data-dir", str(tmp_path)])
        assert result.exit_code == 0, result.output
        return result.output

    run("add", "--account", "C0FFEE", "--site", "Depot")
    assert "supervision every 300 s" in run(
        "update", "--account", "c0ffee", "--supervision", "300", "--site", "Harbour"
    )
    assert "DISABLED" in run("disable", "--account", "C0FFEE")
    assert "enabled" in run("enable", "--account", "C0FFEE")
    rotated = run("rotate-key", "--account", "C0FFEE", "--key-ascii", "0123456789ABCDEF")
    assert "encryption AES" in rotated
    assert "0123456789ABCDEF" not in rotated
    assert "encryption none" in run("rotate-key", "--account", "C0FFEE", "--clear")
    listing = run("list")
    assert "C0FFEE" in listing
    assert "Harbour" in listing
    assert "deleted account C0FFEE" in run("delete", "--account", "C0FFEE")
    missing = runner.invoke(
        app, ["accounts", "delete", "--account", "C0FFEE", "--data-dir", str(tmp_path)]
    )
    assert missing.exit_code == 1
    assert "--account" in missing.output


def test_rotate_key_needs_a_key_or_clear(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["accounts", "rotate-key", "--account", "1234", "--data-dir", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "--clear" in result.output
