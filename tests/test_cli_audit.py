"""``watchfloor audit``: verify exits non-zero and names the first broken row; checkpoints."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from typer.testing import CliRunner

from watchfloor.cli import app

runner = CliRunner()


def _invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def _fill(data_dir: Path, accounts: int) -> None:
    for n in range(accounts):
        code, output = _invoke(
            "accounts", "add", "--account", f"{n + 100}", "--data-dir", str(data_dir)
        )
        assert code == 0, output


def _sql(data_dir: Path, *statements: str) -> None:
    connection = sqlite3.connect(data_dir / "watchfloor.db")
    try:
        for statement in statements:
            connection.execute(statement)
        connection.commit()
    finally:
        connection.close()


DROP_TRIGGERS = ("DROP TRIGGER audit_log_no_update", "DROP TRIGGER audit_log_no_delete")


def test_verify_passes_on_an_intact_log_written_by_the_cli(tmp_path: Path) -> None:
    _fill(tmp_path, 3)
    code, output = _invoke("audit", "checkpoint", "--data-dir", str(tmp_path))
    assert code == 0, output
    assert "checkpoint signed: 4 rows" in output
    code, output = _invoke("audit", "verify", "--data-dir", str(tmp_path))
    assert code == 0, output
    assert "audit log OK: 4 rows, 1 signed checkpoints" in output
    rows = (
        sqlite3.connect(tmp_path / "watchfloor.db")
        .execute("SELECT via, action, target FROM audit_log ORDER BY seq")
        .fetchall()
    )
    assert rows[0] == ("cli", "account.add", "account:100")


def test_verify_names_a_changed_byte(tmp_path: Path) -> None:
    _fill(tmp_path, 4)
    _sql(tmp_path, *DROP_TRIGGERS, "UPDATE audit_log SET target = 'account:10X' WHERE seq = 3")
    code, output = _invoke("audit", "verify", "--data-dir", str(tmp_path))
    assert code == 1
    assert "first broken row 3" in output
    assert "row 3 was changed after it was written" in output


def test_verify_names_a_deleted_row(tmp_path: Path) -> None:
    _fill(tmp_path, 4)
    _sql(tmp_path, *DROP_TRIGGERS, "DELETE FROM audit_log WHERE seq = 2")
    code, output = _invoke("audit", "verify", "--data-dir", str(tmp_path))
    assert code == 1
    assert "row 2 is missing" in output


def test_verify_catches_a_truncated_chain(tmp_path: Path) -> None:
    _fill(tmp_path, 4)
    assert _invoke("audit", "checkpoint", "--data-dir", str(tmp_path))[0] == 0
    _sql(tmp_path, *DROP_TRIGGERS, "DELETE FROM audit_log WHERE seq > 2")
    code, output = _invoke("audit", "verify", "--data-dir", str(tmp_path))
    assert code == 1
    assert "rows after it were removed" in output


def test_verify_refuses_a_checkpoint_signed_by_another_key(tmp_path: Path) -> None:
    _fill(tmp_path, 1)
    assert _invoke("audit", "checkpoint", "--data-dir", str(tmp_path))[0] == 0
    code, key = _invoke("audit", "key", "--data-dir", str(tmp_path))
    assert code == 0
    (tmp_path / "audit-signing-key.pem").rename(tmp_path / "old-key.pem")
    code, output = _invoke("audit", "verify", "--data-dir", str(tmp_path))
    assert code == 1
    assert "does not verify with a trusted key" in output
    code, output = _invoke(
        "audit", "verify", "--data-dir", str(tmp_path), "--trusted-key", key.strip()
    )
    assert code == 0, output
    code, output = _invoke("audit", "verify", "--data-dir", str(tmp_path), "--trusted-key", "xyz")
    assert code == 2
    assert "--trusted-key" in output


def test_purge_reports_what_it_removed(tmp_path: Path) -> None:
    _fill(tmp_path, 1)
    code, output = _invoke("purge", "--data-dir", str(tmp_path))
    assert code == 0, output
    assert "nothing is past its retention period" in output
    (tmp_path / "short.toml").write_text("retention_signals_days = 0\n", encoding="utf-8")
    code, output = _invoke(
        "purge", "--data-dir", str(tmp_path), "--config", str(tmp_path / "short.toml")
    )
    assert code == 2
    assert "retention_signals_days" in output
