"""Issue 12, item 11: every state change from the CLI names a person (--by or
$CRISISWATCH_USER); an anonymous one is refused."""

from __future__ import annotations

import json
from datetime import timedelta

from tests.alerts.helpers import ONSET
from tests.alerts.test_cli import cli, write_config


def test_state_changes_need_a_name_from_by_or_crisiswatch_user(world, tmp_path, monkeypatch):
    monkeypatch.delenv("CRISISWATCH_USER", raising=False)
    config = write_config(tmp_path, world.path)
    world.close()
    assert cli("alerts", "evaluate", "--now", (ONSET + timedelta(minutes=30)).isoformat(), "-c", config).exit_code == 0
    incident_id = json.loads(cli("alerts", "list", "--json", "-c", config).output.splitlines()[0])["id"]

    for args in (("ack", incident_id), ("assign", incident_id, "--to", "li"), ("note", incident_id, "x"),
                 ("resolve", incident_id), ("silence", "add", "--watchlist", "acme", "--for", "2h")):
        refused = cli("alerts", *args, "-c", config)
        assert refused.exit_code == 1, (args, refused.output)
        assert "--by NAME" in refused.output and "CRISISWATCH_USER" in refused.output
    blank = cli("alerts", "ack", incident_id, "--by", "  ", "-c", config)
    assert blank.exit_code == 1
    shown = json.loads(cli("alerts", "show", incident_id, "--json", "-c", config).output)
    assert shown["state"] == "open" and shown.get("acknowledged_by") in (None, "")
    assert "silence" not in cli("alerts", "silence", "list", "-c", config).output.replace("no silences", "")

    monkeypatch.setenv("CRISISWATCH_USER", "mei")
    assert cli("alerts", "ack", incident_id, "-c", config).exit_code == 0
    assert cli("alerts", "note", incident_id, "statement drafted", "--by", "li", "-c", config).exit_code == 0
    shown = json.loads(cli("alerts", "show", incident_id, "--json", "-c", config).output)
    assert shown["acknowledged_by"] == "mei"
    timeline = json.dumps(shown["events"], ensure_ascii=False)
    actors = [e["actor"] for e in shown["events"]]
    assert "mei" in actors and "li" in actors and "cli" not in actors
    # the door is recorded next to the person (issue 15: audit log), never instead of them
    assert {e["data"].get("source") for e in shown["events"] if e["actor"] in ("mei", "li")} == {"cli"}
