"""Open/close supervision: the armed state of each scheduled site or partition.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

# Only these two lines name the revisions: renumbering the file means changing them.
revision = "0011"
down_revision: str | None = "0010"
branch_labels: str | None = None
depends_on: str | None = None


def _ts() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "site_arming",
        sa.Column(
            "site_id",
            sa.Integer,
            sa.ForeignKey("sites.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("partition", sa.Text, primary_key=True),
        sa.Column("armed", sa.Boolean, nullable=True),
        sa.Column("opened_at", _ts(), nullable=True),
        sa.Column("closed_at", _ts(), nullable=True),
        sa.Column("device", sa.Text, nullable=True),
        sa.Column("account", sa.Text, nullable=True),
        sa.Column("failed_close_for", _ts(), nullable=True),
        sa.Column("late_open_for", _ts(), nullable=True),
        sa.Column("unexpected_open_for", _ts(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("site_arming")
