"""`crisiswatch report briefing|incident`, `run` and `demo` as a user types them."""

from __future__ import annotations

from pathlib import Path

import yaml
from report_data import ONSET, fill
from typer.testing import CliRunner

from crisiswatch.app.cli import app
from crisiswatch.core.store.sqlite import SqliteStore

runner = CliRunner()


def _config(tmp_path: Path, **extra) -> Path:
    store = SqliteStore(tmp_path / "cli.db")
    store.setup()
    fill(store)
    store.close()
    path = tmp_path / "crisiswatch.yaml"
    path.write_text(yaml.safe_dump({
        "data_dir": str(tmp_path / "data"), "store": {"sqlite_path": str(tmp_path / "cli.db")},
        "watchlists": [{"name": "acme", "terms": ["Acme"]}, {"name": "rival", "terms": ["Rival"]}],
        "rules": [{"name": "volume_spike", "detector": "volume_spike"}], **extra}), encoding="utf-8")
    return path


def test_report_commands_write_the_files(tmp_path):
    config = _config(tmp_path)
    result = runner.invoke(app, ["report", "incident", "inc00001", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "data" / "reports" / "incident-inc00001.html").is_file()
    result = runner.invoke(app, ["report", "briefing", "--config", str(config), "--from", ONSET.isoformat(),
                                 "--to", "2026-03-04T06:00Z", "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "briefing-20260303T0600-20260304T0600.html").is_file()


def test_report_commands_fail_clearly(tmp_path):
    config = _config(tmp_path)
    result = runner.invoke(app, ["report", "incident", "zzz", "--config", str(config)])
    assert result.exit_code == 1 and "no incident with id 'zzz'" in result.output
    result = runner.invoke(app, ["report", "briefing", "--config", str(config), "--from", "yesterday"])
    assert result.exit_code == 1 and "is not an ISO 8601 time" in result.output
    result = runner.invoke(app, ["report", "briefing", "--config", str(config), "--send"])
    assert result.exit_code == 1 and "no channel in airflow.briefing_channels" in result.output


def test_run_needs_sources_and_demo_knows_its_scenarios(tmp_path):
    result = runner.invoke(app, ["run", "--config", str(_config(tmp_path))])
    assert result.exit_code == 1 and "no enabled source" in result.output
    result = runner.invoke(app, ["demo", "--scenario", "nope"])
    assert result.exit_code == 1 and "food_safety_zh" in result.output
    result = runner.invoke(app, ["demo", "--list"])
    assert result.exit_code == 0 and "airline_outage_en" in result.output
