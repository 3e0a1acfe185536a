"""A platform added from outside: one package, one entry point, nothing of crisiswatch edited.

The throw-away package below is what a third party would ship: a ``PlatformSpec`` (spider,
targets model, replay handler) named by a ``crisiswatch.platforms`` entry point. The config
accepts a source of that platform, the replay server serves it, and a real ``scrapy crawl``
in a subprocess (started by ``crawlers.run.crawl_source``, as the app's crawl step does) finds
its spider through the registry and stores its posts.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from crawlers.run import crawl_source
from crisiswatch.core import registry
from crisiswatch.core.config import ConfigError, parse_config
from crisiswatch.core.model import Author, Post
from crisiswatch.core.scenario import Scenario
from crisiswatch.core.store.sqlite import SqliteStore
from scenarios.replay import ReplayServer
from tests.crawlers.helpers import write_config
from tests.extension_package import make_package

TOY_MODULES = {
    "toyforum_platform.__init__": '''
        """Toy Forum: boards of posts, served as JSON, newest first."""
        from crawlers.targets import Targets
        from crisiswatch.core.extensions import PlatformSpec


        class ToyForumTargets(Targets):
            boards: list[str] = []


        PLATFORM = PlatformSpec(name="toyforum", spider="toyforum_platform.spider:ToyForumSpider",
                                targets=ToyForumTargets, replay="toyforum_platform.replay")
    ''',
    "toyforum_platform.spider": '''
        from crawlers.base_spider import CrisisSpider, time_cursor
        from crawlers.normalise import parse_iso
        from crisiswatch.core.model import Author


        class ToyForumSpider(CrisisSpider):
            name = "toyforum"

            def walk_keys(self):
                return [f"board:{board}" for board in self.targets("boards")]

            def start_walks(self, cursors):
                for board in self.targets("boards"):
                    walk = self.new_walk(f"board:{board}", cursors)
                    yield self.request(self.url(f"/boards/{board}.json"), walk, self.parse_board)

            def parse_board(self, response, walk):
                for item in self.json_body(response)["posts"]:
                    post = self.post_or_none(lambda: self.make_post(
                        item["id"], parse_iso(item["created"]), item["text"],
                        author=Author(handle=item["user"], followers=item["followers"])), response.url)
                    if post is not None and self.accept(walk, post, time_cursor(post.created_at)):
                        yield post
    ''',
    "toyforum_platform.replay": '''
        from crisiswatch.core.replay import Reply, native


        def handle(catalog, now, method, path, query, headers, body, prefix):
            if path != "/boards/general.json":
                return Reply.json({"error": "no such board"}, status=404)
            posts = catalog.visible("toyforum", now)
            return Reply.json({"posts": [
                {"id": native(p), "created": p.created_at.isoformat(), "text": p.text,
                 "user": p.author.handle, "followers": p.author.followers} for p in posts]})


        def source(catalog, base_url):
            return {"targets": {"boards": ["general"]}}
    ''',
}
START = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)


@pytest.fixture
def toy_platform(tmp_path, monkeypatch):
    """The toy package on sys.path (this process) and PYTHONPATH (the crawl subprocess)."""
    root = make_package(tmp_path / "site", "toyforum-platform", TOY_MODULES,
                        {"crisiswatch.platforms": {"toyforum": "toyforum_platform:PLATFORM"}})
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setenv("PYTHONPATH", str(root))
    registry.forget()
    yield root
    registry.forget()


def toy_scenario() -> Scenario:
    texts = ["Zephyr Cola recall announced for 330ml cans", "泽飞可乐这批味道不对", "nothing about any brand"]
    posts = [Post(id=f"toyforum:{100 + i}", source="toyforum", text=text, created_at=START + timedelta(minutes=i),
                  author=Author(handle=f"user{i}", followers=10 * (i + 1)))
             for i, text in enumerate(texts)]
    return Scenario(name="toy", title="Toy Forum", start=START, onset=START, end=START + timedelta(hours=1),
                    posts=posts)


def test_a_platform_from_another_package_is_crawled_into_the_store(toy_platform, tmp_path):
    assert "toyforum" in registry.names("platforms")
    with ReplayServer(toy_scenario(), speedup=0, clock_start=START + timedelta(hours=1)) as server:
        (source,) = server.source_configs()  # the toy's replay module says what to target
        assert source.platform == "toyforum" and source.targets == {"boards": ["general"]}
        spec = source.model_dump(exclude_defaults=True) | {"name": "toy"}
        config = write_config(tmp_path / "toy.yaml", [spec], tmp_path / "toy.db",
                              contact_url="https://ops.example/crawler")
        health = crawl_source("toy", str(config), timeout_s=120)
        assert server.requests_to(r"^/toyforum/boards/general\.json")
    assert health.status == "ok", health.message
    with SqliteStore(tmp_path / "toy.db") as store:
        store.setup()
        posts = {p.id: p for p in store.iter_posts()}
    # the two posts that match a watchlist, with the ids and reach the toy spider gave them
    assert sorted(posts) == ["toy:100", "toy:101"]
    assert posts["toy:101"].author.followers == 20 and posts["toy:101"].text == "泽飞可乐这批味道不对"


def test_scrapy_finds_the_spider_of_a_registered_platform(toy_platform):
    from scrapy.settings import Settings

    from crawlers.spider_loader import PlatformSpiderLoader

    loader = PlatformSpiderLoader.from_settings(Settings({"SPIDER_MODULES": []}))
    assert {"toyforum", "mastodon", "weibo"} <= set(loader.list())
    assert loader.load("toyforum").__module__ == "toyforum_platform.spider"
    with pytest.raises(KeyError, match="unknown platform 'myspace'"):
        loader.load("myspace")


def test_a_source_of_the_toy_platform_is_checked_by_its_targets_model(toy_platform):
    good = parse_config("sources:\n  - name: toy\n    platform: toyforum\n    targets: {boards: [general]}\n")
    assert good.sources[0].targets == {"boards": ["general"]}
    with pytest.raises(ConfigError) as caught:
        parse_config("sources:\n  - name: toy\n    platform: toyforum\n    targets:\n      board: [general]\n",
                     "toy.yaml")
    assert caught.value.problems == [
        "toy.yaml:5: sources[0].targets.board: not a target of the toyforum platform (it takes: boards)"]


def test_an_unknown_platform_is_a_config_error_that_lists_the_known_ones():
    text = "sources:\n  - name: a\n    platform: mastodon\n  - name: b\n    platform: myspace\n"
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "c.yaml")
    (problem,) = caught.value.problems
    assert problem.startswith("c.yaml:5: sources[1].platform: unknown platform 'myspace' (known: ")
    assert all(name in problem for name in ("mastodon", "weibo", "bilibili", "rss"))


def test_a_wrong_targets_key_or_value_is_a_config_error_at_its_line():
    text = """sources:
  - name: fedi
    platform: mastodon
    targets:
      hashtags: [zephyrcola]
      hastags: [zephyr]
  - name: news
    platform: rss
    targets:
      feeds: [42]
"""
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "c.yaml")
    assert caught.value.problems == [
        "c.yaml:6: sources[0].targets.hastags: not a target of the mastodon platform "
        "(it takes: instances, hashtags, timelines, accounts)",
        "c.yaml:10: sources[1].targets.feeds[0]: Input should be a valid string",
    ]
