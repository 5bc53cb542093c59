"""Staff reports, call intake, units, dispatch and notifications out.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None

# Written out rather than generated from watchfloor.store.tables (see 0001).
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_REPORT_SOURCES = "source IN ('patrol', 'call')"


def _ts() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    # A report's or call's idempotency key (kept as the signal's dedupe key) is unique per
    # sender; DC-09 dedupe keys repeat by design and stay outside the index.
    op.create_index(
        "uq_signals_report_key",
        "signals",
        ["dedupe_key"],
        unique=True,
        sqlite_where=sa.text(_REPORT_SOURCES),
        postgresql_where=sa.text(_REPORT_SOURCES),
    )
    op.create_table(
        "units",
        sa.Column("id", sa.Integer, autoincrement=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("user_name", sa.Text, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_at", _ts(), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_units"),
        sa.UniqueConstraint("name", name="uq_units_name"),
    )
    op.create_index("ix_units_user_name", "units", ["user_name"])
    op.create_table(
        "dispatches",
        sa.Column("id", _ID, autoincrement=True),
        sa.Column("alarm_id", _ID, nullable=False),
        sa.Column("unit_id", sa.Integer, nullable=False),
        sa.Column("dispatched_at", _ts(), nullable=False),
        sa.Column("dispatched_by", sa.Text, nullable=False),
        sa.Column("acknowledged_at", _ts(), nullable=True),
        sa.Column("en_route_at", _ts(), nullable=True),
        sa.Column("on_scene_at", _ts(), nullable=True),
        sa.Column("cleared_at", _ts(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_dispatches"),
        sa.ForeignKeyConstraint(["alarm_id"], ["alarms.id"], name="fk_dispatches_alarm_id_alarms"),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name="fk_dispatches_unit_id_units"),
    )
    op.create_index("ix_dispatches_alarm_id", "dispatches", ["alarm_id"])
    op.create_index("ix_dispatches_unit_id_cleared_at", "dispatches", ["unit_id", "cleared_at"])
    op.create_table(
        "notification_dead_letters",
        sa.Column("id", _ID, autoincrement=True),
        sa.Column("rule", sa.Text, nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("destination", sa.Text, nullable=False),
        sa.Column("alarm_id", _ID, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text, nullable=False),
        sa.Column("failed_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_notification_dead_letters"),
    )


def downgrade() -> None:
    op.drop_table("notification_dead_letters")
    op.drop_index("ix_dispatches_unit_id_cleared_at", table_name="dispatches")
    op.drop_index("ix_dispatches_alarm_id", table_name="dispatches")
    op.drop_table("dispatches")
    op.drop_index("ix_units_user_name", table_name="units")
    op.drop_table("units")
    op.drop_index("uq_signals_report_key", table_name="signals")
