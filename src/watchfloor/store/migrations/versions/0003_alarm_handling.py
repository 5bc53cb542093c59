"""Alarm handling: who holds and handled an alarm, its deadline, procedure, and test periods.

Revision ID: 0003
Revises: 0002
Create Date: 2025-03-01
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

# Written out, like 0001, so that later edits of tables.py never rewrite history.
_OLD_OPEN = "state IN ('new', 'acknowledged', 'dispatched')"
_NEW_OPEN = "state IN ('acknowledged', 'dispatched', 'held', 'new')"


def _ts() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _alarm_columns() -> tuple[sa.Column[Any], ...]:
    return (
        sa.Column("dispatched_at", _ts(), nullable=True),
        sa.Column("closed_at", _ts(), nullable=True),
        sa.Column("held_from", sa.String(16), nullable=True),
        sa.Column("claimed_by", sa.Text, nullable=True),
        sa.Column("acknowledged_by", sa.Text, nullable=True),
        sa.Column("resolved_by", sa.Text, nullable=True),
        sa.Column("ack_deadline", _ts(), nullable=True),
        sa.Column("escalation_count", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("sop_done", sa.Text, nullable=False, server_default=sa.text("'[]'")),
    )


def _open_key_index(predicate: str) -> None:
    op.create_index(
        "uq_alarms_open_key",
        "alarms",
        ["key_device", "type_code", sa.text("coalesce(zone, '')")],
        unique=True,
        sqlite_where=sa.text(predicate),
        postgresql_where=sa.text(predicate),
    )


def upgrade() -> None:
    # Nullable columns, or NOT NULL with a constant default: a plain ALTER TABLE ADD COLUMN
    # on both backends, which SQLite supports without copying the table (batch mode would
    # reflect ``alarms`` first and cannot reflect its expression index). Every existing
    # alarm starts never escalated, with no procedure step done.
    for column in _alarm_columns():
        op.add_column("alarms", column)
    # Serves the escalation query: state = 'new' AND ack_deadline <= now, by deadline.
    op.create_index("ix_alarms_state_ack_deadline", "alarms", ["state", "ack_deadline"])
    for table in ("devices", "sites"):
        op.add_column(table, sa.Column("on_test_until", _ts(), nullable=True))
    # A held alarm is open: it still collects repeats, so it holds its key like the others.
    op.drop_index("uq_alarms_open_key", table_name="alarms")
    _open_key_index(_NEW_OPEN)


def downgrade() -> None:
    # 0002 knows no held state: a held alarm returns to the state it was held from, which
    # is open too, so the alarm keeps its key and the old index cannot be violated.
    op.execute(
        sa.text(
            "UPDATE alarms SET state = coalesce(held_from, 'acknowledged') WHERE state = 'held'"
        )
    )
    op.drop_index("uq_alarms_open_key", table_name="alarms")
    _open_key_index(_OLD_OPEN)
    # ALTER TABLE DROP COLUMN (SQLite >= 3.35) rather than batch mode's copy of the table,
    # which would fail with foreign keys enforced (see 0002). SQLite refuses to drop an
    # indexed column, so the index goes first.
    op.drop_index("ix_alarms_state_ack_deadline", table_name="alarms")
    for table in ("sites", "devices"):
        op.drop_column(table, "on_test_until")
    for column in reversed(_alarm_columns()):
        op.drop_column("alarms", column.name)
