"""The alerts and backtest commands, as a user runs them."""

from __future__ import annotations

import json
from datetime import timedelta

from typer.testing import CliRunner

from crisiswatch.app.cli import app

from alerts.backtest import Label, run_backtest
from tests.alerts.helpers import ONSET, START, world_config

runner = CliRunner()


def write_config(tmp_path, store_path, extra: str = "") -> str:  # noqa: ANN001
    path = tmp_path / "crisiswatch.yaml"
    path.write_text(f"""
data_dir: {tmp_path}
store: {{sqlite_path: {store_path}}}
watchlists: [{{name: acme, terms: [acme]}}, {{name: zenith, terms: [zenith]}}]
crisis_lexicon: [recall, 召回, 起诉]
rules:
  - {{name: volume, detector: volume_spike, min_count: 8}}
  - {{name: crisis-terms, detector: keyword_burst, window: 1h, min_count: 5}}
alerting: {{outbox_dir: {tmp_path}/outbox, auto_resolve_after_calm: 3}}
{extra}
""", encoding="utf-8")
    return str(path)


def cli(*args: str):  # noqa: ANN201
    return runner.invoke(app, list(args))


def test_evaluate_then_manage_the_incident_from_the_command_line(world, tmp_path):
    config = write_config(tmp_path, world.path)
    world.close()
    result = cli("alerts", "evaluate", "--now", (ONSET + timedelta(minutes=30)).isoformat(), "-c", config)
    assert result.exit_code == 0, result.output
    assert "acme" in result.output and "1 incidents changed" in result.output
    listed = json.loads(cli("alerts", "list", "--json", "-c", config).output.splitlines()[0])
    incident_id = listed["id"]
    assert listed["state"] == "open" and listed["watchlist"] == "acme"

    assert cli("alerts", "ack", incident_id[:6], "--by", "mei", "-c", config).exit_code == 0
    assert cli("alerts", "assign", incident_id, "--to", "li", "--by", "mei", "-c", config).exit_code == 0
    assert cli("alerts", "note", incident_id, "holding statement sent at 11:05", "--by", "li", "-c", config).exit_code == 0
    again = cli("alerts", "ack", incident_id, "--by", "bob", "-c", config)
    assert again.exit_code == 1 and "already acknowledged by mei" in again.output
    assert cli("alerts", "resolve", incident_id, "--note", "recall explained", "--by", "li", "-c", config).exit_code == 0

    shown = cli("alerts", "show", incident_id, "-c", config)
    assert shown.exit_code == 0
    for expected in ("fired", "acknowledged", "assigned", "holding statement sent", "resolved", "recall explained",
                     "crisiswatch search"):
        assert expected in shown.output
    assert cli("alerts", "list", "-c", config).output.strip() == "no active incidents"
    missing = cli("alerts", "show", "nope", "-c", config)
    assert missing.exit_code == 1 and "no incident 'nope'" in missing.output


def test_silences_from_the_command_line(world, tmp_path):
    config = write_config(tmp_path, world.path)
    world.close()
    added = cli("alerts", "silence", "add", "--watchlist", "acme", "--for", "2h", "--reason", "launch", "--by", "mei",
                "-c", config)
    assert added.exit_code == 0 and "watchlist 'acme'" in added.output
    silence_id = added.output.split()[1].rstrip(":")
    assert silence_id in cli("alerts", "silence", "list", "-c", config).output
    bad = cli("alerts", "silence", "add", "--watchlist", "nobody", "--for", "2h", "--by", "mei", "-c", config)
    assert bad.exit_code == 1 and "unknown watchlist 'nobody'" in bad.output
    assert cli("alerts", "silence", "remove", silence_id, "-c", config).exit_code == 0
    assert "no silences" in cli("alerts", "silence", "list", "-c", config).output


def test_an_invalid_rule_is_a_clear_error_naming_it(tmp_path):
    config = write_config(tmp_path, tmp_path / "s.db")
    text = open(config, encoding="utf-8").read().replace("alerting:", (
        "  - {name: typo-rule, detector: volume_spike, params: {windws: [1, 4]}, thresholds: {red: 2, yellow: 5}}\n"
        "alerting:"), 1)
    open(config, "w", encoding="utf-8").write(text)
    result = cli("alerts", "evaluate", "-c", config)
    output = " ".join(result.output.split())  # the console wraps long lines
    assert result.exit_code == 2
    assert "rule 'typo-rule' (volume_spike): params.windws: Extra inputs are not permitted" in output
    assert "thresholds must increase from blue to red (got yellow=5, red=2)" in output
    assert "crisiswatch.yaml:9" in output


def test_backtest_lists_what_would_have_fired_and_scores_labels(world, tmp_path):
    config = world_config(str(tmp_path))
    rules = [config.rule("volume"), config.rule("negative"), config.rule("crisis-terms")]
    report = run_backtest(world, config, START + timedelta(days=6), START + timedelta(days=8), rules,
                          [Label(watchlist="acme", onset=ONSET, end=ONSET + timedelta(hours=4))])
    assert report.recall == 1.0 and report.median_delay <= 2
    assert [i.watchlist for i in report.incidents] == ["acme"] and report.false_alarms == []
    assert all(i.notifications == [] for i in report.incidents)  # a replay never notifies
    assert world.list_incidents() == []  # nor touches the live incidents
    labels = tmp_path / "labels.yaml"
    labels.write_text(f"- {{watchlist: acme, onset: '{ONSET.isoformat()}', name: recall}}\n", encoding="utf-8")
    config_file = write_config(tmp_path, world.path)
    world.close()
    result = cli("backtest", "--from", (START + timedelta(days=7)).isoformat(),
                 "--to", (START + timedelta(days=7, hours=14)).isoformat(), "--labels", str(labels), "-c", config_file)
    assert result.exit_code == 0, result.output
    assert "detected 2026-03-09 10:" in result.output and "recall=1.00" in result.output


def test_user_text_in_titles_is_printed_verbatim(tmp_path):
    from crisiswatch.core.model import Incident, Level
    from crisiswatch.core.store.sqlite import SqliteStore

    store = SqliteStore(tmp_path / "s.db")
    store.setup()
    store.save_incident(Incident(id="x1", fingerprint="volume|acme|", rule="volume", watchlist="acme",
                                 title="post by [/bold][red]mallory[/red] about acme", level=Level.blue,
                                 peak_level=Level.blue, opened_at=ONSET, updated_at=ONSET))
    store.close()
    config = write_config(tmp_path, tmp_path / "s.db")
    for args in (("alerts", "list"), ("alerts", "show", "x1")):
        result = cli(*args, "-c", config)
        assert result.exit_code == 0, result.output
        assert "[/bold][red]mallory[/red]" in result.output
