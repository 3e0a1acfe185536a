"""Bilibili replies as the site answers: /x/v2/reply/main cursor paging, the pinned reply, the old endpoint."""

from __future__ import annotations

from datetime import datetime, timezone

from crawlers.base_spider import Walk
from crawlers.platforms.bilibili.spider import BilibiliSpider
from crawlers.run import crawl_source
from crisiswatch.core.store.sqlite import SqliteStore
from tests.crawlers.recorded_server import RecordedServer, Route
from tests.crawlers.helpers import recorded, run, spider_for, write_config

VIDEO = "BV1Zf4y1z7Aa"
MAIN = "https://example.test/x/v2/reply/main?type=1&oid=170001234&mode=2&next=0"
STATEMENT = "t-bilibili:232000000001"


def test_main_endpoint_first_page_collects_the_pinned_statement_and_follows_the_cursor(tmp_path):
    spider = spider_for(BilibiliSpider, tmp_path, targets={"videos": [VIDEO]}, options={"follower_lookup": False})
    posts, requests = run(spider.parse_replies, recorded(MAIN, "bilibili_main_first.json"), video=VIDEO,
                          aid="170001234", number=0)
    assert [p.id.split(":")[1] for p in posts] == ["232000000001", "232000000300", "232000000200", "232000000210"]
    statement = posts[0]
    assert statement.text.startswith("【置顶】关于330ml罐装产品召回的说明") and statement.engagement.likes == 8812
    assert statement.author.handle == "泽飞可乐官方" and statement.parent_id is None
    assert statement.created_at == datetime(2026, 3, 2, 7, 20, tzinfo=timezone.utc)
    assert posts[3].parent_id == "t-bilibili:232000000200"  # the nested reply
    assert [r.url for r in requests] == [
        "https://example.test/x/v2/reply/main?type=1&oid=170001234&mode=2&next=410"]
    assert spider.errors == []


def test_an_old_pinned_reply_neither_returns_nor_ends_the_walk(tmp_path):
    spider = spider_for(BilibiliSpider, tmp_path, targets={"videos": [VIDEO]}, options={"follower_lookup": False})
    walk = Walk(key="video", since="2026-03-02T10:00:00.000000Z")  # after the statement, before the replies
    posts, requests = run(spider.parse_replies, recorded(MAIN, "bilibili_main_first.json"), walk, video=VIDEO,
                          aid="170001234", number=0)
    assert STATEMENT not in [p.id for p in posts] and len(posts) == 3
    assert len(requests) == 1 and "next=410" in requests[0].url


def test_the_last_page_says_is_end(tmp_path):
    spider = spider_for(BilibiliSpider, tmp_path, targets={"videos": [VIDEO]}, options={"follower_lookup": False})
    url = MAIN.replace("next=0", "next=410")
    posts, requests = run(spider.parse_replies, recorded(url, "bilibili_main_last.json"), video=VIDEO,
                          aid="170001234", number=410)
    assert [p.text for p in posts] == ["第一次喝就觉得味道不对😷"] and requests == []


def test_old_endpoint_pinned_reply_is_data_upper_top(tmp_path):
    spider = spider_for(BilibiliSpider, tmp_path, targets={"videos": [VIDEO]},
                        options={"follower_lookup": False, "reply_endpoint": "page"})
    url = "https://example.test/x/v2/reply?type=1&oid=170001234&sort=0&pn=1&ps=20"
    posts, requests = run(spider.parse_replies, recorded(url, "bilibili_reply_pinned.json"), video=VIDEO,
                          aid="170001234", number=1)
    assert [p.id for p in posts] == [STATEMENT, "t-bilibili:232000000400"] and requests == []
    assert posts[1].text == "日本からです。同じ缶の問題がありました"


def test_a_refused_main_endpoint_falls_back_to_the_paged_one(tmp_path):
    spider = spider_for(BilibiliSpider, tmp_path, targets={"videos": [VIDEO]})
    posts, requests = run(spider.parse_replies, recorded(MAIN, "bilibili_main_refused.json"), video=VIDEO,
                          aid="170001234", number=0)
    assert posts == [] and spider.errors == []
    assert [r.url for r in requests] == ["https://example.test/x/v2/reply?type=1&oid=170001234&sort=0&pn=1&ps=20"]


def _crawl(tmp_path, routes):
    with RecordedServer(routes) as server:
        source = {"name": "bili", "platform": "bilibili", "base_url": server.base_url, "keep_all": True,
                  "targets": {"videos": [VIDEO]}}
        db = tmp_path / "b.db"
        health = crawl_source("bili", str(write_config(tmp_path / "b.yaml", [source], db)))
        paths = [r.path for r in server.requests]
    with SqliteStore(db) as store:
        return health, {p.id: p for p in store.iter_posts()}, paths


def test_a_real_crawl_pages_the_main_endpoint_and_stores_every_reply(tmp_path):
    routes = [("GET", r"^/x/web-interface/view\?bvid=BV1Zf4y1z7Aa", Route.file("bilibili_view.json")),
              ("GET", r"^/x/v2/reply/main\?.*next=0", Route.file("bilibili_main_first.json")),
              ("GET", r"^/x/v2/reply/main\?.*next=410", Route.file("bilibili_main_last.json")),
              ("GET", r"^/x/relation/stat", Route.file("bilibili_stat.json"))]
    health, stored, paths = _crawl(tmp_path, routes)
    assert health.status == "ok" and health.items == 5, health.message
    assert set(stored) == {"bili:232000000001", "bili:232000000300", "bili:232000000200", "bili:232000000210",
                           "bili:232000000100"}
    statement = stored["bili:232000000001"]
    assert statement.author.followers == 23817 and statement.thread_id == f"bili:{VIDEO}"
    assert "& 罐底鼓包" in stored["bili:232000000200"].text
    assert not any(p.startswith("/x/v2/reply?") for p in paths)  # the maintained endpoint only


def test_a_real_crawl_falls_back_to_the_paged_endpoint_when_main_is_refused(tmp_path):
    routes = [("GET", r"^/x/web-interface/view\?bvid=BV1Zf4y1z7Aa", Route.file("bilibili_view.json")),
              ("GET", r"^/x/v2/reply/main\?", Route.file("bilibili_main_refused.json")),
              ("GET", r"^/x/v2/reply\?.*pn=1", Route.file("bilibili_reply_pinned.json")),
              ("GET", r"^/x/relation/stat", Route.file("bilibili_stat.json"))]
    health, stored, _ = _crawl(tmp_path, routes)
    assert health.status == "ok" and set(stored) == {"bili:232000000001", "bili:232000000400"}, health.message
