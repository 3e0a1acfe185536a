"""App Store customer-reviews JSON feed as Apple serves it: undated entries, star ratings, content lists."""

from __future__ import annotations

from datetime import datetime, timezone

import scrapy
from scrapy.http import TextResponse

from crawlers.base_spider import Walk
from crawlers.platforms.appstore.spider import AppStoreSpider
from crawlers.run import crawl_source
from crisiswatch.core.store.base import PostFilter
from crisiswatch.core.store.sqlite import SqliteStore
from tests.crawlers.recorded_server import RecordedServer, Route
from tests.crawlers.helpers import recorded, run, spider_for, write_config

SERVED_AT = "Mon, 02 Mar 2026 11:30:00 GMT"
SERVED = datetime(2026, 3, 2, 11, 30, tzinfo=timezone.utc)
URL = "https://example.test/us/rss/customerreviews/page=1/id=1234567890/sortby=mostrecent/json"

UNDATED = {  # id -> (stars, helpful votes, author id, author name, title)
    "11901000006": (1, 12, "2093847561", "cola_mom_88", "Refund button does nothing"),
    "11901000005": (1, 7, "1122334455", "Dee & the cans", "1 star — worst update"),
    "11901000004": (2, 3, "5566778899", "J. Müller", "Recall page hard to find"),
    "11901000003": (3, 0, "6677889900", "sipper", "Meh"),
    "11901000002": (4, 1, "7788990011", "Ana", "Good app"),
    "11901000001": (5, 0, "8899001122", "rewardsfan", "Love it"),
}


def test_entries_without_updated_are_kept_with_the_feeds_time(tmp_path):
    spider = spider_for(AppStoreSpider, tmp_path, targets={"apps": ["1234567890"]})
    response = recorded(URL, "appstore_no_updated.json", headers={"Date": SERVED_AT})
    posts, requests = run(spider.parse_reviews, response, Walk(key="us:1234567890", since=None, numeric=True),
                          country="us", app="1234567890", number=1)
    assert spider.errors == []
    got = {p.id.split(":")[1]: (p.rating, p.engagement.likes, p.author.id, p.author.name, p.title) for p in posts}
    assert got == UNDATED  # the app's own entry (im:name, no rating) is not a review
    assert all(p.created_at == SERVED for p in posts)
    crash = next(p for p in posts if p.id.endswith("11901000005"))
    assert crash.text == "Since 7.5.0 the app crashes when I scan a can. Batch L2291 cans, of course 🙄"  # the text form
    assert crash.raw["im:version"]["label"] == "7.5.0" and crash.raw["im:voteCount"]["label"] == "9"
    assert requests == []  # "last" is page 1


def test_the_cursor_is_the_review_id_so_an_undated_review_is_never_re_dated(tmp_path):
    spider = spider_for(AppStoreSpider, tmp_path, targets={"apps": ["1234567890"]})
    walk = Walk(key="us:1234567890", since="11901000004", numeric=True)
    response = recorded(URL, "appstore_no_updated.json", headers={"Date": SERVED_AT})
    posts, _ = run(spider.parse_reviews, response, walk, country="us", app="1234567890", number=1)
    assert [p.id.split(":")[1] for p in posts] == ["11901000006", "11901000005"]
    assert walk.newest == "11901000006"


def test_mixed_dated_and_undated_chinese_reviews(tmp_path):
    spider = spider_for(AppStoreSpider, tmp_path, targets={"apps": ["1234567890"]}, options={"countries": ["cn"]})
    url = URL.replace("/us/", "/cn/")
    posts, _ = run(spider.parse_reviews, recorded(url, "appstore_cn_mixed_dates.json", headers={"Date": SERVED_AT}),
                   Walk(key="cn:1234567890", since=None, numeric=True), country="cn", app="1234567890", number=1)
    assert [(p.rating, p.created_at) for p in posts] == [
        (1, datetime(2026, 3, 2, 10, 40, tzinfo=timezone.utc)), (2, SERVED),
        (5, datetime(2026, 3, 1, 1, 0, tzinfo=timezone.utc))]
    assert posts[0].text == "申请退款后一直显示“处理中”，客服电话也打不通。" and posts[0].engagement.likes == 25


def test_an_empty_page_is_nothing_new_not_an_error(tmp_path):
    spider = spider_for(AppStoreSpider, tmp_path, targets={"apps": ["1234567890"]})
    posts, requests = run(spider.parse_reviews, recorded(URL, "appstore_empty.json"),
                          Walk(key="gb:1234567890", since=None, numeric=True), country="gb", app="1234567890",
                          number=1)
    assert posts == [] and requests == [] and spider.errors == []


def test_a_rating_outside_one_to_five_skips_that_review_with_a_reason(tmp_path):
    spider = spider_for(AppStoreSpider, tmp_path, targets={"apps": ["1234567890"]})
    body = (b'{"feed":{"entry":[{"id":{"label":"1"},"im:rating":{"label":"7"},"content":{"label":"x"}},'
            b'{"id":{"label":"2"},"im:rating":{"label":"2"},"content":{"label":"ok"}}]}}')
    response = TextResponse(url=URL, body=body, request=scrapy.Request(URL), encoding="utf-8")
    posts, _ = run(spider.parse_reviews, response, Walk(key="k", since=None, numeric=True), country="us",
                   app="1234567890", number=1)
    assert [p.rating for p in posts] == [2]
    assert len(spider.errors) == 1 and "not 1-5 stars" in spider.errors[0]


def test_a_real_crawl_stores_every_review_with_its_rating(tmp_path):
    routes = [("GET", r"^/us/rss/customerreviews/page=1/", Route.file("appstore_no_updated.json")),
              ("GET", r"^/cn/rss/customerreviews/page=1/", Route.file("appstore_cn_mixed_dates.json")),
              ("GET", r"^/gb/rss/customerreviews/page=1/", Route.file("appstore_empty.json"))]
    with RecordedServer(routes, date=SERVED_AT) as server:
        source = {"name": "reviews", "platform": "appstore", "base_url": server.base_url, "keep_all": True,
                  "targets": {"apps": ["1234567890"]}, "options": {"countries": ["us", "cn", "gb"]}}
        db = tmp_path / "a.db"
        health = crawl_source("reviews", str(write_config(tmp_path / "a.yaml", [source], db)))
    assert health.status == "ok" and health.items == 9, health.message
    with SqliteStore(db) as store:
        stored = {p.id.split(":")[1]: p for p in store.iter_posts()}
        one_star = store.count_posts(PostFilter(ratings=(1,)))
        low = {p.id for p in store.iter_posts(PostFilter(ratings=(1, 2)))}
    assert len(stored) == 9
    for native, (stars, likes, author_id, name, title) in UNDATED.items():
        post = stored[native]
        assert (post.rating, post.engagement.likes, post.author.id, post.author.name, post.title) == \
            (stars, likes, author_id, name, title)
        assert post.created_at == SERVED and post.thread_id == "reviews:app:1234567890"
    assert stored["11901000004"].text.startswith("Took me 10 minutes to find the recall info: Settings › Help")
    assert one_star == 3 and len(low) == 5

