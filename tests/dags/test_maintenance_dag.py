"""The maintenance DAG, run for real with dag.test() on the embedded SQLite store."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from crisiswatch.core.config import load_config
from crisiswatch.core.model import CrawlHealth, Post
from crisiswatch.core.store import PostFilter, open_store

from .helpers import load_dagbag

pytestmark = pytest.mark.usefixtures("airflow_db")


def write_config(tmp_path: Path, receiver, store_path: Path, retention: str = "30d", topics: bool = False) -> Path:
    path = tmp_path / "crisiswatch.yaml"
    path.write_text(f"""\
data_dir: {tmp_path / 'data'}
store:
  sqlite_path: {store_path}
  retention: {retention}
models:
  topics: {'true' if topics else 'false'}
sources:
  - name: healthy
    platform: rss
    targets: {{feeds: ["http://127.0.0.1:9/feed"]}}
    schedule: 10m
  - name: broken
    platform: mastodon
    targets: {{hashtags: [acme]}}
  - name: brand-new
    platform: hackernews
    targets: {{keywords: [acme]}}
channels:
  - name: ops
    url: {receiver.url('ops')}
airflow:
  retries: 0
  operations_channels: [ops]
""", encoding="utf-8")
    return path


def post(source: str, native: str, created_at: datetime) -> Post:
    return Post(id=f"{source}:{native}", source=source, text=f"acme post {native}", created_at=created_at)


def test_retention_deletes_old_posts_and_health_reports_unhealthy_sources(tmp_path, receiver, monkeypatch):
    now = datetime.now(timezone.utc)
    config_file = write_config(tmp_path, receiver, tmp_path / "store.db", topics=True)
    with open_store(load_config(config_file)) as store:
        store.upsert_posts([post("healthy", "old", now - timedelta(days=45)), post("healthy", "new", now - timedelta(days=2))])
        store.record_crawl(CrawlHealth(source="healthy", started_at=now - timedelta(minutes=6),
                                       finished_at=now - timedelta(minutes=5), items=2, newest_post_at=now - timedelta(days=2)))
        store.record_crawl(CrawlHealth(source="broken", started_at=now - timedelta(minutes=3),
                                       finished_at=now - timedelta(minutes=2), status="failed",
                                       message="HTTP 503 from the instance"))

    bag = load_dagbag(config_file, monkeypatch)
    run = bag.dags["maintenance"].test(run_conf={"dry_run": True}, logical_date=None)  # like a manual trigger
    assert run.state == "success"
    with open_store(load_config(config_file)) as store:
        assert store.count_posts() == 2  # a dry run deletes nothing

    run = bag.dags["maintenance"].test(run_conf={"dry_run": False})  # dag.test() keeps the last run's conf
    assert {ti.task_id: ti.state for ti in run.get_task_instances()} == {
        "retention": "success", "source_health": "success", "refresh_topics": "success"}
    with open_store(load_config(config_file)) as store:
        assert [p.id for p in store.search(PostFilter())] == ["healthy:new"]

    summaries = [m for m in receiver.on("ops") if "sources need attention" in m["title"]]
    assert summaries and summaries[-1]["title"] == "crisiswatch: 2 of 3 sources need attention"
    body = summaries[-1]["message"]
    assert "broken" in body and "failing" in body and "HTTP 503" in body
    assert "brand-new" in body and "never crawled" in body
    assert "healthy" not in body


def test_a_task_that_fails_for_good_tells_the_operations_channel(tmp_path, receiver, monkeypatch):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the store's directory should be")
    config_file = write_config(tmp_path, receiver, blocker / "store.db")

    run = load_dagbag(config_file, monkeypatch).dags["maintenance"].test()

    assert run.state == "failed"
    failures = {m["title"] for m in receiver.on("ops")}
    assert failures == {"crisiswatch: maintenance.retention failed", "crisiswatch: maintenance.source_health failed"}
    message = next(m["message"] for m in receiver.on("ops") if "retention" in m["title"])
    assert "gave up" in message and str(blocker) in message
