"""Supervision of devices: interval, grace, since when, and the time the link was lost.

Revision ID: 0002
Revises: 0001
Create Date: 2025-02-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

# Written out, like 0001, so that later edits of tables.py never rewrite history.
_COLUMNS = (
    ("supervision_interval_seconds", sa.Float),
    ("supervision_grace_seconds", sa.Float),
    ("supervision_since", sa.DateTime(timezone=True)),
    ("link_lost_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    # Nullable columns without a default: a plain ALTER TABLE ADD COLUMN on both backends
    # (batch mode does not copy the table on SQLite for these), and every existing device
    # starts unsupervised with its link fine.
    with op.batch_alter_table("devices") as batch:
        for name, type_ in _COLUMNS:
            batch.add_column(sa.Column(name, type_, nullable=True))


def downgrade() -> None:
    # ALTER TABLE DROP COLUMN (SQLite >= 3.35) rather than batch mode's copy of the table:
    # the copy would drop ``devices`` while ``signals`` rows still refer to it, which fails
    # with foreign keys enforced. None of these columns is indexed or constrained.
    for name, _ in reversed(_COLUMNS):
        op.drop_column("devices", name)
