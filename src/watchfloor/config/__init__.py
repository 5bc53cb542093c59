"""Settings: parsed once at start-up from defaults, a TOML file, the environment and the CLI."""

from __future__ import annotations

import ipaddress
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from watchfloor.config.notify import read_notify_rules
from watchfloor.core.notifications import NotificationRule

__all__ = ["HostPort", "Secret", "Settings", "SettingsError", "load_settings"]

ENV_PREFIX = "WATCHFLOOR_"


class SettingsError(Exception):
    """The settings are invalid; the message lists every problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid settings:\n  " + "\n  ".join(problems))
        self.problems = tuple(problems)


@dataclass(frozen=True, slots=True)
class Secret:
    """A secret string that never shows itself in a repr or a log line."""

    value: str = field(repr=False)

    def __repr__(self) -> str:
        return "Secret('**********')"

    def __str__(self) -> str:
        return "**********"


@dataclass(frozen=True, slots=True, kw_only=True)
class HostPort:
    """A listening address."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Everything the server needs to start. Defaults are safe: SQLite, loopback only."""

    data_dir: Path = Path("var")
    http: HostPort = HostPort(host="127.0.0.1", port=8080)
    dc09: HostPort = HostPort(host="127.0.0.1", port=12000)
    database_url: Secret | None = None
    bootstrap_token: Secret | None = None
    operator_name: str | None = None
    contact: str | None = None
    taxonomy_file: Path | None = None
    dc09_reject_unknown: bool = False
    dc09_idle_timeout: float = 300.0
    dc09_max_frame: int = 4096
    dc09_max_connections: int = 10_000
    dc09_unregistered_per_minute: float = 300.0
    dc09_unregistered_burst: int = 100
    # A DC-09 frame must be complete this many seconds after its first byte (slow senders
    # holding connections open byte by byte are closed).
    dc09_frame_timeout: float = 10.0
    supervision_period: float = 1.0
    # How often open/close supervision compares armed states with the arming schedules.
    open_close_period: float = 10.0
    # Flood control: more signals than this from one device within the window fold into its
    # newest open alarm instead of opening alarms (life safety never); 0 disables it.
    flood_threshold: int = 20
    flood_window_seconds: float = 60.0
    log_level: str = "INFO"
    # Audit: how often the chain's head is signed (also on demand, at start and at shutdown).
    audit_checkpoint_interval: float = 3600.0
    # Refusals repeated by one source within this many seconds are audited as one row and a
    # count (``core.refusals``).
    audit_refusal_interval: float = 300.0
    # Retention, in days, per kind of data; the purge job runs every retention_purge_interval
    # seconds. Raw signals and images serve verification of recent alarms; notes and call
    # texts can name people; closed alarms are kept for a year of statistics and complaints.
    retention_signals_days: int = 90
    retention_images_days: int = 31
    retention_notes_days: int = 180
    retention_closed_alarms_days: int = 365
    retention_purge_interval: float = 3600.0
    # The largest HTTP request body accepted (413 beyond it); routes may have their own.
    max_request_bytes: int = 1024 * 1024
    # The largest HTTP request head (request line and headers) accepted (431 beyond it).
    max_header_bytes: int = 64 * 1024
    # Reverse proxies (addresses or networks) whose X-Forwarded-For/-Proto are believed; from
    # anywhere else those headers are ignored and the peer's own address counts.
    trusted_proxies: tuple[str, ...] = ()
    # The bearer token Prometheus presents for /metrics (an admin's API token works too).
    metrics_token: Secret | None = None
    # How often an open alarm stream checks that its token or session still holds.
    stream_recheck_seconds: float = 30.0
    # Cameras: Frigate's MQTT broker (None: no Frigate subscription), the largest push body
    # a camera may send, and the largest picture kept with a signal.
    mqtt_url: Secret | None = None
    camera_max_body: int = 10 * 1024 * 1024
    snapshot_max_bytes: int = 2 * 1024 * 1024
    # Notifications out: the ``[[notify]]`` rules of the config file (see _notify_config),
    # and the sender named in CAP alerts.
    notify: tuple[NotificationRule, ...] = ()
    cap_sender: str = "watchfloor"
    # Console sessions end after this long unused, or this long after sign-in however used.
    session_idle_seconds: float = 1800.0
    session_absolute_seconds: float = 43200.0
    # Failed logins: a name tried from one address (an IPv6 /64) fails this many times
    # freely, then waits login_delay_seconds, doubling after each further failure up to
    # login_failure_window_seconds; one address may fail login_failures_per_address times
    # (whatever the names) within that window. Nothing locks a name from everywhere.
    login_failures_per_name: int = 5
    login_failures_per_address: int = 30
    login_failure_window_seconds: float = 900.0
    login_delay_seconds: float = 30.0
    # The data disk (SQLite in the data dir): below disk_low_bytes free, a "receiver disk
    # space low" alarm; below disk_reserve_bytes, intake stops (senders retry) and what is
    # left serves the operators' reads and actions. The reserve is also held as a file of
    # that size in the data dir, released when the disk is full. Checked every
    # disk_check_seconds.
    disk_low_bytes: int = 1024 * 1024 * 1024
    disk_reserve_bytes: int = 32 * 1024 * 1024
    disk_check_seconds: float = 10.0
    # The key file that encrypts secrets stored in the database (AES keys, camera passwords,
    # TOTP secrets); None: secrets.keys in the data dir. Keep it out of database backups.
    secrets_key_file: Path | None = None


def _parse_host_port(text: str) -> HostPort:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"expected HOST:PORT, got {text!r}")
    return HostPort(host=host.strip("[]"), port=int(port))


def _parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"expected true or false, got {text!r}")


def _parse_positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise ValueError(f"must be positive, got {text!r}")
    return value


def _parse_positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise ValueError(f"must be positive, got {text!r}")
    return value


def _parse_non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError(f"must be 0 or more, got {text!r}")
    return value


def _parse_log_level(text: str) -> str:
    level = text.strip().upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ValueError(f"expected DEBUG, INFO, WARNING or ERROR, got {text!r}")
    return level


def _parse_networks(text: str) -> tuple[str, ...]:
    networks: list[str] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        try:
            networks.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError as err:
            raise ValueError(f"{item!r} is not an IP address or network") from err
    return tuple(networks)


def _optional_secret(text: str) -> Secret | None:
    return Secret(text) if text else None


def _optional_text(text: str) -> str | None:
    return text.strip() or None


def _optional_path(text: str) -> Path | None:
    return Path(text) if text else None


def _parse_cap_sender(text: str) -> str:
    sender = text.strip()
    if not sender or any(c in sender for c in " ,<&"):
        raise ValueError(f"a CAP sender has no spaces, commas, < or &, got {text!r}")
    return sender


_PARSERS: dict[str, Callable[[str], object]] = {
    "data_dir": Path,
    "http": _parse_host_port,
    "dc09": _parse_host_port,
    "database_url": _optional_secret,
    "bootstrap_token": _optional_secret,
    "operator_name": _optional_text,
    "contact": _optional_text,
    "taxonomy_file": _optional_path,
    "dc09_reject_unknown": _parse_bool,
    "dc09_idle_timeout": _parse_positive_float,
    "dc09_max_frame": _parse_positive_int,
    "dc09_max_connections": _parse_positive_int,
    "dc09_unregistered_per_minute": _parse_positive_float,
    "dc09_unregistered_burst": _parse_positive_int,
    "dc09_frame_timeout": _parse_positive_float,
    "supervision_period": _parse_positive_float,
    "open_close_period": _parse_positive_float,
    "flood_threshold": _parse_non_negative_int,
    "flood_window_seconds": _parse_positive_float,
    "log_level": _parse_log_level,
    "audit_checkpoint_interval": _parse_positive_float,
    "audit_refusal_interval": _parse_positive_float,
    "retention_signals_days": _parse_positive_int,
    "retention_images_days": _parse_positive_int,
    "retention_notes_days": _parse_positive_int,
    "retention_closed_alarms_days": _parse_positive_int,
    "retention_purge_interval": _parse_positive_float,
    "max_request_bytes": _parse_positive_int,
    "max_header_bytes": _parse_positive_int,
    "trusted_proxies": _parse_networks,
    "metrics_token": _optional_secret,
    "stream_recheck_seconds": _parse_positive_float,
    "mqtt_url": _optional_secret,
    "camera_max_body": _parse_positive_int,
    "snapshot_max_bytes": _parse_positive_int,
    "cap_sender": _parse_cap_sender,
    "session_idle_seconds": _parse_positive_float,
    "session_absolute_seconds": _parse_positive_float,
    "login_failures_per_name": _parse_positive_int,
    "login_failures_per_address": _parse_positive_int,
    "login_failure_window_seconds": _parse_positive_float,
    "login_delay_seconds": _parse_positive_float,
    "secrets_key_file": _optional_path,
    "disk_low_bytes": _parse_positive_int,
    "disk_reserve_bytes": _parse_positive_int,
    "disk_check_seconds": _parse_positive_float,
}


def _apply(
    settings: Settings, values: Mapping[str, object], origin: str, problems: list[str]
) -> Settings:
    changes: dict[str, object] = {}
    for name, raw in values.items():
        parser = _PARSERS.get(name)
        if parser is None:
            problems.append(f"{origin}: unknown setting {name!r}")
            continue
        try:
            changes[name] = parser(str(raw)) if not isinstance(raw, bool) else raw
        except ValueError as err:
            problems.append(f"{origin}: {name}: {err}")
    return replace(settings, **changes)  # type: ignore[arg-type]


def load_settings(
    *,
    config_file: Path | None = None,
    overrides: Mapping[str, object] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Return the settings from defaults < ``config_file`` < ``WATCHFLOOR_*`` < ``overrides``.

    Args:
        config_file: a TOML file whose top-level keys are setting names.
        overrides: values from the command line, already named like the settings; a None
            value means "not given".
        environ: the environment (the process environment when None).

    Raises:
        SettingsError: every problem found, together.
    """
    env = os.environ if environ is None else environ
    problems: list[str] = []
    settings = Settings()
    if config_file is None and env.get(ENV_PREFIX + "CONFIG"):
        config_file = Path(env[ENV_PREFIX + "CONFIG"])
    if config_file is not None:
        try:
            document = tomllib.loads(config_file.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as err:
            problems.append(f"{config_file}: {err}")
        else:
            if "notify" in document:
                rules, found = read_notify_rules(document.pop("notify"), origin=str(config_file))
                problems.extend(found)
                settings = replace(settings, notify=rules)
            settings = _apply(settings, document, str(config_file), problems)
    names = {f.name for f in fields(Settings)}
    from_env = {
        key[len(ENV_PREFIX) :].lower(): value
        for key, value in env.items()
        if key.startswith(ENV_PREFIX) and key[len(ENV_PREFIX) :].lower() in names
    }
    settings = _apply(settings, from_env, "environment", problems)
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    settings = _apply(settings, given, "command line", problems)
    if settings.disk_reserve_bytes >= settings.disk_low_bytes:
        problems.append("disk_reserve_bytes: must be below disk_low_bytes")
    if problems:
        raise SettingsError(problems)
    return settings
