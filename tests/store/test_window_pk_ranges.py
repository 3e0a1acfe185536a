"""A text query over a time window asks the SQLite full-text indexes only for the pks that the
window's posts can have (``post_hours``: each hour's pk range). The answers must be the plain
ones whatever order the posts were written in: checked against a direct reading of the query
over random posts written out of time order, after edits that move posts to another hour,
deletions, and on a store written before the ranges existed (schema 5), which the migration
fills."""

from __future__ import annotations

import random
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from crisiswatch.core.store.base import PostFilter
from crisiswatch.core.store.sqlite import SCHEMA_VERSION, SqliteStore, _Where
from tests.store.contract import T0
from tests.store.test_short_cjk_terms import _expect, _random_posts

QUERIES = ["召回", "recall", "recall OR 召回", "召回 -回收", "(召回 OR 退款) 食物", "天", "food OR 中毒",
           "ev 召回", "source:reddit 召回"]
HOURS = 30


def _scattered(rng: random.Random, count: int) -> list:
    """Random posts spread over ``HOURS`` hours (several at one minute)."""
    return [p.model_copy(update={"created_at": T0 + timedelta(minutes=rng.randrange(HOURS * 60))})
            for p in _random_posts(rng, count)]


def _windows(rng: random.Random) -> list[tuple]:
    at = [T0 + timedelta(minutes=rng.randrange(-90, (HOURS + 2) * 60)) for _ in range(10)]
    pairs = [tuple(sorted(at[i:i + 2])) for i in range(0, 10, 2)]
    return [*pairs, (None, at[0]), (at[1], None), (T0 + timedelta(hours=3), T0 + timedelta(hours=4)),
            (T0 - timedelta(hours=5), T0 - timedelta(hours=1))]  # an hour's exact span; a window before every post


def _check(store: SqliteStore, posts: list, windows: list[tuple]) -> None:
    for since, until in windows:
        inside = [p for p in posts
                  if (since is None or p.created_at >= since) and (until is None or p.created_at < until)]
        for query in QUERIES:
            matching = _expect(inside, query)
            expected = sorted((p for p in inside if p.id in matching), key=lambda p: (-p.created_at.timestamp(), p.id))
            flt = PostFilter(text=query, since=since, until=until)
            for limit in (5, 10_000):  # a page from the walk over the newest posts, and every match
                assert [p.id for p in store.search(flt, limit=limit)] == [p.id for p in expected[:limit]], (
                    query, since, until, limit)
            assert store.count_posts(flt) == len(expected), (query, since, until)
            start, end = since or T0 - timedelta(hours=2), until or T0 + timedelta(hours=HOURS + 3)
            buckets = store.count_by_bucket(flt, start, end, timedelta(minutes=45))
            assert sum(b.count for b in buckets) == len(expected), (query, since, until)
            assert [b.count for b in buckets] == [
                sum(1 for p in expected if b.start <= p.created_at < b.start + timedelta(minutes=45)) for b in buckets]


@pytest.mark.parametrize("walk", [40, 20_000])
def test_windowed_text_queries_find_the_plain_answer_whatever_the_write_order(tmp_path: Path, monkeypatch,
                                                                              walk: int) -> None:
    from crisiswatch.core.store import sqlite as sqlite_store

    monkeypatch.setattr(sqlite_store, "NEWEST_SCAN", walk)
    rng = random.Random(21)
    posts = _scattered(rng, 500)
    store = SqliteStore(tmp_path / "s.db")
    for start in range(0, len(posts), 70):  # batches out of time order: pks say nothing about time
        store.upsert_posts(posts[start:start + 70])
    windows = _windows(rng)
    _check(store, posts, windows)
    assert any(_expect(posts, q) for q in QUERIES[:3])

    # a crawler sees posts again with a corrected time (another hour) or new text
    moved = {p.id: p.model_copy(update={"created_at": T0 + timedelta(minutes=rng.randrange(HOURS * 60)),
                                         "text": rng.choice([p.text, "召回 recall", "天气"])})
             for p in rng.sample(posts, 120)}
    store.upsert_posts(moved.values())
    posts = [moved.get(p.id, p) for p in posts]
    _check(store, posts, windows)

    # retention deletes the oldest posts; new ones reuse the freed pks
    store.delete_posts(PostFilter(until=T0 + timedelta(hours=8)))
    posts = [p for p in posts if p.created_at >= T0 + timedelta(hours=8)]
    fresh = [p.model_copy(update={"id": "weibo:new" + p.id.split(":")[1]}) for p in _scattered(rng, 80)]
    store.upsert_posts(fresh)
    posts += fresh
    _check(store, posts, windows)


def test_a_windowed_text_query_asks_the_index_for_the_windows_pks_only(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.db")
    store.upsert_posts(_random_posts(random.Random(1), 20))
    for query in ("召回", "recall OR 召回", "recall -天"):
        where = _Where(PostFilter(text=query, since=T0, until=T0 + timedelta(hours=1)))
        plan = " ".join(row[3] for row in store._read().execute(
            f"EXPLAIN QUERY PLAN SELECT count(*) FROM posts p WHERE {where.sql}", where.params))
        assert "post_hours" in plan and "VIRTUAL TABLE INDEX 0:M" in plan, plan
        assert "post_hours" not in _Where(PostFilter(text=query)).sql  # no window: every match


def test_a_store_written_before_the_ranges_gets_them_when_opened(tmp_path: Path) -> None:
    rng = random.Random(8)
    posts = _scattered(rng, 250)
    path = tmp_path / "old.db"
    store = SqliteStore(path)
    store.upsert_posts(posts[125:])
    store.upsert_posts(posts[:125])
    store.close()
    conn = sqlite3.connect(path)  # what schema 5 wrote: no pk ranges
    conn.execute("DROP TABLE post_hours")
    conn.execute("UPDATE meta SET value = '5' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()

    reopened = SqliteStore(path)
    _check(reopened, posts, _windows(rng))
    reopened.close()
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == str(SCHEMA_VERSION)
    assert conn.execute("SELECT count(*) FROM post_hours").fetchone()[0] == HOURS
    conn.close()
