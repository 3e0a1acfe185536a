"""The replay server on its own: the scenario clock, platform paging, access rules, faults."""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.request
from datetime import timedelta
from urllib.parse import quote

import pytest

from scenarios.replay import ReplayServer, ScenarioClock
from scenarios.replay.synthetic import START, synthetic_scenario


def fetch(url: str, headers: dict[str, str] | None = None, data: bytes | None = None, timeout: float = 5):
    request = urllib.request.Request(url, headers=headers or {}, data=data)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


@pytest.fixture
def server():
    with ReplayServer(synthetic_scenario(30), speedup=0) as running:
        yield running


def test_posts_are_released_only_when_the_clock_reaches_them(server):
    url = server.base_url_for("mastodon") + "/api/v1/timelines/public?limit=40"
    server.clock.set(START - timedelta(minutes=1))
    assert json.loads(fetch(url)[2]) == []
    server.clock.set(START + timedelta(minutes=10, seconds=31))
    statuses = json.loads(fetch(url)[2])
    assert len(statuses) == 11  # one a minute, the first at START
    server.clock.advance(timedelta(hours=1))
    assert len(json.loads(fetch(url)[2])) == 30


def test_clock_runs_at_the_speedup_and_can_be_frozen():
    clock = ScenarioClock(START, speedup=3600)
    time.sleep(0.2)
    assert timedelta(minutes=10) < clock.now() - START < timedelta(minutes=30)
    frozen = ScenarioClock(START, speedup=0)
    time.sleep(0.05)
    assert frozen.now() == START


def test_mastodon_link_header_pages_to_older_posts(server):
    server.clock.set(START + timedelta(hours=2))
    status, headers, body = fetch(server.base_url_for("mastodon") + "/api/v1/timelines/public?limit=20")
    first = json.loads(body)
    following = headers["Link"].split(">;")[0].lstrip("<")
    second = json.loads(fetch(following)[2])
    assert len(first) == 20 and len(second) == 10
    assert int(second[0]["id"]) < int(first[-1]["id"])
    since = json.loads(fetch(server.base_url_for("mastodon") + f"/api/v1/timelines/public?since_id={first[1]['id']}")[2])
    assert [s["id"] for s in since] == [first[0]["id"]]


def test_platform_access_rules(server):
    server.clock.set(START + timedelta(hours=2))
    assert fetch(server.base_url_for("reddit") + "/r/all/new")[0] == 401
    assert fetch(server.base_url_for("bluesky") + "/xrpc/app.bsky.feed.searchPosts?q=zephyr")[0] == 403
    weibo = server.base_url_for("weibo") + "/api/container/getIndex?containerid=" + quote("100103type=61&q=泽飞可乐")
    assert json.loads(fetch(weibo)[2])["ok"] == -100  # no visitor cookie yet
    status, headers, _ = fetch(server.base_url_for("weibo") + "/")
    assert "_T_WM=" in headers["Set-Cookie"]
    assert fetch(server.base_url + "/robots.txt")[2].decode().startswith("User-agent: *")


def test_faults_injected_per_path(server):
    server.clock.set(START + timedelta(hours=2))
    server.add_fault(r"/hackernews/", "status", times=2, status=429, headers={"Retry-After": "3"})
    url = server.base_url_for("hackernews") + "/api/v1/search_by_date?query="
    assert [fetch(url)[0] for _ in range(3)] == [429, 429, 200]
    assert fetch(server.base_url_for("hackernews") + "/api/v1/search_by_date")[0] == 200
    server.add_fault(r"/rss/feed.xml", "truncate", times=1)
    with pytest.raises(http.client.IncompleteRead):
        fetch(server.base_url_for("rss") + "/feed.xml")
    server.add_fault(r"/rss/atom.xml", "hang", times=1, seconds=3)
    with pytest.raises((TimeoutError, urllib.error.URLError)):
        fetch(server.base_url_for("rss") + "/atom.xml", timeout=0.5)
    server.add_fault(r"/mastodon/", "pad", times=1, size=3_000_000)
    status, _, body = fetch(server.base_url_for("mastodon") + "/api/v1/timelines/public")
    assert len(body) == 3_000_000 and len(json.loads(body)) == 20
    assert len(server.requests_to(r"/hackernews/")) == 4


def test_replay_command_writes_a_config_that_points_at_it(tmp_path):
    import yaml
    from typer.testing import CliRunner

    from crisiswatch.app.cli import app

    target = tmp_path / "replay.yaml"
    result = CliRunner().invoke(app, ["replay", "synthetic", "--port", "0", "--speedup", "0",
                                      "--write-config", str(target), "--duration", "0.2"])
    assert result.exit_code == 0, result.output
    written = yaml.safe_load(target.read_text(encoding="utf-8"))
    assert {s["platform"] for s in written["sources"]} == {
        "mastodon", "bluesky", "hackernews", "rss", "reddit", "telegram", "appstore", "weibo", "bilibili"}
    assert all(s["base_url"].startswith("http://127.0.0.1:") for s in written["sources"])
    assert written["watchlists"][0]["name"] == "zephyr"
    assert "replaying synthetic" in result.output
