"""The escalation ladder: the name of the last level told of an overdue alarm.

Escalation no longer raises an alarm's priority; it tells the levels of the taxonomy's ladder
(supervisor, duty manager ...) one after the other, each once. ``escalation_count`` keeps its
meaning of "how many times escalated", now at most the ladder's length.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    # Nullable with no default: a plain ALTER TABLE ADD COLUMN on both backends. An alarm
    # escalated before the ladder existed has no level name (NULL), only its count.
    op.add_column("alarms", sa.Column("escalation_level", sa.Text, nullable=True))


def downgrade() -> None:
    # ALTER TABLE DROP COLUMN (SQLite >= 3.35), as in 0003: the level names are lost.
    op.drop_column("alarms", "escalation_level")
