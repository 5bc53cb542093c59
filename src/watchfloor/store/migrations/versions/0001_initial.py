"""Initial schema: sites, devices, signals, alarms, their timeline, API tokens, health row.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

# Written out rather than generated from watchfloor.store.tables, so that later edits of the
# tables never rewrite history. Keep in step with tables.py (a test compares the two).
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_OPEN = "state IN ('new', 'acknowledged', 'dispatched')"


def _ts() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "sites",
        sa.Column("id", sa.Integer, autoincrement=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sites"),
        sa.UniqueConstraint("name", name="uq_sites_name"),
    )
    op.create_table(
        "devices",
        sa.Column("id", sa.Integer, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("site_id", sa.Integer, nullable=True),
        sa.Column("account", sa.Text, nullable=True),
        sa.Column("aes_key", sa.LargeBinary, nullable=True),
        sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.text("true")),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("last_seen_at", _ts(), nullable=True),
        sa.Column("clock_skew_seconds", sa.Float, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_devices"),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name="fk_devices_site_id_sites"),
        sa.UniqueConstraint("kind", "account", name="uq_devices_kind_account"),
        sa.UniqueConstraint("kind", "name", name="uq_devices_kind_name"),
    )
    op.create_table(
        "alarms",
        sa.Column("id", _ID, autoincrement=True),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("type_code", sa.Integer, nullable=False),
        sa.Column("type_name", sa.Text, nullable=False),
        sa.Column("category", sa.Text, nullable=False),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("site", sa.Text, nullable=True),
        sa.Column("device", sa.Text, nullable=False),
        sa.Column("zone", sa.Text, nullable=True),
        sa.Column("key_device", sa.Text, nullable=False),
        sa.Column("signal_count", sa.Integer, nullable=False),
        sa.Column("first_at", _ts(), nullable=False),
        sa.Column("last_at", _ts(), nullable=False),
        sa.Column("restored_at", _ts(), nullable=True),
        sa.Column("acknowledged_at", _ts(), nullable=True),
        sa.Column("resolved_at", _ts(), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_alarms"),
    )
    op.create_index("ix_alarms_open_lookup", "alarms", ["key_device", "type_code", "zone", "state"])
    op.create_index(
        "uq_alarms_open_key",
        "alarms",
        ["key_device", "type_code", sa.text("coalesce(zone, '')")],
        unique=True,
        sqlite_where=sa.text(_OPEN),
        postgresql_where=sa.text(_OPEN),
    )
    op.create_table(
        "signals",
        sa.Column("id", _ID, autoincrement=True),
        sa.Column("alarm_id", _ID, nullable=True),
        sa.Column("device_id", sa.Integer, nullable=True),
        sa.Column("device", sa.Text, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("received_at", _ts(), nullable=False),
        sa.Column("code_system", sa.String(32), nullable=False),
        sa.Column("code", sa.Text, nullable=False),
        sa.Column("zone", sa.Text, nullable=True),
        sa.Column("partition", sa.Text, nullable=True),
        sa.Column("restore", sa.Boolean, nullable=False),
        sa.Column("text", sa.Text, nullable=True),
        sa.Column("raw", sa.Text, nullable=False),
        sa.Column("peer", sa.Text, nullable=True),
        sa.Column("account", sa.Text, nullable=True),
        sa.Column("seq", sa.Text, nullable=True),
        sa.Column("token", sa.Text, nullable=True),
        sa.Column("ext", sa.Text, nullable=False),
        sa.Column("type_code", sa.Integer, nullable=False),
        sa.Column("dedupe_key", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_signals"),
        sa.ForeignKeyConstraint(["alarm_id"], ["alarms.id"], name="fk_signals_alarm_id_alarms"),
        sa.ForeignKeyConstraint(["device_id"], ["devices.id"], name="fk_signals_device_id_devices"),
    )
    op.create_index("ix_signals_alarm_id", "signals", ["alarm_id"])
    op.create_index("ix_signals_dedupe_key", "signals", ["dedupe_key"])
    op.create_index("ix_signals_device_id_desc", "signals", ["device", "id"])
    op.create_table(
        "alarm_timeline",
        sa.Column("id", _ID, autoincrement=True),
        sa.Column("alarm_id", _ID, nullable=False),
        sa.Column("at", _ts(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("signal_id", _ID, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_alarm_timeline"),
        sa.ForeignKeyConstraint(
            ["alarm_id"], ["alarms.id"], name="fk_alarm_timeline_alarm_id_alarms"
        ),
        sa.ForeignKeyConstraint(
            ["signal_id"], ["signals.id"], name="fk_alarm_timeline_signal_id_signals"
        ),
    )
    op.create_index("ix_alarm_timeline_alarm_id", "alarm_timeline", ["alarm_id"])
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer, autoincrement=True),
        sa.Column("user_name", sa.Text, nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("label", sa.Text, nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("revoked_at", _ts(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_api_tokens_token_hash"),
    )
    op.create_table(
        "store_health",
        sa.Column("id", sa.Integer, autoincrement=False),
        sa.Column("checked_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_store_health"),
    )


def downgrade() -> None:
    for table in ("store_health", "api_tokens", "alarm_timeline", "signals", "alarms"):
        op.drop_table(table)
    for table in ("devices", "sites"):
        op.drop_table(table)
