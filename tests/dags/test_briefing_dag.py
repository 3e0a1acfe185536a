"""The daily_briefing DAG, run for real with dag.test(): report written, delivered once."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from crisiswatch.core.config import load_config
from crisiswatch.core.model import Enrichment, Post
from crisiswatch.core.store import open_store

from .helpers import load_dagbag

pytestmark = pytest.mark.usefixtures("airflow_db")
END = datetime(2026, 4, 7, 7, 0, tzinfo=timezone.utc)


def test_briefing_is_written_and_sent_once_per_channel_unless_resent(tmp_path: Path, receiver, monkeypatch):
    config_file = tmp_path / "crisiswatch.yaml"
    config_file.write_text(f"""\
data_dir: {tmp_path / 'data'}
store: {{sqlite_path: {tmp_path / 'store.db'}}}
watchlists: [{{name: acme, terms: [acme]}}]
channels:
  - {{name: management, url: "{receiver.url('management')}", format: html}}
airflow:
  retries: 0
  briefing_channels: [management]
""", encoding="utf-8")
    with open_store(load_config(config_file)) as store:
        posts = [Post(id=f"masto:{k}", source="masto", text=f"acme kettle post {k}", watchlists=["acme"],
                      created_at=END - timedelta(hours=k + 1)) for k in range(12)]
        store.upsert_posts(posts)
        store.update_enrichments([Enrichment(post_id=p.id, sentiment="negative" if k % 3 else "positive",
                                             emotion="anger", category="product quality")
                                  for k, p in enumerate(posts)])
    dag = load_dagbag(config_file, monkeypatch).dags["daily_briefing"]
    period = {"start": (END - timedelta(days=1)).isoformat(), "end": END.isoformat(), "resend": False}

    run = dag.test(run_conf=period)

    assert run.state == "success"
    [report] = (tmp_path / "data" / "briefings").glob("briefing-*.html")
    assert report.name == "briefing-20260406T0700-20260407T0700.html"
    [message] = receiver.on("management")
    assert message["title"] == "crisiswatch daily briefing 2026-04-06T07:00 - 2026-04-07T07:00 UTC"
    assert "acme" in message["message"]

    assert dag.test(run_conf=period).state == "success"  # a rerun does not send it again
    assert len(receiver.on("management")) == 1

    assert dag.test(run_conf={**period, "resend": True}).state == "success"
    assert len(receiver.on("management")) == 2
