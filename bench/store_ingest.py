"""SQLite store benchmark: ingest, a detector histogram and top terms over 1,000,000 posts.

Run from the repository root with the project venv::

    .venv/bin/python bench/store_ingest.py            # 1,000,000 posts (a few minutes)
    .venv/bin/python bench/store_ingest.py --posts 100000

Synthetic posts (half Chinese, half English, built from a vocabulary with crisis words,
spread over 7 days in roughly chronological order — the order crawlers deliver them and
exports are written in — with up to an hour of disorder; five watchlists with a skewed
share) are written through
``SqliteStore.upsert_posts`` in batches, then every post gets an enrichment. The timed
queries are what the volume-spike and negative-share detectors ask every few minutes:

* histogram: the last 24 hours in 5-minute buckets for one watchlist, negative posts only;
* terms: top 20 terms of that watchlist's posts in the last 24 hours.

The baseline, in the same run, is the naive way to write the same rows: one INSERT per
row and a COMMIT per post, SQLite's default journal and sync settings, measured on a
sample and extrapolated. The last line printed is::

    ingest_posts_per_s=… histogram_ms=… terms_ms=… speedup_vs_naive=…

Goals: ingest >= 20,000 posts/s, histogram < 300 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crisiswatch.core.model import Author, Engagement, Enrichment, Post, Sentiment  # noqa: E402
from crisiswatch.core.store.base import PostFilter  # noqa: E402
from crisiswatch.core.store.sqlite import _SCHEMA, SqliteStore, to_us  # noqa: E402
from crisiswatch.core.text import extract_terms  # noqa: E402

END = datetime(2026, 3, 8, tzinfo=timezone.utc)
SPAN = timedelta(days=7)
BATCH = 20_000
WATCHLISTS = ["acme", "globex", "initech", "umbrella", "hooli"]
WATCHLIST_WEIGHTS = [40, 15, 8, 4, 3]  # percent of posts; the rest match none
SOURCES = ["weibo", "bilibili", "reddit", "mastodon", "bluesky", "hackernews", "appstore", "telegram"]

ZH_WORDS = """产品 质量 服务 客服 退款 投诉 召回 中毒 食品 安全 奶粉 宝宝 门店 价格 涨价 降价 排队 航班 取消 延误
行李 丢失 赔偿 道歉 声明 官方 回应 消费者 维权 曝光 记者 调查 视频 直播 网友 评论 转发 热搜 品牌 公司 员工 老板
态度 恶劣 失望 愤怒 焦虑 恐慌 沮丧 满意 推荐 好评 差评 体验 包装 过期 变质 异物 头发 虫子 医院 检测 结果 报告 监管
部门 市场 监督 管理局 罚款 停业 整改 通知 公告 新闻 发布会 股价 下跌 用户 数据 泄露 隐私 账号 系统 故障 崩溃 更新
版本 手机 电池 爆炸 起火 充电 发热 售后 维修 保修 物流 快递 配送 延迟 订单 支付 优惠券 会员 积分 活动 抽奖 广告
虚假 宣传 欺诈 骗局 律师 起诉 法院 判决 赔付 保险 理赔 合同 条款 霸王 规定 政策 变动 通知 沟通 回复 处理 解决""".split()
EN_WORDS = """product quality service support refund complaint recall poisoning food safety formula baby store price
increase queue flight cancelled delayed luggage lost compensation apology statement official response customers
rights exposed reporter investigation video stream users comments trending brand company staff manager attitude
rude disappointed angry anxious panic frustrated satisfied recommend review terrible experience packaging expired
spoiled foreign object hair bug hospital test results report regulator department market supervision fine closed
notice announcement news conference stock drop data breach privacy account system outage crash update version
phone battery explosion fire charging overheating repair warranty delivery shipping late order payment coupon
member points promotion lottery advert false advertising fraud scam lawyer lawsuit court ruling insurance claim
contract terms unfair rules policy change communication reply handled resolved""".split()
ZH_PUNCT = ["，", "。", "！", "？", "；"]


def synthetic_posts(count: int, seed: int = 7) -> Iterator[list[Post]]:
    """Batches of synthetic posts, built without validation (the store is what is timed)."""
    rng = random.Random(seed)
    span_us = int(SPAN.total_seconds() * 1e6)
    start = END - SPAN
    for first in range(0, count, BATCH):
        batch = []
        for n in range(first, min(first + BATCH, count)):
            chinese = n % 2 == 0
            if chinese:
                clauses = ["".join(rng.choices(ZH_WORDS, k=rng.randint(2, 5))) for _ in range(rng.randint(1, 4))]
                text = "".join(c + rng.choice(ZH_PUNCT) for c in clauses)
            else:
                text = " ".join(rng.choices(EN_WORDS, k=rng.randint(6, 24))).capitalize() + "."
            roll = rng.randrange(100)
            watchlists, edge = [], 0
            for name, weight in zip(WATCHLISTS, WATCHLIST_WEIGHTS):
                if edge <= roll < edge + weight:
                    watchlists.append(name)
                edge += weight
            if watchlists and rng.random() < 0.05:
                watchlists.append(rng.choice(WATCHLISTS))
            source = rng.choice(SOURCES[:2] if chinese else SOURCES[2:])
            # Posts arrive roughly in time order, as from crawlers or a time-ordered export:
            # the n-th post is from n/count of the way through the span, up to an hour late.
            created = max(start, start + timedelta(microseconds=span_us * n // count - rng.randrange(3_600_000_000)))
            batch.append(Post.model_construct(
                id=f"{source}:{n}", source=source, url=f"https://{source}.example/{n}", text=text, title=None,
                language="zh" if chinese else "en", created_at=created, collected_at=created + timedelta(minutes=3),
                author=Author.model_construct(id=str(rng.randrange(200_000)), handle=f"user{rng.randrange(200_000)}",
                                              name=None, followers=int(rng.lognormvariate(5, 2)), verified=False),
                engagement=Engagement.model_construct(likes=rng.randrange(50), shares=rng.randrange(10),
                                                      replies=rng.randrange(10), views=None),
                parent_id=None, thread_id=None, watchlists=list(dict.fromkeys(watchlists)), raw=None))
        yield batch


def enrichments_for(batch: list[Post], rng: random.Random) -> list[Enrichment]:
    labels = [Sentiment.negative, Sentiment.neutral, Sentiment.positive]
    return [Enrichment.model_construct(
        post_id=p.id, language=p.language, sentiment=rng.choices(labels, weights=[35, 45, 20])[0],
        sentiment_score=round(rng.uniform(-1, 1), 3), emotion=rng.choice(["anger", "fear", "sadness", "joy", "neutral"]),
        emotion_scores={}, category=rng.choice(["product_quality", "service_quality", "price", "communication", None]),
        category_score=0.7, topic_id=rng.randrange(-1, 40), topic_keywords=[], duplicate_group=None, models={},
        skipped_reason=None, enriched_at=END) for p in batch]


def naive_ingest(path: Path, posts: list[Post]) -> float:
    """The same rows written one statement at a time with a commit per post; posts per second."""
    conn = sqlite3.connect(path)  # defaults: rollback journal, synchronous=FULL, implicit transactions
    conn.executescript(_SCHEMA)
    started = time.perf_counter()
    for pk, post in enumerate(posts, start=1):
        created = to_us(post.created_at)
        conn.execute("INSERT OR REPLACE INTO posts (pk, id, source, created_us, platform_language, language, reach,"
                     " engagement, title, text, doc, terms) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                     (pk, post.id, post.source, created, post.language, post.language, post.reach,
                      post.engagement.total, post.title, post.text, post.model_dump_json(exclude={"title", "text"}),
                      json.dumps(extract_terms(post.text, post.title), ensure_ascii=False)))
        conn.execute("INSERT INTO posts_fts (rowid, title, text) VALUES (?,?,?)", (pk, post.title, post.text))
        for name in post.watchlists:
            conn.execute("INSERT OR IGNORE INTO post_watchlists VALUES (?,?,?)", (name, created, pk))
        conn.commit()
    elapsed = time.perf_counter() - started
    conn.close()
    return len(posts) / elapsed


def timed_ms(action, repeat: int) -> tuple[float, object]:  # noqa: ANN001
    """Median milliseconds of ``repeat`` runs (after one untimed warm-up) and the last result."""
    result = action()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = action()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=1_000_000)
    parser.add_argument("--naive-sample", type=int, default=1000, help="posts written by the naive baseline")
    parser.add_argument("--dir", type=Path, default=None, help="where to put the databases (default: a temp dir)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        tmpdir = Path(tmp)
        store = SqliteStore(tmpdir / "bench.db")
        store.setup()
        extract_terms("warm up jieba 加载词典")  # the dictionary load is a one-off, not ingest work

        naive_sample: list[Post] = []
        ingest_s = enrich_s = ingest_cpu_s = 0.0
        rng = random.Random(11)
        print(f"ingesting {args.posts:,} synthetic posts in batches of {BATCH:,} "
              f"({store.term_workers} term worker processes) ...", flush=True)
        for index, batch in enumerate(synthetic_posts(args.posts)):
            if len(naive_sample) < args.naive_sample:
                naive_sample.extend(batch[:args.naive_sample - len(naive_sample)])
            started, cpu = time.perf_counter(), time.process_time()
            store.upsert_posts(batch)
            ingest_s += time.perf_counter() - started
            ingest_cpu_s += time.process_time() - cpu
            enrichments = enrichments_for(batch, rng)
            started = time.perf_counter()
            store.update_enrichments(enrichments)
            enrich_s += time.perf_counter() - started
            if (index + 1) % 10 == 0:
                done = (index + 1) * BATCH
                print(f"  {done:,} posts: {done / ingest_s:,.0f} posts/s ingest", flush=True)
        ingest_rate = args.posts / ingest_s
        print(f"ingest: {ingest_s:.1f} s ({ingest_rate:,.0f} posts/s); enrichment updates: {enrich_s:.1f} s "
              f"({args.posts / enrich_s:,.0f} posts/s)")
        size_mb = sum(f.stat().st_size for f in tmpdir.glob("bench.db*")) / 1e6
        print(f"database: {size_mb:,.0f} MB for {store.count_posts():,} posts")

        day = PostFilter(watchlists=("acme",), since=END - timedelta(hours=24), until=END)
        negative = day.narrow(sentiments=("negative",))
        histogram_ms, buckets = timed_ms(
            lambda: store.count_by_bucket(negative, END - timedelta(hours=24), END, timedelta(minutes=5)), repeat=5)
        print(f"histogram: {len(buckets)} buckets, {sum(b.count for b in buckets):,} negative acme posts in 24 h, "
              f"median {histogram_ms:.1f} ms")
        baseline = PostFilter(watchlists=("acme",), sentiments=("negative",))
        baseline_ms, _ = timed_ms(lambda: store.count_by_bucket(baseline, END - SPAN, END, timedelta(minutes=15)),
                                  repeat=3)
        print(f"baseline histogram (7 days, 15-minute buckets): median {baseline_ms:.1f} ms")
        terms_ms, terms = timed_ms(lambda: store.top_terms(day, limit=20), repeat=3)
        print(f"top terms over {store.count_posts(day):,} acme posts in 24 h: median {terms_ms:.1f} ms; "
              + ", ".join(f"{t.term}={t.count}" for t in terms[:8]))
        share_ms, share = timed_ms(lambda: store.share(PostFilter(sentiments=("negative",)), day), repeat=5)
        print(f"negative share in 24 h: {share.ratio:.3f}, median {share_ms:.1f} ms")
        search_ms, found = timed_ms(lambda: store.search(day.narrow(text="召回 OR recall"), limit=50), repeat=3)
        print(f"search '召回 OR recall' in acme 24 h: {len(found)} shown, median {search_ms:.1f} ms")
        store.close()
        workers_cpu_s = resource.getrusage(resource.RUSAGE_CHILDREN)
        workers_cpu_s = workers_cpu_s.ru_utime + workers_cpu_s.ru_stime
        print(f"ingest CPU: {ingest_cpu_s / args.posts * 1e6:.1f} us/post in the writing process "
              f"({args.posts / ingest_cpu_s:,.0f} posts/s with a core of its own), "
              f"{workers_cpu_s / args.posts * 1e6:.1f} us/post in term workers; "
              f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")

        naive_rate = naive_ingest(tmpdir / "naive.db", naive_sample)
        print(f"naive baseline: {naive_rate:,.0f} posts/s on a sample of {len(naive_sample):,} posts "
              f"(extrapolated to {args.posts:,}: {args.posts / naive_rate / 60:,.1f} min)")

    print(f"ingest_posts_per_s={ingest_rate:.0f} histogram_ms={histogram_ms:.1f} terms_ms={terms_ms:.1f} "
          f"speedup_vs_naive={ingest_rate / naive_rate:.1f}")


if __name__ == "__main__":
    main()
