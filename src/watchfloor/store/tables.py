"""The relational schema of the store, as SQLAlchemy Core tables shared by code and migrations."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    literal_column,
    text,
)
from sqlalchemy.types import TypeDecorator

from watchfloor.core.alarms import OPEN_STATES
from watchfloor.store.sealing import SealedBytes, SealedText

__all__ = [
    "ID",
    "OPEN_ALARM_STATES_SQL",
    "SEALED_COLUMNS",
    "UtcDateTime",
    "alarm_timeline",
    "alarms",
    "api_tokens",
    "audit_checkpoints",
    "audit_log",
    "call_attempts",
    "camera_devices",
    "console_sessions",
    "contacts",
    "devices",
    "dispatches",
    "metadata",
    "notification_dead_letters",
    "signal_snapshots",
    "signals",
    "site_arming",
    "site_schedules",
    "sites",
    "store_health",
    "taxonomy_versions",
    "units",
    "users",
    "zones",
]

# Constraint names are fixed so that migrations can refer to them on every backend.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

#: Primary keys of the tables that grow with traffic. SQLite only auto-increments an
#: ``INTEGER PRIMARY KEY`` (a rowid alias), so BIGINT becomes INTEGER there (also 64-bit).
ID = BigInteger().with_variant(Integer(), "sqlite")

#: The open states (``core.alarms.OPEN_STATES``) as SQL, for the partial unique index below.
#: Literal because an index predicate cannot take bound parameters; built from the core's
#: set so that the two cannot drift (a migration must follow when the set changes: the
#: migration tests try every open state against the migrated index).
OPEN_ALARM_STATES_SQL = "state IN ({})".format(
    ", ".join(f"'{state.value}'" for state in sorted(OPEN_STATES))
)


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp stored as UTC and always read back as a timezone-aware UTC datetime.

    PostgreSQL keeps ``timestamptz``; SQLite has no time zones, so the value is stored as
    naive UTC text (fixed width, hence correctly ordered) and tagged UTC again on the way out.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert an aware datetime to UTC; a naive one is a bug in the caller."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given to the store; pass aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Tag the stored value as UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


sites = Table(
    "sites",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", Text, nullable=False, unique=True),
    Column("created_at", UtcDateTime, nullable=False),
    # Until when the whole site is on test: its devices' signals raise no alarm before then.
    Column("on_test_until", UtcDateTime, nullable=True),
    # The site record (migration 0009): where it is, what to do, whom to call.
    Column("address", Text, nullable=True),
    Column("latitude", Float, nullable=True),
    Column("longitude", Float, nullable=True),
    # An IANA zone name; schedules and call windows are in the site's local time.
    Column("time_zone", Text, nullable=False, server_default=text("'UTC'")),
    Column("customer_ref", Text, nullable=True),
    Column("police_number", Text, nullable=True),
    Column("fire_number", Text, nullable=True),
    Column("ambulance_number", Text, nullable=True),
    Column("instructions", Text, nullable=True),
    # argon2id hashes, never the passphrases (core.sites).
    Column("passphrase_hash", Text, nullable=True),
    Column("duress_hash", Text, nullable=True),
    # A decommissioned site is purged once its closed alarms are past their retention.
    Column("decommissioned_at", UtcDateTime, nullable=True),
    Column("updated_at", UtcDateTime, nullable=True),
)

#: A device's zone list: zone number or name -> what it is and where.
zones = Table(
    "zones",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("device_id", Integer, ForeignKey("devices.id", ondelete="CASCADE"), nullable=False),
    Column("zone", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("area", Text, nullable=True),
    UniqueConstraint("device_id", "zone"),
)

#: A site's call list: ordered contacts, each with phones and the windows they may be called
#: in (JSON), and passphrases as argon2id hashes. A contact removed is deleted.
contacts = Table(
    "contacts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("site_id", Integer, ForeignKey("sites.id", ondelete="CASCADE"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("name", Text, nullable=False),
    Column("role", String(32), nullable=False),
    Column("phones", Text, nullable=False),
    Column("call_windows", Text, nullable=False),
    Column("passphrase_hash", Text, nullable=True),
    Column("duress_hash", Text, nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
    Index("ix_contacts_site_position", "site_id", "position"),
    # Never reuse a removed contact's id: calls on alarms name contacts by id.
    sqlite_autoincrement=True,
)

#: A site's (or partition's) arming schedule (core.schedules): weekly windows and exceptions
#: as JSON, in the site's time zone.
site_schedules = Table(
    "site_schedules",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("site_id", Integer, ForeignKey("sites.id", ondelete="CASCADE"), nullable=False),
    # '' for the whole site, so that the pair is unique on every database.
    Column("partition", Text, nullable=False, server_default=text("''")),
    Column("windows", Text, nullable=False),
    Column("exceptions", Text, nullable=False),
    Column("close_grace_seconds", Float, nullable=False),
    Column("open_grace_seconds", Float, nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("site_id", "partition"),
)

#: The armed state of each scheduled site or partition (core.arming), kept by intake, and
#: which deadline each open/close condition was last raised for (migration 0011).
site_arming = Table(
    "site_arming",
    metadata,
    Column("site_id", Integer, ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True),
    # '' for the whole site, as in site_schedules.
    Column("partition", Text, primary_key=True),
    Column("armed", Boolean, nullable=True),
    Column("opened_at", UtcDateTime, nullable=True),
    Column("closed_at", UtcDateTime, nullable=True),
    # The device that reported last (its signals' device and DC-09 account).
    Column("device", Text, nullable=True),
    Column("account", Text, nullable=True),
    Column("failed_close_for", UtcDateTime, nullable=True),
    Column("late_open_for", UtcDateTime, nullable=True),
    Column("unexpected_open_for", UtcDateTime, nullable=True),
)

#: The calls an operator made to a site's contacts while handling an alarm. ``contact_id``
#: has no foreign key: a contact removed from the call list is deleted, its calls stay with
#: the alarm (and go with it at retention).
call_attempts = Table(
    "call_attempts",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("alarm_id", ID, ForeignKey("alarms.id"), nullable=False, index=True),
    Column("contact_id", Integer, nullable=False),
    Column("phone_label", Text, nullable=True),
    Column("outcome", String(32), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("actor", Text, nullable=False),
)

devices = Table(
    "devices",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),
    Column("name", Text, nullable=False),
    Column("site_id", Integer, ForeignKey("sites.id"), nullable=True),
    # DC-09 account number; NULLs never collide, so non-DC-09 devices leave it empty.
    Column("account", Text, nullable=True),
    # Sealed (store.sealing): encrypted under the secrets key file, opened on read.
    Column("aes_key", SealedBytes("devices.aes_key"), nullable=True),
    Column("enabled", Boolean, nullable=False, server_default=text("true")),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_seen_at", UtcDateTime, nullable=True),
    Column("clock_skew_seconds", Float, nullable=True),
    # Supervision (core.supervision): no interval means not supervised; no grace means
    # DEFAULT_GRACE. ``supervision_since`` is when the interval or grace was last set, from
    # which a device never heard is overdue. ``link_lost_at`` is set while the link is lost.
    Column("supervision_interval_seconds", Float, nullable=True),
    Column("supervision_grace_seconds", Float, nullable=True),
    Column("supervision_since", UtcDateTime, nullable=True),
    Column("link_lost_at", UtcDateTime, nullable=True),
    # Until when the device is on test (engineers at work): no alarm before then.
    Column("on_test_until", UtcDateTime, nullable=True),
    UniqueConstraint("kind", "account"),
    UniqueConstraint("kind", "name"),
)

alarms = Table(
    "alarms",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("origin", String(16), nullable=False),
    Column("type_code", Integer, nullable=False),
    Column("type_name", Text, nullable=False),
    Column("category", Text, nullable=False),
    Column("priority", Integer, nullable=False),
    Column("state", String(16), nullable=False),
    Column("site", Text, nullable=True),
    Column("device", Text, nullable=False),
    Column("zone", Text, nullable=True),
    # The zone's description when the alarm was raised (the device's zone list; migration 0009).
    Column("zone_name", Text, nullable=True),
    # ``Signal.device`` of the signals that correlate here; ``device`` above is the display
    # name, which differs for registered devices.
    Column("key_device", Text, nullable=False),
    Column("signal_count", Integer, nullable=False),
    Column("first_at", UtcDateTime, nullable=False),
    Column("last_at", UtcDateTime, nullable=False),
    Column("restored_at", UtcDateTime, nullable=True),
    Column("acknowledged_at", UtcDateTime, nullable=True),
    Column("dispatched_at", UtcDateTime, nullable=True),
    Column("resolved_at", UtcDateTime, nullable=True),
    Column("closed_at", UtcDateTime, nullable=True),
    Column("outcome", String(16), nullable=True),
    Column("held_from", String(16), nullable=True),
    Column("claimed_by", Text, nullable=True),
    Column("acknowledged_by", Text, nullable=True),
    Column("resolved_by", Text, nullable=True),
    # When a new alarm next climbs the escalation ladder unless acknowledged (None: never, or
    # no level left); see overdue_alarms.
    Column("ack_deadline", UtcDateTime, nullable=True),
    # How many levels of the ladder were told, and the name of the last (None: none).
    Column("escalation_count", Integer, nullable=False, server_default=text("0")),
    Column("escalation_level", Text, nullable=True),
    # The indexes of the procedure steps done, as a JSON list of ints.
    Column("sop_done", Text, nullable=False, server_default=text("'[]'")),
    # Flood control folded into this alarm signals that would have opened alarms of their own.
    Column("flooded", Boolean, nullable=False, server_default=text("false")),
    Column("version", Integer, nullable=False),
    Index("ix_alarms_open_lookup", "key_device", "type_code", "zone", "state"),
    # The escalation query: state = 'new' AND ack_deadline <= now, by deadline.
    Index("ix_alarms_state_ack_deadline", "state", "ack_deadline"),
)

# At most one open alarm per correlation key, even with several writers (several nodes on one
# PostgreSQL): a racing second insert fails its batch, whose senders retry and then join the
# alarm that won. COALESCE because NULL zones never collide in a unique index.
Index(
    "uq_alarms_open_key",
    alarms.c.key_device,
    alarms.c.type_code,
    func.coalesce(alarms.c.zone, literal_column("''")),
    unique=True,
    sqlite_where=text(OPEN_ALARM_STATES_SQL),
    postgresql_where=text(OPEN_ALARM_STATES_SQL),
)

signals = Table(
    "signals",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("alarm_id", ID, ForeignKey("alarms.id"), nullable=True, index=True),
    Column("device_id", Integer, ForeignKey("devices.id"), nullable=True),
    Column("device", Text, nullable=False),
    Column("source", String(16), nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    Column("code_system", String(32), nullable=False),
    Column("code", Text, nullable=False),
    Column("zone", Text, nullable=True),
    Column("partition", Text, nullable=True),
    Column("restore", Boolean, nullable=False),
    Column("text", Text, nullable=True),
    Column("raw", Text, nullable=False),
    Column("peer", Text, nullable=True),
    Column("account", Text, nullable=True),
    Column("seq", Text, nullable=True),
    Column("token", Text, nullable=True),
    Column("ext", Text, nullable=False),
    Column("type_code", Integer, nullable=False),
    # sha256(account|seq|raw) of DC-09 signals, to store a retransmission once (DC-09 rule 4).
    Column("dedupe_key", String(64), nullable=True, index=True),
    Index("ix_signals_device_id_desc", "device", "id"),
    # Flood control counts each device's signals of the last minute or so, every batch.
    Index("ix_signals_device_received_at", "device", "received_at"),
)

alarm_timeline = Table(
    "alarm_timeline",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("alarm_id", ID, ForeignKey("alarms.id"), nullable=False, index=True),
    Column("at", UtcDateTime, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("actor", Text, nullable=False),
    Column("detail", Text, nullable=False),
    Column("signal_id", ID, ForeignKey("signals.id"), nullable=True),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_name", Text, nullable=False),
    Column("role", String(16), nullable=False),
    Column("label", Text, nullable=False),
    # sha256 hex of the token: the token itself is never stored.
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime, nullable=True),
)

#: One row that ``check_writable`` rewrites to prove that the store accepts a write.
store_health = Table(
    "store_health",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("checked_at", UtcDateTime, nullable=False),
)

# --- audit log, checkpoints and taxonomy history (migration 0008) ----------------------------

#: The append-only, hash-chained audit log (``core.audit``). The database refuses UPDATE and
#: DELETE on it (triggers, see migration 0008). ``seq`` is given by the writer, 1, 2, 3 ...
audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", ID, primary_key=True, autoincrement=False),
    Column("at", UtcDateTime, nullable=False),
    Column("actor", Text, nullable=False),
    Column("role", String(16), nullable=True),
    Column("via", Text, nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", Text, nullable=True),
    Column("peer", Text, nullable=True),
    Column("reason", Text, nullable=True),
    Column("outcome", String(16), nullable=False),
    Column("digest", String(64), nullable=True),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    # The transparency register counts searches and exports of the last 30 days.
    Index("ix_audit_log_action_at", "action", "at"),
    Index("ix_audit_log_actor_seq", "actor", "seq"),
)

#: Signed statements of the chain's length and head; append-only like the log.
audit_checkpoints = Table(
    "audit_checkpoints",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("count", ID, nullable=False),
    Column("head_hash", String(64), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("key_id", String(64), nullable=False),
    Column("signature", String(128), nullable=False),
)

#: Each taxonomy put in force, for the transparency register's history of changes.
taxonomy_versions = Table(
    "taxonomy_versions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("loaded_at", UtcDateTime, nullable=False),
    Column("version", Text, nullable=False),
    # SHA-256 of the canonical catalogue (types and mappings), to notice a change.
    Column("digest", String(64), nullable=False),
    Column("type_count", Integer, nullable=False),
    # What changed since the previous version, as JSON lists of type codes.
    Column("added", Text, nullable=False),
    Column("removed", Text, nullable=False),
    Column("changed", Text, nullable=False),
    # Each type's fingerprint (core.taxonomy_history) as JSON, to compare the next version.
    Column("fingerprints", Text, nullable=False),
)

# --- cameras, NVRs and Frigate -----------------------------------------------------------------

#: What a camera, NVR or Frigate instance needs beyond its ``devices`` row (one row each).
camera_devices = Table(
    "camera_devices",
    metadata,
    Column("device_id", Integer, ForeignKey("devices.id"), primary_key=True),
    # sha256 hex of the secret in the URL a camera posts to: the secret itself is not stored.
    Column("secret_hash", String(64), nullable=True, unique=True),
    # Where to pull from: a Hikvision device's base URL (alertStream), Frigate's HTTP API.
    Column("url", Text, nullable=True),
    Column("username", Text, nullable=True),
    # Presented to the device (HTTP digest), so kept sealed, not hashed; never shown or logged.
    Column("password", SealedText("camera_devices.password"), nullable=True),
    Column("pull", Boolean, nullable=False, server_default=text("false")),
    # A Frigate instance's MQTT topic prefix ("frigate" by default).
    Column("topic_prefix", Text, nullable=True, unique=True),
    Column("zone", Text, nullable=True),
    # core.mapping_overrides as JSON (MappingOverrides.as_document), or NULL.
    Column("mapping_overrides", Text, nullable=True),
)

#: Pictures that came with a signal, written in the signal's own transaction.
signal_snapshots = Table(
    "signal_snapshots",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("signal_id", ID, ForeignKey("signals.id"), nullable=False, index=True),
    Column("content_type", String(64), nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size", Integer, nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
)

# -- staff reports, calls, units, dispatch and notifications out (migration 0007) -----------

#: A staff report or call is stored once per sender and idempotency key, even when two nodes
#: take its resends at once (the losing batch fails; its sender retries and gets the first).
Index(
    "uq_signals_report_key",
    signals.c.dedupe_key,
    unique=True,
    sqlite_where=text("source IN ('patrol', 'call')"),
    postgresql_where=text("source IN ('patrol', 'call')"),
)

units = Table(
    "units",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", Text, nullable=False, unique=True),
    # The user whose phone page reports for the unit (None: operators only).
    Column("user_name", Text, nullable=True, index=True),
    Column("status", String(16), nullable=False),
    Column("status_at", UtcDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

dispatches = Table(
    "dispatches",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("alarm_id", ID, ForeignKey("alarms.id"), nullable=False, index=True),
    Column("unit_id", Integer, ForeignKey("units.id"), nullable=False),
    Column("dispatched_at", UtcDateTime, nullable=False),
    Column("dispatched_by", Text, nullable=False),
    Column("acknowledged_at", UtcDateTime, nullable=True),
    Column("en_route_at", UtcDateTime, nullable=True),
    Column("on_scene_at", UtcDateTime, nullable=True),
    Column("cleared_at", UtcDateTime, nullable=True),
    Index("ix_dispatches_unit_id_cleared_at", "unit_id", "cleared_at"),
)

#: Webhook deliveries that failed every attempt, for administrators to look at and replay.
notification_dead_letters = Table(
    "notification_dead_letters",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("rule", Text, nullable=False),
    Column("channel", String(16), nullable=False),
    Column("destination", Text, nullable=False),
    Column("alarm_id", ID, nullable=False),
    Column("body", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text, nullable=False),
    Column("failed_at", UtcDateTime, nullable=False),
)

# --- Users and console sessions (migration 0005) -------------------------------------------

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", Text, nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    # argon2 hash (PHC string); None: the user may use tokens but not sign in.
    Column("password_hash", Text, nullable=True),
    # TOTP secrets (base32) are needed in clear to verify codes, so kept sealed, not hashed;
    # never logged or sent out.
    Column("totp_secret", SealedText("users.totp_secret"), nullable=True),
    Column("totp_pending", SealedText("users.totp_pending"), nullable=True),
    Column("totp_last_step", BigInteger, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("disabled_at", UtcDateTime, nullable=True),
)

console_sessions = Table(
    "console_sessions",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    # sha256 hex of the cookie's token: the token itself is never stored.
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("user_name", Text, ForeignKey("users.name"), nullable=False, index=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_seen_at", UtcDateTime, nullable=False),
    Column("ended_at", UtcDateTime, nullable=True),
    Column("peer", Text, nullable=True),
)

#: Every sealed column (``store.sealing``) with its table's primary key, for the start-up
#: sweep that seals values stored in clear or under an older key.
SEALED_COLUMNS: tuple[tuple[Column[Any], Column[Any]], ...] = (
    (devices.c.id, devices.c.aes_key),
    (camera_devices.c.device_id, camera_devices.c.password),
    (users.c.id, users.c.totp_secret),
    (users.c.id, users.c.totp_pending),
)
