"""Tamper-evident audit log, its signed checkpoints, and the history of the taxonomy.

The audit tables are append-only in the database itself: triggers refuse UPDATE and DELETE on
SQLite and PostgreSQL (and TRUNCATE on PostgreSQL), and on PostgreSQL those privileges are
revoked from PUBLIC. Whoever can drop a trigger can still rewrite rows; the hash chain and
the signed checkpoints are what detect that.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None

_APPEND_ONLY = ("audit_log", "audit_checkpoints")

_POSTGRES_FUNCTION = """
CREATE OR REPLACE FUNCTION watchfloor_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP;
END;
$$ LANGUAGE plpgsql
"""


def _id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("seq", _id(), primary_key=True, autoincrement=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("role", sa.String(16), nullable=True),
        sa.Column("via", sa.Text, nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.Text, nullable=True),
        sa.Column("peer", sa.Text, nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("digest", sa.String(64), nullable=True),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_action_at", "audit_log", ["action", "at"])
    op.create_index("ix_audit_log_actor_seq", "audit_log", ["actor", "seq"])
    op.create_table(
        "audit_checkpoints",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("count", _id(), nullable=False),
        sa.Column("head_hash", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("signature", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_checkpoints"),
    )
    op.create_table(
        "taxonomy_versions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Text, nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("type_count", sa.Integer, nullable=False),
        sa.Column("added", sa.Text, nullable=False),
        sa.Column("removed", sa.Text, nullable=False),
        sa.Column("changed", sa.Text, nullable=False),
        sa.Column("fingerprints", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_taxonomy_versions"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_POSTGRES_FUNCTION)
        for table in _APPEND_ONLY:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION watchfloor_append_only()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION watchfloor_append_only()"
            )
            op.execute(f"REVOKE UPDATE, DELETE, TRUNCATE ON {table} FROM PUBLIC")
    else:
        for table in _APPEND_ONLY:
            for operation in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{operation.lower()} BEFORE {operation} "
                    f"ON {table} BEGIN SELECT RAISE(ABORT, '{table} is append-only: "
                    f"{operation} refused'); END"
                )


def downgrade() -> None:
    # Dropping the tables drops their triggers on both backends.
    op.drop_table("taxonomy_versions")
    op.drop_table("audit_checkpoints")
    op.drop_index("ix_audit_log_actor_seq", table_name="audit_log")
    op.drop_index("ix_audit_log_action_at", table_name="audit_log")
    op.drop_table("audit_log")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS watchfloor_append_only()")
