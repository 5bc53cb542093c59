"""Cameras, NVRs and Frigate: device registry fields and event snapshots.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None

# Written out, like 0001, so that later edits of tables.py never rewrite history.
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "camera_devices",
        sa.Column("device_id", sa.Integer, nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=True),
        sa.Column("url", sa.Text, nullable=True),
        sa.Column("username", sa.Text, nullable=True),
        sa.Column("password", sa.Text, nullable=True),
        sa.Column("pull", sa.Boolean, nullable=False, server_default=sa.text("false")),
        sa.Column("topic_prefix", sa.Text, nullable=True),
        sa.Column("zone", sa.Text, nullable=True),
        sa.Column("mapping_overrides", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("device_id", name="pk_camera_devices"),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name="fk_camera_devices_device_id_devices"
        ),
        sa.UniqueConstraint("secret_hash", name="uq_camera_devices_secret_hash"),
        sa.UniqueConstraint("topic_prefix", name="uq_camera_devices_topic_prefix"),
    )
    op.create_table(
        "signal_snapshots",
        sa.Column("id", _ID, autoincrement=True),
        sa.Column("signal_id", _ID, nullable=False),
        sa.Column("content_type", sa.String(64), nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_signal_snapshots"),
        sa.ForeignKeyConstraint(
            ["signal_id"], ["signals.id"], name="fk_signal_snapshots_signal_id_signals"
        ),
    )
    op.create_index("ix_signal_snapshots_signal_id", "signal_snapshots", ["signal_id"])


def downgrade() -> None:
    op.drop_index("ix_signal_snapshots_signal_id", table_name="signal_snapshots")
    op.drop_table("signal_snapshots")
    op.drop_table("camera_devices")
