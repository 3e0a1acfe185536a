"""A small deterministic scenario covering every platform, for tests and the throughput benchmark.

The brand is fictional (Zephyr Cola / 泽飞可乐); ids follow each platform's own shape so that
a crawl of the replay server gives back exactly these ids.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from crisiswatch.core.model import Author, Engagement, Post
from crisiswatch.core.scenario import Scenario

START = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)
WATCHLISTS = [
    {"name": "zephyr", "kind": "brand", "terms": ["Zephyr Cola", "泽飞可乐", "#ZephyrCola"], "exclude": ["zephyr cola recipe"]},
    {"name": "recall", "kind": "lexicon", "terms": ["recall", "召回"]},
]
_EN = ["Zephyr Cola tastes flat in this batch", "Is anyone else getting headaches after Zephyr Cola? #ZephyrCola",
       "Zephyr Cola recall announced for 330ml cans", "Loving the new Zephyr Cola lime flavour",
       "My Zephyr Cola can was leaking, customer service never answered", "Just a normal day, nothing to see"]
_ZH = ["泽飞可乐这批味道不对", "泽飞可乐宣布召回330毫升罐装", "喝了泽飞可乐以后肚子疼，有人一样吗", "澤飛可樂的新口味很好喝",
       "今天天气不错"]
_LONG_ZH = ("泽飞可乐召回情况说明：" + "本人上周在超市购买的两箱三百三十毫升罐装泽飞可乐中，有五罐出现漏气和异味，"
            "联系客服三次均未得到答复，门店也表示不清楚召回范围。" * 4 + "希望厂家尽快公布批次信息并安排退款。")
PLATFORMS = ["mastodon", "bluesky", "hackernews", "rss", "reddit", "telegram", "appstore", "weibo", "bilibili"]


def _native(platform: str, index: int, rng: random.Random) -> tuple[str, dict]:
    """A platform-shaped native id and extra fields (parent, thread, author ids)."""
    if platform == "mastodon":
        return str(110_000_000_000_000_000 + index * 1000), {}
    if platform == "bluesky":
        return f"at://did:plc:zephyr{index % 7:018d}/app.bsky.feed.post/3kz{index:010d}", {
            "author_id": f"did:plc:zephyr{index % 7:018d}", "handle": f"user{index % 7}.bsky.social"}
    if platform == "hackernews":
        return str(40_000_000 + index), {}
    if platform == "rss":
        return f"https://news.example/zephyr/{index}", {}
    if platform == "reddit":
        return f"t3_z{index:05d}", {}
    if platform == "telegram":
        return f"zephyrnews/{index + 2}", {"handle": "zephyrnews"}
    if platform == "appstore":
        return str(9_000_000_000 + index), {"thread": "appstore:app:1234567890"}
    if platform == "weibo":
        return str(5_000_000_000_000_000 + index), {}
    return str(200_000_000_000 + index), {"thread": "bilibili:BV1Zf4y1z7Aa"}


def synthetic_scenario(posts_per_platform: int = 30, platforms: list[str] | None = None, seed: int = 7,
                       spacing: timedelta = timedelta(minutes=1)) -> Scenario:
    """``posts_per_platform`` posts on each platform, one every ``spacing``, the first at START."""
    posts: list[Post] = []
    for platform in platforms or PLATFORMS:
        rng = random.Random(f"{seed}:{platform}")  # the same posts whichever platforms are chosen
        for index in range(posts_per_platform):
            native, extra = _native(platform, index, rng)
            chinese = platform in ("weibo", "bilibili")
            text = (_ZH if chinese else _EN)[index % len(_ZH if chinese else _EN)] + f" ({index})"
            if platform == "weibo" and index % 10 == 7:  # a long post: lists cut it, the full text is one more call
                text = f"{_LONG_ZH} ({index})"
            author_no = index % 7
            posts.append(Post(
                id=f"{platform}:{native}", source=platform, text=text,
                title=f"Zephyr report {index}" if platform in ("rss", "hackernews", "reddit", "appstore") else None,
                language="zh" if chinese else "en",
                created_at=START + spacing * index + timedelta(seconds=rng.randint(0, 30)),
                author=Author(id=extra.get("author_id", str(1000 + author_no)),
                              handle=extra.get("handle", f"{platform}_user{author_no}"),
                              name=f"User {author_no}", followers=100 * (author_no + 1) ** 3),
                engagement=Engagement(likes=rng.randint(0, 50), shares=rng.randint(0, 5), replies=rng.randint(0, 9),
                                      views=rng.randint(100, 900) if platform == "telegram" else None),
                thread_id=extra.get("thread"),
            ))
    posts.sort(key=lambda p: p.created_at)
    end = max(p.created_at for p in posts) + timedelta(minutes=1)
    return Scenario(name="synthetic", title="Zephyr Cola test scenario", start=START, onset=START, end=end,
                    posts=posts, config={"watchlists": WATCHLISTS})
