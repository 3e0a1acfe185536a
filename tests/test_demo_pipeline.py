"""The demo pipeline end to end (replay server, real spiders, tiny models, alert engine,
webhook delivery, reports) and the pieces it is made of.

(Named test_demo_pipeline.py: tests/nlp/test_pipeline.py already owns the module name.)
"""

from __future__ import annotations

import json
from datetime import timedelta

import lxml.html
import pytest
import yaml

import scenarios
from crisiswatch.core.config import load_config
from crisiswatch.app.demo import (DemoOptions, ExpectationCheck, LocalInbox, check_expectations, level_reached_at,
                              prepare_data_dir, run_demo, schedule)
from crisiswatch.core.model import Incident, IncidentEvent, IncidentState, Level
from crisiswatch.core.scenario import ExpectedAlert
from crisiswatch.core.store import PostFilter, open_store


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory) -> dict:
    from nlp.tiny import make_tiny_models

    return make_tiny_models(tmp_path_factory.mktemp("tiny-models")).model_dump(mode="json")


def test_schedule_backfills_then_steps_fast_then_slow():
    scenario = scenarios.load("food_safety_zh")
    options = DemoOptions(lead=timedelta(hours=2), step=timedelta(minutes=30), busy=timedelta(hours=6),
                          calm_step=timedelta(hours=3), follow=timedelta(hours=30))
    times = schedule(scenario, options)
    assert times[0] == scenario.onset - timedelta(hours=2)
    assert times[-1] == scenario.onset + timedelta(hours=30)
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert all(gap == timedelta(minutes=30) for gap, t in zip(gaps, times) if t < scenario.onset + timedelta(hours=6))
    assert max(gaps) == timedelta(hours=3)
    short = schedule(scenario, DemoOptions(follow=timedelta(days=30)))
    assert short[-1] == scenario.end  # never past the scenario's data


def _incident(watchlist: str, opened, levels: list[tuple[timedelta, str]]) -> Incident:
    events = [IncidentEvent(at=opened, kind="fired", data={"level": levels[0][1]})]
    events += [IncidentEvent(at=opened + delta, kind="level_changed", data={"old": "x", "new": level})
               for delta, level in levels[1:]]
    return Incident(id=f"i-{watchlist}-{opened:%H%M}", fingerprint=f"volume_spike|{watchlist}|", rule="volume_spike",
                    watchlist=watchlist, title="t", level=Level(levels[-1][1]), peak_level=Level(levels[-1][1]),
                    opened_at=opened, updated_at=opened, events=events)


def test_expectations_are_judged_on_the_level_history():
    scenario = scenarios.load("food_safety_zh")
    onset = scenario.onset
    on_time = _incident("qinhe", onset + timedelta(minutes=40), [(timedelta(0), "yellow"),
                                                                  (timedelta(hours=2), "orange")])
    other_brand = _incident("lanquan", onset, [(timedelta(0), "red")])
    checks = check_expectations(scenario, [other_brand, on_time])
    assert [c.met for c in checks] == [True, True]
    assert checks[1].reached_at == onset + timedelta(hours=2, minutes=40)
    late = _incident("qinhe", onset + timedelta(hours=2), [(timedelta(0), "yellow"), (timedelta(hours=3), "orange")])
    assert [c.met for c in check_expectations(scenario, [late])] == [False, False]
    assert level_reached_at(late, Level.red) is None
    assert not ExpectationCheck(ExpectedAlert(watchlist="qinhe", min_level=Level.blue, latest_at=onset), None, None).met


def test_a_new_demo_removes_only_what_the_last_one_wrote(tmp_path):
    (tmp_path / "outbox").mkdir()
    (tmp_path / "outbox" / "a.json").write_text("{}")
    (tmp_path / "crisiswatch.db").write_bytes(b"x")
    (tmp_path / "my-notes.txt").write_text("keep me")
    prepare_data_dir(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["my-notes.txt"]


def test_local_inbox_receives_a_real_apprise_webhook(tmp_path):
    import apprise

    with LocalInbox(tmp_path / "inbox") as inbox:
        sender = apprise.Apprise()
        assert sender.add(inbox.url)
        assert sender.notify(title="沁禾 <alert>", body="orange: 45 posts")
    files = sorted((tmp_path / "inbox").glob("*.json"))
    assert inbox.received == 1 and len(files) == 1
    message = json.loads(files[0].read_text(encoding="utf-8"))
    assert message["title"] == "沁禾 <alert>" and "45 posts" in message["message"]


@pytest.mark.slow
def test_demo_replays_the_food_scare_end_to_end(tmp_path, tiny_models):
    """Real spiders crawl the replay server step by step; alerts fire after the onset only."""
    options = DemoOptions(scenario="food_safety_zh", data_dir=tmp_path / "demo", lead=timedelta(hours=1),
                          step=timedelta(minutes=30), busy=timedelta(hours=2, minutes=30),
                          calm_step=timedelta(hours=3), follow=timedelta(hours=2, minutes=30), models=tiny_models,
                          topics=False)
    seen = []
    result = run_demo(options, on_step=lambda n, total, step: seen.append((n, total, step.at)))
    scenario = result.scenario
    last = scenario.onset + timedelta(hours=2, minutes=30)
    assert [n for n, _, _ in seen] == list(range(1, 9)) and seen[-1][2] == last
    assert not result.errors, result.errors

    config = load_config(result.config_path)  # the file the spiders read is a valid config
    assert {s.platform for s in config.sources} == {"weibo", "bilibili", "rss"}
    assert yaml.safe_load(result.config_path.read_text(encoding="utf-8"))["watchlists"][0]["name"] == "qinhe"
    with open_store(config) as store:
        stored = store.count_posts()
        assert stored > 1000  # eight days of background plus the first hours of the crisis
        assert store.count_posts(PostFilter(since=last)) == 0  # the scenario clock was respected
        assert sum(1 for batch in store.unenriched_batches() for _ in batch) == 0
        assert store.count_posts(PostFilter(watchlists=("qinhe",), since=scenario.onset)) > 100

    qinhe = [i for i in result.incidents if i.watchlist == "qinhe"]
    assert qinhe, [i.title for i in result.incidents]
    assert all(i.opened_at > scenario.onset for i in result.incidents)  # no alarm in eight days of background
    assert min(i.opened_at for i in qinhe) <= scenario.onset + timedelta(hours=2)
    assert any(i.rule == "volume_spike" and i.peak_level >= Level.orange for i in qinhe)
    assert [c.expected for c in result.checks] == scenario.expected_alerts
    acknowledged = [i for i in qinhe if i.acknowledged_by == "PR on-call (demo)"]
    assert acknowledged and all(i.assignee == "PR on-call (demo)" and i.acknowledged_at > level_reached_at(
        i, Level.orange) for i in acknowledged)

    assert result.outbox_messages > 0 and result.inbox_messages >= result.outbox_messages
    assert result.briefing_sent == {"team-webhook": True}
    received = [json.loads(p.read_text(encoding="utf-8")) for p in sorted((options.data_dir / "inbox").glob("*.json"))]
    assert any("qinhe" in m["title"] + m["message"] for m in received)
    assert any("crisiswatch briefing" in m["title"] for m in received)

    reports = result.reports
    assert {p.name for p in reports.incidents} == {f"incident-{i.id}.html" for i in result.incidents}
    briefing = lxml.html.fromstring(reports.briefing.read_text(encoding="utf-8"))
    assert set(briefing.xpath("//table[@id='incidents']//a/@href")) == {p.name for p in reports.incidents}
    first = lxml.html.fromstring(reports.incidents[0].read_text(encoding="utf-8"))
    assert result.incidents[0].id in first.text_content()
    assert all(i.state in (IncidentState.open, IncidentState.acknowledged, IncidentState.resolved)
               for i in result.incidents)


@pytest.mark.slow
def test_crisiswatch_run_does_one_cycle_against_configured_sources(tmp_path, tiny_models):
    """`crisiswatch run` on a config whose sources are a replay server frozen mid-crisis."""
    from typer.testing import CliRunner

    from scenarios.replay.server import ReplayServer
    from crisiswatch.app.cli import app

    scenario = scenarios.load("food_safety_zh")
    frozen = scenario.onset + timedelta(hours=3)
    with ReplayServer(scenario, speedup=0, clock_start=frozen) as server:
        config = {
            "data_dir": str(tmp_path / "data"), "store": {"sqlite_path": str(tmp_path / "data" / "cw.db")},
            "models": {**tiny_models, "topics": False},
            **{key: scenario.config[key] for key in ("watchlists", "crisis_lexicon", "rules")},
            "sources": [s.model_dump(mode="json", exclude_defaults=True) for s in server.source_configs()],
            "alerting": {"outbox_dir": str(tmp_path / "data" / "outbox")},
        }
        path = tmp_path / "crisiswatch.yaml"
        path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
        result = CliRunner().invoke(app, ["run", "--config", str(path), "--briefing"])
    assert result.exit_code == 0, result.output
    assert "from 3 source(s)" in result.output and "problem" not in result.output
    with open_store(load_config(path)) as store:
        stored = store.count_posts()
        assert stored > 1000 and store.count_posts(PostFilter(since=frozen)) == 0
        assert sum(1 for batch in store.unenriched_batches() for _ in batch) == 0
    assert f"{stored} posts from 3 source(s), {stored} enriched" in result.output
    assert list((tmp_path / "data" / "reports").glob("briefing-*.html"))
