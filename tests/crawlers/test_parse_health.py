"""A format change is loud: parse failures in crawl health, operations and the probe (issue 13)."""

from __future__ import annotations

import json
from datetime import timedelta

from typer.testing import CliRunner

from crawlers.run import crawl_source
from crisiswatch.core.store.sqlite import SqliteStore
from tests.crawlers.fixture_server import FixtureServer
from tests.crawlers.helpers import fixture, write_config

FEED = "application/feed+json"


def broken_feed() -> bytes:
    """A real JSON Feed whose publisher started writing dates in a form nobody reads."""
    document = json.loads(fixture("jsonfeed_11.json").read_text(encoding="utf-8"))
    for n, item in enumerate(document["items"]):
        item.pop("date_modified", None)
        item["date_published"] = f"vor {n + 2} Stunden"
    return json.dumps(document, ensure_ascii=False).encode()


def rss_source(server: FixtureServer, feeds: list[str], name: str = "news") -> dict:
    return {"name": name, "platform": "rss", "base_url": server.url, "keep_all": True, "download_delay_s": 0,
            "targets": {"feeds": feeds}}


def test_every_item_unreadable_is_a_parse_failure_not_nothing_new(tmp_path):
    routes = {"/broken.json": (FEED, broken_feed()), "/empty.json": (FEED, json.dumps(
        {"version": "https://jsonfeed.org/version/1.1", "title": "quiet", "items": []}).encode())}
    with FixtureServer(routes) as server:
        db = tmp_path / "h.db"
        config = write_config(tmp_path / "c.yaml", [rss_source(server, ["broken.json"]),
                                                    rss_source(server, ["empty.json"], name="quiet")], db)
        broken = crawl_source("news", str(config))
        quiet = crawl_source("quiet", str(config))
    assert quiet.status == "ok" and quiet.items == 0 and quiet.parse_failures == 0  # nothing new
    assert broken.status == "parse_failed" and broken.items == 0 and broken.pages == 1
    assert broken.parse_failures == 4 and broken.unreadable_pages == 1
    assert "4 of 4 items" in broken.message and "'date_published' on 4" in broken.message
    assert "sample:" in broken.message and "vor 2 Stunden" in broken.message

    from crisiswatch.app.cli import app
    from crisiswatch.app.operations import source_health
    from crisiswatch.core.config import load_config
    from crisiswatch.core.model import utc_now

    shown = CliRunner().invoke(app, ["sources", "status", "--config", str(config)], env={"COLUMNS": "250"})
    assert shown.exit_code == 0 and "parse_failed" in shown.output
    with SqliteStore(db) as store:
        store.setup()
        assert store.crawl_history("news", limit=1)[0].parse_failures == 4  # counted in the crawl record
        rows = {row.source: row for row in source_health(store, load_config(config), utc_now() + timedelta(seconds=1))}
    assert rows["news"].status == "parse failure" and "date_published" in rows["news"].detail
    assert rows["quiet"].status == "ok"


def test_a_page_losing_more_than_a_small_share_says_which_field_with_a_sample(tmp_path):
    routes = {"/feed.json": (FEED, fixture("jsonfeed_11.json").read_bytes())}  # one undated item of four
    with FixtureServer(routes) as server:
        db = tmp_path / "p.db"
        config = write_config(tmp_path / "c.yaml", [rss_source(server, ["feed.json"])], db)
        health = crawl_source("news", str(config))
    assert health.status == "partial" and health.items == 3 and health.parse_failures == 1
    assert health.message.startswith("partly unreadable page: 1 of 4 items")
    assert "'date_published' on 1" in health.message and '"id": "draft-4"' in health.message


def test_probe_prints_field_by_field_and_stores_nothing(tmp_path):
    from crisiswatch.app.cli import app

    routes = {"/rdf": ("application/rdf+xml", fixture("rss10_rdf.xml").read_bytes()),
              "/feed.json": (FEED, fixture("jsonfeed_11.json").read_bytes())}
    with FixtureServer(routes) as server:
        db = tmp_path / "probe.db"
        source = rss_source(server, ["rdf", "feed.json"])
        source["base_url"] = "https://news.invalid"  # the configured host is unreachable: --base-url replaces it
        config = write_config(tmp_path / "c.yaml", [source], db)
        result = CliRunner().invoke(app, ["sources", "probe", "news", "--config", str(config),
                                          "--base-url", server.url, "--show", "7"], env={"COLUMNS": "250"})
        requests = list(server.requests)
    output = result.output
    assert result.exit_code == 0, output
    assert "2 pages, 6 posts read, 1 items unreadable" in output
    assert "news:https://getraenke.example/2026/03/zephyr-rueckruf" in output and "de-DE" in output
    assert "language" in output and "6/6" in output  # every post has a language
    assert "author.followers" in output and "none" in output  # feeds give no follower counts
    assert "could not read:" in output and "date_published" in output
    assert sorted(r.split("?")[0] for r in requests if r != "/robots.txt") == ["/feed.json", "/rdf"]
    with SqliteStore(db) as store:
        store.setup()
        assert store.count_posts() == 0 and store.crawl_history("news") == []
        assert store.get_cursor("news", "feed:rdf") is None
