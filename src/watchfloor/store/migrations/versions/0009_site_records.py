"""Site records: the site's address, position, time zone, instructions and passphrases; each
device's zone list; the site's call list; the arming schedule.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None

_SITE_COLUMNS = (
    ("address", sa.Text),
    ("latitude", sa.Float),
    ("longitude", sa.Float),
    ("customer_ref", sa.Text),
    ("police_number", sa.Text),
    ("fire_number", sa.Text),
    ("ambulance_number", sa.Text),
    ("instructions", sa.Text),
    ("passphrase_hash", sa.Text),
    ("duress_hash", sa.Text),
)


def _ts() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    # Plain ALTER TABLE: a batch copy of ``sites`` could not drop it while devices refer to it.
    for name, kind in _SITE_COLUMNS:
        op.add_column("sites", sa.Column(name, kind, nullable=True))
    op.add_column(
        "sites", sa.Column("time_zone", sa.Text, nullable=False, server_default=sa.text("'UTC'"))
    )
    op.add_column("sites", sa.Column("decommissioned_at", _ts(), nullable=True))
    op.add_column("sites", sa.Column("updated_at", _ts(), nullable=True))
    op.create_table(
        "zones",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "device_id", sa.Integer, sa.ForeignKey("devices.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("zone", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("area", sa.Text, nullable=True),
        sa.UniqueConstraint("device_id", "zone"),
    )
    op.create_table(
        "contacts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "site_id", sa.Integer, sa.ForeignKey("sites.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("phones", sa.Text, nullable=False),
        sa.Column("call_windows", sa.Text, nullable=False),
        sa.Column("passphrase_hash", sa.Text, nullable=True),
        sa.Column("duress_hash", sa.Text, nullable=True),
        sa.Column("updated_at", _ts(), nullable=False),
        # Never reuse a removed contact's id: calls on alarms name contacts by id.
        sqlite_autoincrement=True,
    )
    op.create_index("ix_contacts_site_position", "contacts", ["site_id", "position"])
    op.create_table(
        "site_schedules",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "site_id", sa.Integer, sa.ForeignKey("sites.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("partition", sa.Text, nullable=False, server_default=sa.text("''")),
        sa.Column("windows", sa.Text, nullable=False),
        sa.Column("exceptions", sa.Text, nullable=False),
        sa.Column("close_grace_seconds", sa.Float, nullable=False),
        sa.Column("open_grace_seconds", sa.Float, nullable=True),
        sa.Column("updated_at", _ts(), nullable=False),
        sa.UniqueConstraint("site_id", "partition"),
    )
    op.add_column("alarms", sa.Column("zone_name", sa.Text, nullable=True))
    op.create_table(
        "call_attempts",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column(
            "alarm_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.ForeignKey("alarms.id"),
            nullable=False,
        ),
        sa.Column("contact_id", sa.Integer, nullable=False),
        sa.Column("phone_label", sa.Text, nullable=True),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("at", _ts(), nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
    )
    op.create_index("ix_call_attempts_alarm_id", "call_attempts", ["alarm_id"])


def downgrade() -> None:
    op.drop_index("ix_call_attempts_alarm_id", table_name="call_attempts")
    op.drop_table("call_attempts")
    op.execute("ALTER TABLE alarms DROP COLUMN zone_name")
    op.drop_table("site_schedules")
    op.drop_index("ix_contacts_site_position", table_name="contacts")
    op.drop_table("contacts")
    op.drop_table("zones")
    # SQLite 3.35+ drops a column in place (see upgrade).
    for name in ("updated_at", "decommissioned_at", "time_zone", *(n for n, _ in _SITE_COLUMNS)):
        op.execute(f"ALTER TABLE sites DROP COLUMN {name}")
