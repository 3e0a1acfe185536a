"""Telegram channel preview pages beyond the plain case: forwards, photos, edits, service messages, empty channels."""

from __future__ import annotations

from datetime import datetime, timezone

from crawlers.base_spider import Walk
from crawlers.platforms.telegram.spider import TelegramSpider
from crawlers.run import crawl_source
from crisiswatch.core.store.sqlite import SqliteStore
from tests.crawlers.helpers import HtmlResponse, recorded, run, spider_for, write_config
from tests.crawlers.recorded_server import RecordedServer, Route


def test_forwarded_photo_only_edited_and_pinned_notice(tmp_path):
    spider = spider_for(TelegramSpider, tmp_path, targets={"channels": ["zephyrnews"]})
    page = recorded("https://example.test/s/zephyrnews", "telegram_channel_edge.html", HtmlResponse)
    posts, requests = run(spider.parse_page, page, Walk(key="c", since=None, numeric=True), channel="zephyrnews")
    assert [p.id for p in posts] == ["t-telegram:zephyrnews/4201", "t-telegram:zephyrnews/4202",
                                     "t-telegram:zephyrnews/4203"]  # "pinned ..." is a service message
    assert spider.errors == []
    assert posts[1].text == "" and posts[1].engagement.views == 7100  # a photo without a caption
    assert posts[2].engagement.views == 1_200_000
    assert posts[2].created_at == datetime(2026, 3, 2, 12, 30, 59, tzinfo=timezone.utc)
    assert all(p.author.followers == 48200 for p in posts)
    assert [r.url for r in requests] == ["https://example.test/s/zephyrnews?before=4201"]


def test_an_empty_channel_is_nothing_new(tmp_path):
    spider = spider_for(TelegramSpider, tmp_path, targets={"channels": ["zephyrnews"]})
    page = recorded("https://example.test/s/zephyrnews", "telegram_channel_empty.html", HtmlResponse)
    posts, requests = run(spider.parse_page, page, Walk(key="c", since=None, numeric=True), channel="zephyrnews")
    assert posts == [] and requests == [] and spider.errors == []


def test_a_real_crawl_stores_every_message_with_its_text(tmp_path):
    html = "text/html; charset=utf-8"
    routes = [("GET", r"^/s/zephyrnews\?before=4201", Route.file("telegram_channel.html", content_type=html)),
              ("GET", r"^/s/zephyrnews\?before=4118", Route.file("telegram_channel_empty.html", content_type=html)),
              ("GET", r"^/s/zephyrnews$", Route.file("telegram_channel_edge.html", content_type=html))]
    with RecordedServer(routes) as server:
        source = {"name": "tg", "platform": "telegram", "base_url": server.base_url, "keep_all": True,
                  "targets": {"channels": ["zephyrnews"]}}
        db = tmp_path / "t.db"
        health = crawl_source("tg", str(write_config(tmp_path / "t.yaml", [source], db)))
    with SqliteStore(db) as store:
        stored = {p.id.split("/")[-1]: p for p in store.iter_posts()}
    assert health.status == "ok" and set(stored) == {"4118", "4119", "4201", "4202", "4203"}, health.message
    forwarded = stored["4201"].text
    assert forwarded.startswith("Recall list & refund steps: zephyr.example/recall")
    assert forwarded.endswith("<no receipt needed>")  # an escaped angle bracket is text, not a tag
    assert stored["4203"].text.startswith("泽飞可乐：L2291批次召回进度更新 📢")
    assert stored["4119"].parent_id == "tg:zephyrnews/4118"
