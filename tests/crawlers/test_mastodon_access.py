"""Mastodon instances that keep timelines from visitors: a configuration warning, not a failed crawl."""

from __future__ import annotations

from datetime import datetime, timezone

from crawlers.run import crawl_source
from crisiswatch.core.store.sqlite import SqliteStore
from tests.crawlers.recorded_server import RecordedServer, Route
from tests.crawlers.helpers import write_config

RESTRICTED = Route.file("mastodon_timeline_restricted.json", status=422)


def _crawl(tmp_path, routes, targets, runs=1):
    with RecordedServer(routes) as server:
        source = {"name": "masto", "platform": "mastodon", "base_url": server.base_url, "keep_all": True,
                  "targets": targets}
        db = tmp_path / "m.db"
        config = str(write_config(tmp_path / "m.yaml", [source], db))
        healths = [crawl_source("masto", config) for _ in range(runs)]
        paths = [r.path for r in server.requests]
    with SqliteStore(db) as store:
        return healths, {p.id.split(":", 1)[1]: p for p in store.iter_posts()}, paths


def test_an_older_instance_refusing_its_timelines_is_a_warning_and_accounts_still_collected(tmp_path):
    routes = [("GET", r"^/api/v2/instance$", Route.file("mastodon_instance_v43.json")),
              ("GET", r"^/api/v1/timelines/public", RESTRICTED),
              ("GET", r"^/api/v1/timelines/tag/", Route.file("mastodon_timeline_restricted.json", status=401)),
              ("GET", r"^/api/v1/accounts/lookup\?acct=zephyrcola", Route.file("mastodon_account_lookup.json")),
              ("GET", r"^/api/v1/accounts/109000000000042/statuses", Route.file("mastodon_account_statuses.json"))]
    targets = {"timelines": ["public", "local"], "hashtags": ["ZephyrCola"], "accounts": ["zephyrcola"]}
    healths, stored, paths = _crawl(tmp_path, routes, targets, runs=2)
    for health in healths:  # every run: ok, with the warning, never "partial"
        assert health.status == "ok" and health.errors == 0, health.message
        assert "configuration warning" in health.message and "HTTP 422" in health.message
        assert "This method requires an authenticated user" in health.message and "HTTP 401" in health.message
    assert healths[0].items == 4
    assert sum(p.startswith("/api/v1/timelines/public") for p in paths) == 4  # public and local, once per run
    update = stored["113302000000000040"]
    assert update.text.startswith("Update on the 330 ml recall: refunds are open in every store — no receipt needed.")
    assert update.author.followers == 48210 and update.engagement.shares == 230
    assert update.created_at == datetime(2026, 3, 2, 11, 2, 33, 120000, tzinfo=timezone.utc)
    reply = stored["113301990000000031"]
    assert reply.parent_id == "masto:113301460000000003" and reply.text.startswith("@fizzwatcher Thanks for flagging")
    assert stored["113301900000000020"].language == "de"
    assert stored["113301800000000010"].text == ""  # a picture without words is still a post


def test_an_instance_that_says_its_feeds_are_not_public_is_asked_once_and_not_read(tmp_path):
    routes = [("GET", r"^/api/v2/instance$", Route.file("mastodon_instance.json")),
              ("GET", r"^/api/v1/timelines/", RESTRICTED)]
    healths, stored, paths = _crawl(tmp_path, routes, {"timelines": ["public"]})
    assert healths[0].status == "ok" and healths[0].errors == 0
    assert "configuration warning" in healths[0].message and "remote live_feeds are 'authenticated'" in healths[0].message
    assert stored == {} and not any(p.startswith("/api/v1/timelines/") for p in paths)
    assert paths.count("/api/v2/instance") == 1
