"""Each platform's texts cleaned by what their fields hold, never by a guess (issue 13, item 5)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from crawlers.base_spider import Walk
from crawlers.normalise import clean_text
from crawlers.pipelines import NormalisePipeline
from crawlers.platforms.appstore.spider import AppStoreSpider
from crawlers.platforms.bilibili.spider import BilibiliSpider
from crawlers.platforms.bluesky.spider import BlueskySpider
from crawlers.platforms.hackernews.spider import HackerNewsSpider
from crawlers.platforms.mastodon.spider import MastodonSpider
from crawlers.platforms.reddit.spider import RedditSpider
from tests.crawlers.helpers import recorded, run, spider_for


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def cleaned(spider, posts):
    normalise = NormalisePipeline.for_spider(spider).process_item
    return [normalise(p) for p in posts]


def test_the_normaliser_takes_the_kind_explicitly():
    text = 'File "a.py", line 1, in <module> &amp; <b>bold</b>'
    assert clean_text(text, "markdown") == 'File "a.py", line 1, in <module> & <b>bold</b>'
    assert clean_text(text, "plain") == text
    assert clean_text(text, "html") == 'File "a.py", line 1, in & bold'
    with pytest.raises(ValueError, match="unknown text kind"):
        clean_text("x", "rtf")


def reddit(tmp_path, name, url):
    spider = spider_for(RedditSpider, tmp_path, targets={"subreddits": ["soda"]})
    posts, requests = run(spider.parse_listing, recorded(url, name), path="/r/soda/new", query={}, token="tok")
    return cleaned(spider, posts), requests, spider


def test_reddit_markdown_keeps_tracebacks_and_quoted_markup(tmp_path):
    posts, requests, spider = reddit(tmp_path, "reddit_markdown.json",
                                     "https://example.test/r/soda/new?limit=100&raw_json=1")
    crash, link, removed = posts
    assert 'File "rewards.py", line 88, in <module>' in crash.text
    assert 'shows a raw `<div class="titlebox">` where' in crash.text
    assert crash.text.endswith('Q&A says "fixed soon" & nothing else. 😤')  # Markdown renders &amp; as &
    assert crash.title == 'Zephyr Cola app: crash log + "titlebox" bug 🐛'
    assert crash.created_at == utc(2026, 3, 2, 11, 5, 42) and crash.engagement.likes == 23
    assert link.title == "Zephyr & Co. statement on the 330ml recall" and link.text == ""
    assert removed.text == "" and removed.author.handle is None and removed.title == "Zephyr Cola made me sick"
    assert requests == [] and spider.errors == []


def test_reddit_legacy_escaped_json_is_unescaped_once(tmp_path):
    posts, requests, _ = reddit(tmp_path, "reddit_search_escaped.json",
                                "https://example.test/search?q=zephyr&sort=new&type=link&limit=100")
    faq, chinese = posts
    assert faq.title == "Zephyr <Cola> refunds & receipts"
    assert faq.text == ('Search result: the Zephyr Cola FAQ literally says <b> around "refund" lol.\n\n'
                        'Error was: `File "faq.py", line 7, in <module>` & the page died. AT&T wifi, if it matters. 5 > 3.')
    assert faq.created_at == utc(2026, 3, 2, 12, 0, 0, 500000)
    assert chinese.text == '泽飞可乐的罐子漏气了，客服说"<待核实>"。'
    assert len(requests) == 1 and "after=t3_1b3d000" in requests[0].url


def test_reddit_comments_markdown_deleted_and_empty_pages(tmp_path):
    posts, _, _ = reddit(tmp_path, "reddit_comments_markdown.json",
                         "https://example.test/r/soda/comments?limit=100&raw_json=1")
    first, deleted, official = posts
    assert 'line 88, in <module>' in first.text and '> <div class="titlebox"> is still there' in first.text
    assert first.text.endswith("said 2 < 3 days for a fix.") and first.thread_id == "t-reddit:t3_1b3c7k2"
    assert deleted.text == "" and deleted.author.handle is None and deleted.parent_id == "t-reddit:t1_kr1aa01"
    assert official.text == "Zephyr Cola's app team is on it — source: their Discord 🙏"
    empty, requests, spider = reddit(tmp_path, "reddit_empty.json", "https://example.test/r/soda/new?raw_json=1")
    assert empty == [] and requests == [] and spider.errors == []


def test_bluesky_text_is_plain_and_bad_client_dates_fall_back_to_indexing_time(tmp_path):
    spider = spider_for(BlueskySpider, tmp_path, targets={"accounts": ["zephyrfan.bsky.social"]})
    spider.followers["did:plc:zephyrfan000000000000001"] = 1532
    response = recorded("https://example.test/xrpc/app.bsky.feed.getAuthorFeed?actor=zephyrfan.bsky.social",
                        "bluesky_feed_edge_cases.json")
    posts, requests = run(spider.parse_feed, response, actor="zephyrfan.bsky.social")
    crash, reply, quote = cleaned(spider, posts)
    assert 'line 9, in <module>' in crash.text and '<div class="titlebox">' in crash.text
    assert "AT&amp;T? no, AT&T wifi" in crash.text  # what the author typed: no entity decoding in plain text
    assert crash.created_at == utc(2026, 3, 2, 10, 20) and crash.language == "en"
    assert reply.language == "ja" and reply.text.startswith("泽飞可乐のリコール") and reply.created_at.microsecond == 123456
    assert reply.parent_id == "t-bluesky:at://did:plc:gone00000000000000000003/app.bsky.feed.post/3m1zzzz2k22z"
    assert quote.text == "" and quote.created_at == utc(2026, 3, 2, 9, 55, 30) and quote.language is None
    assert spider.errors == [] and all(p.author.followers == 1532 for p in posts)
    assert any("cursor=2026-03-02T09%3A55%3A30Z" in r.url for r in requests)
    empty = recorded("https://example.test/xrpc/app.bsky.feed.getAuthorFeed", "bluesky_feed_empty.json")
    assert run(spider.parse_feed, empty, Walk(key="a", since=None), actor="x") == ([], [])


def test_hackernews_html_entities_code_blocks_and_jobs(tmp_path):
    spider = spider_for(HackerNewsSpider, tmp_path, targets={"queries": ["zephyr"]})
    response = recorded("https://example.test/api/v1/search_by_date?query=zephyr", "hackernews_entities_unicode.json")
    posts, requests = run(spider.parse_search, response, query="zephyr", page=0, upper=None)
    code, chinese, story, job = cleaned(spider, posts)
    assert 'File "orders.py", line 40, in <module>' in code.text
    assert 'showed a literal <div class="titlebox">' in code.text
    assert code.text.endswith("""Zephyr's reply: "we're on it" & nothing more.""")
    assert chinese.text == "泽飞可乐 rewards app 的订单泄露了 😬 — 5 > 3 reports in a day.\nSee https://zephyr.example/status"
    assert chinese.parent_id == "t-hackernews:41600010" and chinese.thread_id == "t-hackernews:41600001"
    assert story.title == "Zephyr Cola's rewards app leaks order history (2026)" and story.text == ""
    assert job.title.startswith("Zephyr Cola (YC W20) is hiring") and job.text == "We make soda & software. Remote <EU> ok."
    assert job.engagement.likes is None and requests == [] and spider.errors == []


def test_hackernews_empty_page_and_the_hit_cap_slice(tmp_path):
    spider = spider_for(HackerNewsSpider, tmp_path, targets={"queries": ["zephyr"]})
    empty = recorded("https://example.test/api/v1/search_by_date?query=zephyr+lime", "hackernews_empty.json")
    assert run(spider.parse_search, empty, query="zephyr lime", page=0, upper=None) == ([], [])
    capped = recorded("https://example.test/api/v1/search_by_date?query=zephyr&page=499", "hackernews_hit_cap.json")
    walk = Walk(key="q", since=None, numeric=True, inclusive=True)
    posts, requests = run(spider.parse_search, capped, walk, query="zephyr", page=499, upper=None)
    assert [p.id for p in posts] == ["t-hackernews:41590000", "t-hackernews:41589999"]
    oldest = int(utc(2026, 3, 1, 10).timestamp())
    assert len(requests) == 1 and f"created_at_i%3C%3D{oldest}" in requests[0].url and "page=0" in requests[0].url


def test_mastodon_content_warning_is_text_not_markup(tmp_path):
    spider = spider_for(MastodonSpider, tmp_path, targets={"hashtags": ["zephyrcola"]})
    status = {"id": "1", "created_at": "2026-03-02T10:00:00.000Z", "spoiler_text": "I <3 Zephyr & friends",
              "content": "<p>Flat cans again &amp; again</p>", "url": "https://social.example/@a/1",
              "account": {"id": "9", "acct": "a", "display_name": "A", "followers_count": 3},
              "favourites_count": 0, "reblogs_count": 0, "replies_count": 0, "language": "en"}
    post = cleaned(spider, [spider.status_to_post(status)])[0]
    assert post.text == "I <3 Zephyr & friends\n\nFlat cans again & again"


@pytest.mark.parametrize("spider_class, targets", [(AppStoreSpider, {"apps": ["1"]}), (BilibiliSpider, {"videos": ["BV1"]})])
def test_reviews_and_replies_are_plain_text_and_keep_angle_brackets(tmp_path, spider_class, targets):
    from crisiswatch.core.model import Author, Post

    spider = spider_for(spider_class, tmp_path, targets=targets)
    said = "Update 3.2 <beta> logs me out every time <3 &amp; no fix"
    post = Post(id=f"{spider_class.name}:1", source=spider_class.name, text=said,
                created_at=utc(2026, 3, 2), author=Author())
    assert cleaned(spider, [post])[0].text == said
