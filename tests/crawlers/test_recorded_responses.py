"""Each spider's parser on recorded responses in the platform's real format, quirks included."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from crawlers.base_spider import Walk
from crawlers.pipelines import NormalisePipeline
from crawlers.platforms.appstore.spider import AppStoreSpider
from crawlers.platforms.bilibili.spider import BilibiliSpider
from crawlers.platforms.bluesky.spider import BlueskySpider
from crawlers.platforms.hackernews.spider import HackerNewsSpider
from crawlers.platforms.mastodon.spider import MastodonSpider
from crawlers.platforms.reddit.spider import RedditSpider
from crawlers.platforms.rss.spider import RssSpider
from crawlers.platforms.telegram.spider import TelegramSpider
from crawlers.platforms.weibo.spider import WeiboSpider
from tests.crawlers.helpers import HtmlResponse, XmlResponse, fixture, recorded, run, spider_for

normalise = NormalisePipeline().process_item


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def test_mastodon_timeline_boosts_spoilers_and_link_paging(tmp_path):
    spider = spider_for(MastodonSpider, tmp_path, targets={"hashtags": ["ZephyrCola"]})
    link = fixture("mastodon_tag_timeline.json.link").read_text().strip()
    response = recorded("https://social.example/api/v1/timelines/tag/zephyrcola?limit=40",
                        "mastodon_tag_timeline.json", headers={"Link": link})
    posts, requests = run(spider.parse_timeline, response, Walk(key="tag", since=None, numeric=True))
    assert [p.id for p in posts] == ["t-mastodon:113301460000000003", "t-mastodon:113301430000000000",
                                     "t-mastodon:113301440000000001"]
    first = normalise(posts[0])
    assert first.text == "Three cans of #ZephyrCola from the same pack were flat & smelled odd.\nAnyone else?\n\n" \
                         "Batch code L2291."
    assert first.author.followers == 2843 and first.engagement.likes == 31 and first.engagement.shares == 12
    assert first.created_at == utc(2026, 3, 2, 9, 41, 7, 512000)
    boosted = posts[1]  # the boost is collected as the original post, with the original author's reach
    assert boosted.author.handle == "sodaboss@other.example" and boosted.author.followers == 120455
    assert boosted.parent_id == "t-mastodon:113301420000000000"
    assert normalise(posts[2]).text.startswith("stomach trouble\n\nFelt sick after a @zephyr Zephyr Cola")
    assert [r.url for r in requests] == [
        "https://social.example/api/v1/timelines/tag/zephyrcola?limit=40&max_id=113301440000000001"]


def test_mastodon_skips_timelines_the_instance_does_not_make_public(tmp_path):
    spider = spider_for(MastodonSpider, tmp_path, targets={"hashtags": ["zephyrcola"], "timelines": ["public", "local"]})
    response = recorded("https://example.test/api/v2/instance", "mastodon_instance.json")
    _, requests = run(spider.parse_instance, response, instance="https://example.test", cursors={})
    urls = [r.url for r in requests]
    assert urls == ["https://example.test/api/v1/timelines/tag/zephyrcola?limit=40",
                    "https://example.test/api/v1/timelines/public?local=true&limit=40"]
    assert any("remote live_feeds are 'authenticated'" in e for e in spider.errors)


def test_bluesky_author_feed_skips_reposts_and_keeps_reply_links(tmp_path):
    spider = spider_for(BlueskySpider, tmp_path, targets={"accounts": ["zephyrfan.bsky.social"]})
    response = recorded("https://example.test/xrpc/app.bsky.feed.getAuthorFeed?actor=zephyrfan.bsky.social",
                        "bluesky_author_feed.json")
    _, requests = run(spider.parse_feed, response, actor="zephyrfan.bsky.social")
    lookup = [r for r in requests if "getProfiles" in r.url]
    assert len(lookup) == 1 and "actors=did%3Aplc%3Azephyrfan000000000000001" in lookup[0].url
    assert any("getAuthorFeed" in r.url and "cursor=2026-03-02T09%3A40%3A00.5Z" in r.url for r in requests)
    profiles = recorded("https://example.test/xrpc/app.bsky.actor.getProfiles", "bluesky_profiles.json")
    posts, _ = run(spider.parse_profiles, profiles, posts=lookup[0].cb_kwargs["context"]["posts"])
    assert [p.id.rsplit("/", 1)[-1] for p in posts] == ["3lzq2aaa2k22a", "3lzpzccc0k22c"]  # no repost
    assert all(p.author.followers == 1532 for p in posts)
    assert posts[0].url == "https://bsky.app/profile/zephyrfan.bsky.social/post/3lzq2aaa2k22a"
    assert posts[0].engagement.shares == 3 and posts[0].engagement.likes == 41
    assert posts[1].parent_id == "t-bluesky:at://did:plc:someoneelse0000000000002/app.bsky.feed.post/3lzq1bbb1k22b"


def test_hackernews_stories_and_comments(tmp_path):
    spider = spider_for(HackerNewsSpider, tmp_path, targets={"queries": ["zephyr"]})
    response = recorded("https://example.test/api/v1/search_by_date?query=zephyr", "hackernews_search_by_date.json")
    posts, requests = run(spider.parse_search, response, query="zephyr", page=0, upper=None)
    comment, story, ask = (normalise(p) for p in posts)
    assert comment.parent_id == "t-hackernews:41500001" and comment.title is None
    assert comment.text == "The Zephyr Cola outage of their ordering API was a DNS issue, per their status page"
    assert story.title == "Zephyr Cola's supply chain app is down" and story.engagement.likes == 212
    assert story.engagement.replies == 57 and story.url == "https://news.ycombinator.com/item?id=41500001"
    assert ask.text == "Ask HN: has anyone reverse engineered the Zephyr Cola loyalty app?\nCurious about the API."
    assert requests == []  # one page only


def test_rss_news_feed_html_dates_and_tracking_parameters(tmp_path):
    spider = spider_for(RssSpider, tmp_path, targets={"feeds": ["https://news.example/rss"]})
    posts, _ = run(spider.parse_feed, recorded("https://news.example/rss", "rss_news.xml", XmlResponse))
    english, chinese = (normalise(p) for p in posts)
    assert english.url == "https://dailyfizz.example/2026/03/02/zephyr-recall"
    assert english.text == "Zephyr Cola recalls 330ml cans over seal defect Daily Fizz"
    assert english.created_at == utc(2026, 3, 2, 10, 48)
    assert chinese.created_at == utc(2026, 3, 2, 10, 5) and chinese.text == "泽飞可乐表示正在核查部分批次的密封问题。"
    assert chinese.author.name == "饮料周刊编辑部"
    assert len(spider.errors) == 1 and "no date" in spider.errors[0]  # the undated item, skipped and counted


def test_youtube_channel_feed_views_and_ratings(tmp_path):
    spider = spider_for(RssSpider, tmp_path)
    url = "https://www.youtube.com/feeds/videos.xml?channel_id=UCzephyrReviews0000000001"
    (video,), _ = run(spider.parse_feed, recorded(url, "youtube_channel.xml", XmlResponse))
    assert video.id == "t-rss:yt:video:Zq1w2e3r4t5"
    assert video.title == "Is Zephyr Cola safe to drink? The recall explained"
    assert video.engagement.views == 40211 and video.engagement.likes == 1873
    assert video.author.id == "UCzephyrReviews0000000001" and video.text.startswith("We look at the batch codes")


def test_reddit_listings_posts_comments_and_deleted_authors(tmp_path):
    spider = spider_for(RedditSpider, tmp_path, targets={"subreddits": ["soda"]})
    new = recorded("https://example.test/r/soda/new?limit=100&raw_json=1", "reddit_new.json")
    posts, requests = run(spider.parse_listing, new, path="/r/soda/new", query={}, token="tok")
    assert [p.id for p in posts] == ["t-reddit:t3_1b2zy41", "t-reddit:t3_1b2zx90"]
    assert posts[0].title == "Zephyr Cola flat cans - recall batch?" and posts[0].engagement.replies == 9
    assert posts[0].url == "https://www.reddit.com/r/soda/comments/1b2zy41/zephyr_cola_flat_cans_recall_batch/"
    assert posts[1].author.handle is None  # [deleted]
    assert "after=t3_1b2zx90" in requests[0].url and requests[0].headers["Authorization"] == b"bearer tok"
    comments = recorded("https://example.test/r/soda/comments?limit=100", "reddit_comments.json")
    (comment,), more = run(spider.parse_listing, comments, path="/r/soda/comments", query={}, token="tok")
    assert comment.parent_id == comment.thread_id == "t-reddit:t3_1b2zy41" and more == []
    token = json.loads(fixture("reddit_token.json").read_text())
    assert token["token_type"] == "bearer"


def test_telegram_preview_page_messages_subscribers_and_paging(tmp_path):
    spider = spider_for(TelegramSpider, tmp_path, targets={"channels": ["zephyrnews"]})
    page = recorded("https://example.test/s/zephyrnews", "telegram_channel.html", HtmlResponse)
    posts, requests = run(spider.parse_page, page, Walk(key="c", since=None, numeric=True), channel="zephyrnews")
    first, reply = (normalise(p) for p in posts)  # the service message is not a post
    assert first.id == "t-telegram:zephyrnews/4118" and first.author.followers == 48200
    assert first.text == "Zephyr Cola confirms a #recall of 330ml cans.\n\nBatch codes: L2291, L2292 ⚠️"
    assert first.engagement.views == 12400 and first.url == "https://t.me/zephyrnews/4118"
    assert reply.parent_id == "t-telegram:zephyrnews/4118"
    assert reply.text == "Update: refunds at any store, receipt not needed."  # not the quoted message
    assert [r.url for r in requests] == ["https://example.test/s/zephyrnews?before=4118"]


def test_appstore_reviews_list_and_single_entry_object(tmp_path):
    spider = spider_for(AppStoreSpider, tmp_path, targets={"apps": ["1234567890"]})
    url = "https://example.test/us/rss/customerreviews/page=1/id=1234567890/sortby=mostrecent/json"
    posts, requests = run(spider.parse_reviews, recorded(url, "appstore_reviews.json"), country="us",
                          app="1234567890", number=1)
    assert [p.id for p in posts] == ["t-appstore:11873200551", "t-appstore:11873100012"]
    assert posts[0].created_at == utc(2026, 3, 2, 10, 41, 9) and posts[0].title == "Recall info impossible to find"
    assert posts[0].raw["im:rating"]["label"] == "1" and posts[0].engagement.likes == 4
    assert requests == []  # "last" says page 1 is the only page
    single, _ = run(spider.parse_reviews, recorded(url, "appstore_single.json"), country="gb", app="1234567890",
                    number=1)
    assert [p.title for p in single] == ["Crashes on launch"]


def test_weibo_search_cards_counts_reposts_and_malformed_blogs(tmp_path):
    spider = spider_for(WeiboSpider, tmp_path, targets={"keywords": ["泽飞可乐"]})
    response = recorded("https://example.test/api/container/getIndex?containerid=100103type%3D61", "weibo_search.json")
    posts, requests = run(spider.parse_index, response, container="100103type=61&q=泽飞可乐", page=1)
    first, repost = (normalise(p) for p in posts)
    long_text = [r for r in requests if "/statuses/extend" in r.url]
    assert len(long_text) == 1 and long_text[0].url.endswith("id=5011234567875555")
    extend = recorded(long_text[0].url, "weibo_extend.json")
    (full,), _ = run(spider.parse_extend, extend, post=long_text[0].cb_kwargs["context"]["post"])
    assert normalise(full).text.endswith("门店说不清楚召回范围，希望厂家尽快公布批次信息并安排退款。")
    assert "全文" not in normalise(full).text
    assert first.text == "#泽飞可乐召回#刚买的一箱泽飞可乐，好几罐都漏气了 客服电话一直打不通"
    assert first.author.followers == 12000 and first.author.verified
    assert first.engagement.likes == 10000 and first.engagement.replies == 128
    assert first.created_at == utc(2026, 3, 2, 10, 20, 11)
    assert repost.parent_id == "t-weibo:5011234567870000"
    assert len(spider.errors) == 1 and "5011234567800000" not in [p.id for p in posts]  # no created_at: skipped
    assert any("page=2" in r.url for r in requests)


def test_weibo_user_timeline_pinned_post_does_not_stop_paging(tmp_path):
    spider = spider_for(WeiboSpider, tmp_path, targets={"users": ["1900000001"]})
    walk = Walk(key="user", since="2026-02-01T00:00:00.000000Z")
    response = recorded("https://example.test/api/container/getIndex?containerid=1076031900000001", "weibo_user.json")
    posts, requests = run(spider.parse_index, response, walk, container="1076031900000001", page=1)
    assert [p.author.followers for p in posts] == [3561000]  # the pinned January post is older than the cursor
    assert "since_id=5011234567000000" in requests[0].url  # and paging goes on


def test_bilibili_view_replies_nested_and_follower_lookup(tmp_path):
    spider = spider_for(BilibiliSpider, tmp_path, targets={"videos": ["BV1Zf4y1z7Aa"]},
                        options={"reply_endpoint": "page"})  # the older paged endpoint
    _, (page,) = run(spider.parse_view, recorded("https://example.test/x/web-interface/view?bvid=BV1Zf4y1z7Aa",
                                                  "bilibili_view.json"), video="BV1Zf4y1z7Aa")
    assert "oid=170001234" in page.url and "sort=0" in page.url
    replies = recorded(page.url, "bilibili_replies.json")
    posts, lookups = run(spider.parse_replies, replies, video="BV1Zf4y1z7Aa", aid="170001234", number=1)
    assert posts == [] and len(lookups) == 2  # every post waits for its author's follower count
    assert len(spider.errors) == 1  # the reply without a message
    stat = recorded("https://example.test/x/relation/stat?vmid=88880001", "bilibili_stat.json")
    (top,), _ = run(spider.parse_stat, stat, mid="88880001", posts=lookups[0].cb_kwargs["context"]["posts"])
    assert top.author.followers == 23817 and top.engagement.likes == 532
    assert top.text.startswith("我家那箱泽飞可乐也是L2291批次") and top.thread_id == "t-bilibili:BV1Zf4y1z7Aa"
    nested = lookups[1].cb_kwargs["context"]["posts"][0]
    assert nested.parent_id == "t-bilibili:231000000101"


@pytest.mark.parametrize("platform, recorded_file, pick", [
    ("mastodon", "mastodon_tag_timeline.json", lambda doc: doc[0]),
    ("hackernews", "hackernews_search_by_date.json", lambda doc: {**doc["hits"][2], **doc["hits"][1]}),
    ("reddit", "reddit_new.json", lambda doc: doc["data"]["children"][0]["data"]),
    ("appstore", "appstore_reviews.json", lambda doc: doc["feed"]["entry"][0]),
    ("weibo", "weibo_search.json", lambda doc: doc["data"]["cards"][0]["card_group"][0]["mblog"]),
    ("bilibili", "bilibili_replies.json", lambda doc: doc["data"]["replies"][0]),
])
def test_replay_server_speaks_the_recorded_format(platform, recorded_file, pick):
    """The replay renders no field the platform does not have, and most of those it has."""
    from crawlers.platforms.appstore import replay as appstore
    from crawlers.platforms.bilibili import replay as bilibili
    from crawlers.platforms.hackernews import replay as hackernews
    from crawlers.platforms.mastodon import replay as mastodon
    from crawlers.platforms.reddit import replay as reddit
    from crawlers.platforms.weibo import replay as weibo
    from crisiswatch.core.replay import Catalog
    from scenarios.replay.synthetic import synthetic_scenario

    scenario = synthetic_scenario(3, [platform])
    catalog = Catalog(scenario)
    post = catalog.posts[platform][0]
    rendered = {
        "mastodon": lambda: mastodon.render_status(catalog, post, "h"),
        "hackernews": lambda: hackernews.render_hit(post),
        "reddit": lambda: reddit.render_thing(catalog, post, "soda")["data"],
        "appstore": lambda: appstore.render_entry(post, "us", "1"),
        "weibo": lambda: weibo.render_mblog(catalog, post),
        "bilibili": lambda: bilibili.render_reply(catalog, post, 1, []),
    }[platform]()
    recorded_item = pick(json.loads(fixture(recorded_file).read_text(encoding="utf-8")))
    invented = set(rendered) - set(recorded_item)
    assert not invented, f"replay invents {sorted(invented)}"
    assert len(set(rendered)) >= 0.3 * len(set(recorded_item))


def test_unknown_target_keys_are_reported_not_silently_ignored(tmp_path):
    """A misspelt target key is a config error at its own line, before any crawl starts."""
    with pytest.raises(ValueError, match="invalid config") as caught:
        spider_for(RssSpider, tmp_path, targets={"feed": ["https://news.example/rss"]})  # misspelt
    message = str(caught.value)
    assert "rss.yaml:" in message
    assert "sources[0].targets.feed: not a target of the rss platform (it takes: feeds)" in message


def test_a_cursor_that_overtakes_its_posts_waits_for_them(tmp_path):
    """Scrapy runs pipelines concurrently: a cursor must not be saved before the posts it follows."""
    from types import SimpleNamespace

    from scrapy import Spider
    from scrapy.utils.test import get_crawler

    from crawlers.items import CursorUpdate, Skipped
    from crawlers.pipelines import StorePipeline
    from crisiswatch.core.model import Post
    from crisiswatch.core.store.sqlite import SqliteStore

    store = SqliteStore(tmp_path / "cursor.db")
    store.setup()
    crawler = get_crawler(Spider, {"CRISISWATCH_BATCH_SIZE": 100})
    crawler.spider = SimpleNamespace(source="s", errors=[], count_error=lambda message: None)
    pipeline = StorePipeline(crawler)
    pipeline.store = store
    post = lambda n: Post(id=f"s:{n}", source="s", text="x", created_at="2026-03-02T10:00:00Z")  # noqa: E731
    pipeline.process_item(post(1))
    pipeline.process_item(CursorUpdate(key="k", value="3", after=3))  # overtook posts 2 and 3
    assert store.get_cursor("s", "k") is None
    pipeline.process_item(Skipped("s:2", "matches no watchlist"))
    assert store.get_cursor("s", "k") is None
    pipeline.process_item(post(3))
    assert store.get_cursor("s", "k") == "3" and store.count_posts() == 2
