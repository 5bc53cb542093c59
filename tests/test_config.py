"""Settings: precedence of file < environment < command line, and every problem reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from watchfloor.config import HostPort, Secret, SettingsError, load_settings


def test_defaults_are_safe() -> None:
    settings = load_settings(environ={})
    assert settings.http == HostPort(host="127.0.0.1", port=8080)
    assert settings.dc09 == HostPort(host="127.0.0.1", port=12000)
    assert settings.data_dir == Path("var")
    assert settings.database_url is None


def test_file_then_environment_then_command_line(tmp_path: Path) -> None:
    config = tmp_path / "watchfloor.toml"
    config.write_text(
        'http = "0.0.0.0:9000"\ndc09 = "0.0.0.0:12001"\ncontact = "ops@example.org"\n'
        "dc09_reject_unknown = true\n"
    )
    settings = load_settings(
        config_file=config,
        environ={"WATCHFLOOR_DC09": "127.0.0.1:13000", "WATCHFLOOR_BOOTSTRAP_TOKEN": "s3cret"},
        overrides={"http": "127.0.0.1:8081", "data_dir": None},
    )
    assert settings.http == HostPort(host="127.0.0.1", port=8081)
    assert settings.dc09 == HostPort(host="127.0.0.1", port=13000)
    assert settings.contact == "ops@example.org"
    assert settings.dc09_reject_unknown is True
    assert settings.bootstrap_token == Secret("s3cret")


def test_secrets_never_show() -> None:
    settings = load_settings(environ={"WATCHFLOOR_DATABASE_URL": "postgresql://u:pw@h/db"})
    assert "pw" not in repr(settings)
    assert "pw" not in str(settings.database_url)


def test_every_problem_is_reported_together(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('colour = "red"\ndc09_idle_timeout = -1\n')
    with pytest.raises(SettingsError) as caught:
        load_settings(
            config_file=config,
            environ={"WATCHFLOOR_HTTP": "nowhere"},
            overrides={"log_level": "chatty"},
        )
    problems = "\n".join(caught.value.problems)
    assert "unknown setting 'colour'" in problems
    assert "dc09_idle_timeout: must be positive" in problems
    assert "http: expected HOST:PORT" in problems
    assert "log_level" in problems
    assert len(caught.value.problems) == 4


def test_unreadable_config_file_is_a_problem(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"missing\.toml"):
        load_settings(config_file=tmp_path / "missing.toml", environ={})


def test_config_file_from_environment(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('operator_name = "City Control Room"\n')
    settings = load_settings(environ={"WATCHFLOOR_CONFIG": str(config)})
    assert settings.operator_name == "City Control Room"


def test_flood_control_defaults_to_20_signals_a_minute() -> None:
    settings = load_settings(environ={})
    assert (settings.flood_threshold, settings.flood_window_seconds) == (20, 60.0)


def test_flood_control_settings_come_from_file_and_environment(tmp_path: Path) -> None:
    config = tmp_path / "flood.toml"
    config.write_text("flood_threshold = 50\nflood_window_seconds = 30\n")
    settings = load_settings(
        config_file=config, environ={"WATCHFLOOR_FLOOD_WINDOW_SECONDS": "120.5"}
    )
    assert (settings.flood_threshold, settings.flood_window_seconds) == (50, 120.5)


def test_a_flood_threshold_of_0_disables_flood_control() -> None:
    settings = load_settings(environ={"WATCHFLOOR_FLOOD_THRESHOLD": "0"})
    assert settings.flood_threshold == 0


def test_bad_flood_control_settings_are_reported_together() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(
            environ={"WATCHFLOOR_FLOOD_THRESHOLD": "-1", "WATCHFLOOR_FLOOD_WINDOW_SECONDS": "0"}
        )
    problems = "\n".join(caught.value.problems)
    assert "flood_threshold: must be 0 or more" in problems
    assert "flood_window_seconds: must be positive" in problems
    assert len(caught.value.problems) == 2


def test_limits_and_exposure_settings_come_from_the_environment() -> None:
    settings = load_settings(
        environ={
            "WATCHFLOOR_DC09_FRAME_TIMEOUT": "5",
            "WATCHFLOOR_MAX_HEADER_BYTES": "16384",
            "WATCHFLOOR_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/24,,::1",
            "WATCHFLOOR_METRICS_TOKEN": "scrape-secret",
        }
    )
    assert settings.dc09_frame_timeout == 5.0
    assert settings.max_header_bytes == 16384
    assert settings.trusted_proxies == ("127.0.0.1/32", "10.0.0.0/24", "::1/128")
    assert settings.metrics_token == Secret("scrape-secret")
    assert "scrape-secret" not in repr(settings)


def test_by_default_no_proxy_is_trusted_and_metrics_need_an_admin() -> None:
    settings = load_settings(environ={})
    assert settings.trusted_proxies == ()
    assert settings.metrics_token is None
    assert settings.dc09_frame_timeout == 10.0
    assert settings.max_header_bytes == 64 * 1024


def test_a_trusted_proxy_that_is_no_address_is_named() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(environ={"WATCHFLOOR_TRUSTED_PROXIES": "10.0.0.1, proxy.example"})
    (problem,) = caught.value.problems
    assert "trusted_proxies: 'proxy.example' is not an IP address or network" in problem


def test_disk_space_and_secrets_settings_come_from_the_environment() -> None:
    settings = load_settings(
        environ={
            "WATCHFLOOR_DISK_LOW_BYTES": "500000000",
            "WATCHFLOOR_DISK_RESERVE_BYTES": "10000000",
            "WATCHFLOOR_DISK_CHECK_SECONDS": "5",
            "WATCHFLOOR_SECRETS_KEY_FILE": "/etc/watchfloor/secrets.keys",
            "WATCHFLOOR_LOGIN_DELAY_SECONDS": "10",
        }
    )
    assert (settings.disk_low_bytes, settings.disk_reserve_bytes) == (500_000_000, 10_000_000)
    assert settings.disk_check_seconds == 5.0
    assert settings.secrets_key_file == Path("/etc/watchfloor/secrets.keys")
    assert settings.login_delay_seconds == 10.0
    assert load_settings(environ={}).secrets_key_file is None


def test_a_disk_reserve_not_below_the_alarm_threshold_is_refused() -> None:
    with pytest.raises(SettingsError, match="disk_reserve_bytes: must be below disk_low_bytes"):
        load_settings(
            environ={"WATCHFLOOR_DISK_LOW_BYTES": "1000", "WATCHFLOOR_DISK_RESERVE_BYTES": "1000"}
        )


def test_open_close_period_from_the_environment() -> None:
    assert load_settings(environ={}).open_close_period == 10.0
    settings = load_settings(environ={"WATCHFLOOR_OPEN_CLOSE_PERIOD": "2.5"})
    assert settings.open_close_period == 2.5
    with pytest.raises(SettingsError, match=r"(?i)open_close_period"):
        load_settings(environ={"WATCHFLOOR_OPEN_CLOSE_PERIOD": "0"})
