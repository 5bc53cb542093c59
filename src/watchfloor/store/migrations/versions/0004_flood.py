"""Flood control: the flood marker of alarms, and the index that measures each device's rate.

Revision ID: 0004
Revises: 0003
Create Date: 2025-03-15
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    # NOT NULL with a constant default: a plain ALTER TABLE ADD COLUMN on both backends (see
    # 0003). No existing alarm was flooded.
    op.add_column(
        "alarms",
        sa.Column("flooded", sa.Boolean, nullable=False, server_default=sa.text("false")),
    )
    # Every batch counts the recent signals of its devices: a range of this index each.
    op.create_index("ix_signals_device_received_at", "signals", ["device", "received_at"])


def downgrade() -> None:
    op.drop_index("ix_signals_device_received_at", table_name="signals")
    # ALTER TABLE DROP COLUMN (SQLite >= 3.35), as in 0003: the flood marker is lost.
    op.drop_column("alarms", "flooded")
