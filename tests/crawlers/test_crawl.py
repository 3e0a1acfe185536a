"""Real ``python -m scrapy crawl`` runs (through ``crawl_source``) against the replay server."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crawlers.run import crawl_command, crawl_environment, crawl_source
from crisiswatch.core.config import Watchlist
from crisiswatch.core.model import CrawlHealth, Post
from crisiswatch.core.store.sqlite import SqliteStore
from crisiswatch.core.watchlist import WatchlistMatcher
from scenarios.replay import ReplayServer
from scenarios.replay.synthetic import START, WATCHLISTS, synthetic_platforms, synthetic_scenario
from tests.crawlers.helpers import write_config

PLATFORMS = synthetic_platforms()

MATCHER = WatchlistMatcher([Watchlist(**w) for w in WATCHLISTS])
CONTACT = "https://ops.zephyr.example/crawler"


@pytest.fixture(autouse=True)
def bluesky_login(monkeypatch):
    for name in ("BSKY_ID", "BSKY_PASSWORD"):
        monkeypatch.setenv(f"CRISISWATCH_{name}", "replay-value")


def matching(posts: list[Post]) -> list[Post]:
    return [p for p in posts if MATCHER.match(p.text, p.title)]


def native(post_id: str) -> str:
    return post_id.split(":", 1)[1]


def sources_for(server: ReplayServer, **overrides) -> list[dict]:
    specs = []
    for source in server.source_configs(**overrides):
        spec = source.model_dump(exclude_defaults=True)
        spec["name"] = source.platform
        if source.platform == "bluesky":  # also exercise the logged-in search
            spec["targets"]["searches"] = ["zephyr"]
            spec["credentials"] = {"identifier": "${CRISISWATCH_BSKY_ID}",
                                   "app_password": "${CRISISWATCH_BSKY_PASSWORD}"}
        specs.append(spec)
    return specs


def crawl_all(names: list[str], config: Path, workers: int = 3, **kwargs) -> dict[str, CrawlHealth]:
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {name: pool.submit(crawl_source, name, str(config), **kwargs) for name in names}
    return {name: future.result() for name, future in futures.items()}


def stored(db: Path, source: str | None = None) -> dict[str, Post]:
    from crisiswatch.core.store.base import PostFilter

    with SqliteStore(db) as store:
        store.setup()
        posts = store.iter_posts(PostFilter(sources=(source,)) if source else None)
        return {native(p.id): p for p in posts}


def test_every_spider_collects_its_platform_faithfully(tmp_path):
    scenario = synthetic_scenario(30)
    with ReplayServer(scenario, speedup=0, clock_start=scenario.end) as server:
        db = tmp_path / "crawl.db"
        config = write_config(tmp_path / "c.yaml", sources_for(server), db, contact_url=CONTACT)
        health = crawl_all(PLATFORMS, config)
        requests = list(server.requests)

    for platform in PLATFORMS:
        assert health[platform].status == "ok", (platform, health[platform].message)
        expected = {native(p.id): p for p in matching([p for p in scenario.posts if p.source == platform])}
        got = stored(db, platform)
        assert set(got) == set(expected), platform
        assert health[platform].items >= len(expected) and health[platform].pages >= 1
        assert health[platform].newest_post_at == max(p.created_at for p in got.values())
        for key, post in got.items():
            original = expected[key]
            assert post.text == original.text, platform
            assert math.isclose(post.created_at.timestamp(), original.created_at.timestamp(), abs_tol=1), platform
            assert post.watchlists and set(post.watchlists) <= {"zephyr", "recall"}
            if platform in ("mastodon", "bluesky", "hackernews", "reddit", "bilibili", "weibo"):
                assert post.engagement.likes == original.engagement.likes, platform
            if platform in ("mastodon", "bluesky", "bilibili"):
                assert post.author.followers == original.author.followers, platform
            if platform == "weibo":  # Weibo writes 1.2万 for 12,500
                assert math.isclose(post.author.followers, original.author.followers, rel_tol=0.05)
            if platform in ("rss", "hackernews", "reddit", "appstore"):
                assert post.title == original.title
    assert any(r.path == "/robots.txt" for r in requests)
    assert all(f"crisiswatch/0.1 (+{CONTACT})" == r.headers.get("user-agent") for r in requests)

    result = CliRunner().invoke(_app(), ["sources", "status", "--config", str(config)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for platform in PLATFORMS:
        assert platform in result.output
    assert result.output.count(" ok ") >= len(PLATFORMS)


def _app():
    from crisiswatch.app.cli import app

    return app


def test_second_crawl_fetches_only_what_is_new(tmp_path):
    platforms = ["mastodon", "hackernews", "telegram", "rss"]
    scenario = synthetic_scenario(30, platforms)
    middle = START + timedelta(minutes=15, seconds=40)
    with ReplayServer(scenario, speedup=0, clock_start=middle) as server:
        db = tmp_path / "incremental.db"
        config = write_config(tmp_path / "c.yaml", sources_for(server), db)
        first = crawl_all(platforms, config, workers=4)
        seen = len(server.requests)
        server.clock.set(scenario.end)
        result = CliRunner().invoke(_app(), ["crawl", "--all", "--config", str(config)])
        assert result.exit_code == 0, result.output
        second_requests = server.requests[seen:]
    with SqliteStore(db) as store:
        store.setup()
        second = {p: store.crawl_history(p, limit=1)[0] for p in platforms}
    for platform in platforms:
        posts = [p for p in scenario.posts if p.source == platform]
        old = matching([p for p in posts if p.created_at <= middle])
        new = matching([p for p in posts if p.created_at > middle])
        assert first[platform].items == len(old), platform
        # Time cursors take the boundary post again (same-second posts are never lost).
        assert len(new) <= second[platform].items <= len(new) + 1, platform
        assert set(stored(db, platform)) == {native(p.id) for p in old + new}
    assert any("since_id=" in r.path for r in second_requests if "/mastodon/api/v1/timelines" in r.path)
    assert any("created_at_i%3E%3D" in r.path for r in second_requests if "/hackernews/" in r.path)
    for platform in platforms:
        assert f"{platform}: ok" in result.output


def test_429_with_retry_after_is_waited_out_then_succeeds(tmp_path):
    scenario = synthetic_scenario(10, ["hackernews"])
    with ReplayServer(scenario, speedup=0, clock_start=scenario.end) as server:
        server.add_fault(r"/hackernews/api/v1/search_by_date", "status", times=2, status=429,
                         headers={"Retry-After": "1"})
        config = write_config(tmp_path / "c.yaml", sources_for(server), tmp_path / "r.db")
        health = crawl_source("hackernews", str(config))
        searches = server.requests_to(r"/hackernews/api/v1/search_by_date")
    assert health.status == "ok" and health.errors == 0
    assert [r.status for r in searches] == [429, 429, 200]
    assert searches[1].at - searches[0].at >= 0.9 and searches[2].at - searches[1].at >= 0.9
    assert len(stored(tmp_path / "r.db")) == len(matching(scenario.posts))


def test_bad_input_is_counted_and_the_crawl_goes_on(tmp_path):
    scenario = synthetic_scenario(30, ["hackernews", "telegram", "rss", "mastodon"])
    hn = [p for p in scenario.posts if p.source == "hackernews"]
    by_query = {word: [native(p.id) for p in hn if word in p.text] for word in ("flat", "headaches", "recall",
                                                                                 "lime", "leaking")}
    queries = ["flat", "headaches", "recall", "lime", "leaking", "storm", "hang", "missing"]
    good_hit = (b'{"hits":[{"objectID":"49000001","created_at_i":1772445000,"title":"Zephyr Cola fine hit",'
                b'"author":"a","points":1,"num_comments":0,"_tags":["story"]},{"objectID":"49000002","title":'
                b'"Zephyr Cola hit without a time","_tags":["story"]}],"nbHits":2,"nbPages":1,"page":0,'
                b'"hitsPerPage":100}')
    with ReplayServer(scenario, speedup=0, clock_start=scenario.end) as server:
        server.catalog.options["mastodon_timelines_access"] = "authenticated"
        fault = lambda query, kind, **kw: server.add_fault(rf"query={query}&", kind, **kw)  # noqa: E731
        fault("flat", "body", body=b'{"hits": [{"objectID": "1", "created_at_i": ')
        fault("headaches", "truncate")
        fault("recall", "cut")
        fault("lime", "utf8", body=b"flavour")
        fault("leaking", "pad", size=5 * 1024 * 1024)
        fault("storm", "status", status=429, headers={"Retry-After": "1"})
        fault("hang", "hang", seconds=4)
        fault("missing", "body", body=good_hit)
        server.add_fault(r"/telegram/s/zephyrnews$", "cut", times=1)
        server.add_fault(r"/rss/feed.xml", "body", body=b"<?xml version='1.0'?><rss><channel><item><title>x</ti")
        server.add_fault(r"/rss/atom.xml", "utf8", body=b"Zephyr report 28")
        sources = [s for s in sources_for(server, options={"timeout_s": 1.5, "retries": 1})]
        for spec in sources:
            if spec["platform"] == "hackernews":
                spec["targets"] = {"queries": queries}
            if spec["platform"] == "rss":
                spec["targets"] = {"feeds": ["private/feed.xml", "feed.xml", "atom.xml"]}
        db = tmp_path / "bad.db"
        config = write_config(tmp_path / "c.yaml", sources, db)
        health = crawl_all(["hackernews", "telegram", "rss", "mastodon"], config, workers=4)
        server.add_fault(r"/telegram/s/zephyrnews$", "utf8", times=1)  # the page's title has an en dash
        retried_telegram = crawl_source("telegram", str(config))
        private_requests = server.requests_to(r"/rss/private/")

    hackernews = health["hackernews"]
    assert hackernews.status == "partial" and hackernews.errors == 7, hackernews.message
    got = stored(db, "hackernews")
    assert set(got) == set(by_query["lime"]) | set(by_query["leaking"]) | {"49000001"}
    damaged = [p for k, p in got.items() if k in by_query["lime"] and "\ufffd" in p.text]
    assert len(damaged) == 1 and damaged[0].text.startswith("Loving the new Zephyr Cola lime \ufffdlavour")
    assert "malformed JSON" in hackernews.message

    telegram = [p for p in scenario.posts if p.source == "telegram"]
    assert health["telegram"].errors == 1 and "truncated" in health["telegram"].message
    assert len(stored(db, "telegram")) == len(matching(telegram))  # the retry crawl got everything
    assert retried_telegram.items == len(matching(telegram))
    assert retried_telegram.errors == 1 and "invalid utf-8" in retried_telegram.message

    assert health["rss"].errors == 3 and "robots.txt" in health["rss"].message and private_requests == []
    assert "invalid UTF-8" in health["rss"].message
    rss = stored(db, "rss")
    assert len(rss) == len(matching([p for p in scenario.posts if p.source == "rss"]))
    assert sum("\ufffd" in (p.title or "") for p in rss.values()) == 1  # kept, with the bad byte replaced
    assert health["mastodon"].items == 0 and "not public" in health["mastodon"].message


def test_crawl_killed_mid_way_resumes_without_loss_or_duplicates(tmp_path):
    scenario = synthetic_scenario(1200, ["mastodon"], spacing=timedelta(seconds=30))
    expected = {native(p.id) for p in matching(scenario.posts)}
    with ReplayServer(scenario, speedup=0, clock_start=scenario.end) as server:
        db = tmp_path / "kill.db"
        sources = sources_for(server, download_delay_s=0.05, concurrency=1)
        config = write_config(tmp_path / "c.yaml", sources, db)
        command = crawl_command("mastodon", "mastodon", str(config), {"CRISISWATCH_BATCH_SIZE": "40",
                                                                     "AUTOTHROTTLE_ENABLED": "False"})
        process = subprocess.Popen(command, env=crawl_environment(str(config)), stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (not db.exists() or len(stored(db)) < 200):
            time.sleep(0.2)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        partial = stored(db)
        assert 0 < len(partial) < len(expected)
        with SqliteStore(db) as store:
            assert not store.crawl_history("mastodon")  # killed: nothing recorded by the crawl itself
        health = crawl_source("mastodon", str(config), settings={"AUTOTHROTTLE_ENABLED": "False"})
    assert health.status == "ok"
    final = stored(db)
    assert set(final) == expected and len(final) == len(expected)
    with SqliteStore(db) as store:
        assert store.count_posts() == len(expected)


def test_a_source_that_cannot_start_is_recorded_as_failed(tmp_path, monkeypatch):
    scenario = synthetic_scenario(5, ["reddit"])
    with ReplayServer(scenario, speedup=0, clock_start=scenario.end) as server:
        monkeypatch.delenv("CRISISWATCH_REPLAY_REDDIT_CLIENT_SECRET")
        config = write_config(tmp_path / "c.yaml", sources_for(server), tmp_path / "f.db")
        health = crawl_source("reddit", str(config))
    assert health.status == "failed" and health.pages == 0
    assert "CRISISWATCH_REPLAY_REDDIT_CLIENT_SECRET" in health.message
    result = CliRunner().invoke(_app(), ["sources", "status", "--config", str(config)], env={"COLUMNS": "200"})
    assert "failed" in result.output


def test_hackernews_slices_time_past_the_1000_hit_cap(tmp_path):
    scenario = synthetic_scenario(1100, ["hackernews"], spacing=timedelta(seconds=40))
    with ReplayServer(scenario, speedup=0, clock_start=scenario.end) as server:
        sources = sources_for(server, keep_all=True, options={"hits_per_page": 500})
        config = write_config(tmp_path / "c.yaml", sources, tmp_path / "hn.db")
        health = crawl_source("hackernews", str(config))
        searches = server.requests_to(r"/hackernews/api/v1/search_by_date")
    assert health.status == "ok" and len(stored(tmp_path / "hn.db")) == 1100
    assert any("created_at_i%3C%3D" in r.path for r in searches)  # a second, older slice


def test_a_crawl_past_its_time_limit_is_stopped_and_recorded(tmp_path):
    scenario = synthetic_scenario(5, ["rss"])
    with ReplayServer(scenario, speedup=0, clock_start=scenario.end) as server:
        server.add_fault(r"/rss/feed.xml", "hang", seconds=6)
        sources = sources_for(server, options={"timeout_s": 60})
        config = write_config(tmp_path / "c.yaml", sources, tmp_path / "t.db")
        started = time.monotonic()
        health = crawl_source("rss", str(config), timeout_s=3)
    assert time.monotonic() - started < 20
    # Stopped gracefully: the page in flight is still stored, and the record says it was cut short.
    assert health.status == "partial" and "stopped before the end (shutdown)" in health.message
    assert health.items == len(matching(scenario.posts))


def test_a_backfill_crawl_reads_past_the_cursor_and_duplicates_nothing(tmp_path):
    platforms = ["mastodon", "hackernews"]
    scenario = synthetic_scenario(30, platforms)
    with ReplayServer(scenario, speedup=0, clock_start=scenario.end) as server:
        db = tmp_path / "backfill.db"
        config = write_config(tmp_path / "c.yaml", sources_for(server), db)
        crawl_all(platforms, config, workers=2)
        incremental = crawl_all(platforms, config, workers=2)
        backfill = crawl_all(platforms, config, workers=2, settings={"CRISISWATCH_BACKFILL_PAGES": 50})
    for platform in platforms:
        expected = matching([p for p in scenario.posts if p.source == platform])
        assert incremental[platform].items <= 1, platform  # nothing new: at most the boundary post again
        assert backfill[platform].items == len(expected), platform  # every post read again
        assert set(stored(db, platform)) == {native(p.id) for p in expected}  # and none twice
