"""A small deterministic scenario covering every platform, for tests and the throughput benchmark.

The brand is fictional (Zephyr Cola / 泽飞可乐); ids follow each platform's own shape (its
replay module's ``synthetic(index)``) so that a crawl of the replay server gives back exactly
these ids.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from crisiswatch.core.model import Author, Engagement, Post
from crisiswatch.core.replay import SyntheticShape
from crisiswatch.core.scenario import Scenario
from scenarios.platforms import hook, replayable

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


def synthetic_platforms() -> list[str]:
    """Platforms the synthetic scenario covers: every registered one whose replay module says
    how its synthetic posts look (``synthetic(index)``)."""
    return [name for name in replayable() if hook(name, "synthetic") is not None]


def synthetic_scenario(posts_per_platform: int = 30, platforms: list[str] | None = None, seed: int = 7,
                       spacing: timedelta = timedelta(minutes=1)) -> Scenario:
    """``posts_per_platform`` posts on each platform, one every ``spacing``, the first at START."""
    posts: list[Post] = []
    for platform in platforms or synthetic_platforms():
        shape_of = hook(platform, "synthetic")
        if shape_of is None:
            raise ValueError(f"platform '{platform}' has no synthetic posts (its replay module has no synthetic())")
        rng = random.Random(f"{seed}:{platform}")  # the same posts whichever platforms are chosen
        for index in range(posts_per_platform):
            shape: SyntheticShape = shape_of(index)
            chinese = shape.language == "zh"
            text = (_ZH if chinese else _EN)[index % len(_ZH if chinese else _EN)] + f" ({index})"
            if shape.long_text:
                text = f"{_LONG_ZH} ({index})"
            author_no = index % 7
            posts.append(Post(
                id=f"{platform}:{shape.native}", source=platform, text=text,
                title=f"Zephyr report {index}" if shape.titled else None,
                language=shape.language,
                created_at=START + spacing * index + timedelta(seconds=rng.randint(0, 30)),
                author=Author(id=shape.author_id or str(1000 + author_no),
                              handle=shape.handle or f"{platform}_user{author_no}",
                              name=f"User {author_no}", followers=100 * (author_no + 1) ** 3),
                engagement=Engagement(likes=rng.randint(0, 50), shares=rng.randint(0, 5), replies=rng.randint(0, 9),
                                      views=rng.randint(100, 900) if shape.views else None),
                thread_id=shape.thread,
            ))
    posts.sort(key=lambda p: (p.created_at, p.id))
    end = max(p.created_at for p in posts) + timedelta(minutes=1)
    return Scenario(name="synthetic", title="Zephyr Cola test scenario", start=START, onset=START, end=end,
                    posts=posts, config={"watchlists": WATCHLISTS})
