"""``watchfloor devices``: the printed push URL works against a running server."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
from typer.testing import CliRunner

from support.server import run_server
from watchfloor.cli import app

runner = CliRunner()
ALERT = (
    Path(__file__).parent
    / "data"
    / "hikvision"
    / "hikvision_next__EventNotificationAlert__fielddetection_human.xml"
).read_bytes()


def test_a_hikvision_device_added_while_serving_posts_to_the_printed_url(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    with run_server(data_dir) as server:
        added = runner.invoke(
            app,
            [
                "devices",
                "add",
                "--kind",
                "hikvision",
                "--name",
                "north-gate",
                "--site",
                "Harbour",
                "--heartbeat",
                "60",
                "--http",
                f"127.0.0.1:{server.http_port}",
                "--data-dir",
                str(data_dir),
            ],
        )
        assert added.exit_code == 0, added.output
        (url,) = re.findall(r"http://\S+/ingest/hikvision/\S+", added.output)

        pushed = httpx.post(url, content=ALERT, headers={"Content-Type": "application/xml"})
        assert pushed.status_code == 200, pushed.text
        with server.client() as api:
            (alarm,) = api.get("/api/alarms").json()["items"]
    assert (alarm["type_code"], alarm["site"], alarm["device"]) == (702, "Harbour", "north-gate")

    listed = runner.invoke(app, ["devices", "list", "--data-dir", str(data_dir)])
    assert "north-gate" in listed.output
    assert "60 s" in listed.output
    assert url.rsplit("/", 1)[1] not in listed.output


def test_overrides_are_checked_and_remove_is_clear(tmp_path: Path) -> None:
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps({"rules": [{"code": "person", "zone": "dock", "type": 702}]}))
    common = ["--data-dir", str(tmp_path / "var")]
    ok = runner.invoke(
        app,
        [
            "devices",
            "add",
            "--kind",
            "frigate",
            "--name",
            "nvr",
            "--site",
            "S",
            "--overrides",
            f"@{rules}",
            *common,
        ],
    )
    assert ok.exit_code == 0, ok.output
    bad = runner.invoke(
        app,
        [
            "devices",
            "add",
            "--kind",
            "frigate",
            "--name",
            "nvr2",
            "--site",
            "S",
            "--overrides",
            '{"rules": [{"code": "person", "type": 4242}]}',
            *common,
        ],
    )
    assert bad.exit_code == 2
    assert "not an alarm type" in bad.output
    twice = runner.invoke(
        app, ["devices", "add", "--kind", "frigate", "--name", "nvr", "--site", "S", *common]
    )
    assert twice.exit_code == 1
    assert "exists already" in twice.output
    pull = runner.invoke(
        app,
        ["devices", "add", "--kind", "frigate", "--name", "x", "--site", "S", "--pull", *common],
    )
    assert pull.exit_code == 2
    removed = runner.invoke(
        app, ["devices", "remove", "--kind", "frigate", "--name", "nvr", *common]
    )
    assert removed.exit_code == 0
    again = runner.invoke(app, ["devices", "remove", "--kind", "frigate", "--name", "nvr", *common])
    assert again.exit_code == 1
    assert "no frigate device named nvr" in again.output
