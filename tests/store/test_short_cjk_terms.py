"""One- and two-character Chinese terms (召回, 天) are answered by the SQLite store's CJK gram
index with the same results as the substring test they replace: checked against a plain
Python reading of the query over random posts, after edits and deletions, and on a store
written before the index existed (schema 4), which the migration fills."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import pytest

from crisiswatch.core.store.base import PostFilter
from crisiswatch.core.store.query import And, Label, Node, Not, Or, Term, parse_query, script_variants
from crisiswatch.core.store.sqlite import SCHEMA_VERSION, SqliteStore
from tests.store.contract import post

WORDS = ["召回", "回收", "中毒", "退款", "退貨", "天", "食物", "奶粉", "钱", "錢", "問題", "问题",
         "recall", "ev", "Refund", "food", "召回recall", "ラーメン", "환불"]
QUERIES = [
    "召回", "回", "天", "钱", "錢", "退货", "問題", "召", "中毒 -召回", "召回 OR 中毒", "NOT 天",
    "召回 recall", "召回recall", "ev 召回", "recall OR 钱", "(召回 OR 退款) 食物", '"召回 recall"', '"回收"',
    "title:召回", "text:天", "title:回 OR text:毒", "ン", "환", "source:reddit 召回", "奶粉 -source:weibo",
    "召回 AND NOT 回收", "食 物", '"食物"', "毒 中",
]


def _contains(haystack: str | None, term: str) -> bool:
    return haystack is not None and term.casefold() in haystack.casefold()


def _matches(node: Node, p) -> bool:  # noqa: ANN001 - Post
    """The grammar's meaning, read directly: a term is a case-insensitive substring of the
    title or text (or only the field named) in either Chinese script."""
    if isinstance(node, Term):
        columns = [getattr(p, node.field)] if node.field else [p.title, p.text]
        return any(_contains(c, v) for v in script_variants(node.text) for c in columns)
    if isinstance(node, Label):
        return p.source == node.value
    if isinstance(node, Not):
        return not _matches(node.item, p)
    if isinstance(node, And):
        return all(_matches(item, p) for item in node.items)
    assert isinstance(node, Or)
    return any(_matches(item, p) for item in node.items)


def _random_posts(rng: random.Random, count: int, prefix: str = "") -> list:
    posts = []
    for n in range(count):
        text = "".join(rng.choice(WORDS + ["，", " ", "。"]) for _ in range(rng.randint(0, 8)))
        title = "".join(rng.choice(WORDS) for _ in range(rng.randint(1, 3))) if rng.random() < 0.3 else None
        posts.append(post(f"{prefix}{n}", text, title=title, minutes=n, source=rng.choice(["weibo", "reddit"])))
    return posts


def _expect(posts: list, query: str) -> set[str]:
    node = parse_query(query)
    return {p.id for p in posts if _matches(node, p)}


def _check_all(store: SqliteStore, posts: list) -> None:
    for query in QUERIES:
        found = {p.id for p in store.search(PostFilter(text=query), limit=10_000)}
        assert found == _expect(posts, query), query
        assert store.count_posts(PostFilter(text=query)) == len(found), query


def _integrity(store: SqliteStore) -> None:
    conn = sqlite3.connect(store.path)
    conn.execute("INSERT INTO posts_grams (posts_grams, rank) VALUES ('integrity-check', 0)")
    conn.close()


def test_short_cjk_terms_find_what_a_substring_search_finds(tmp_path: Path) -> None:
    rng = random.Random(5)
    posts = _random_posts(rng, 400)
    store = SqliteStore(tmp_path / "s.db")
    store.upsert_posts(posts)
    _check_all(store, posts)
    assert _expect(posts, "召回") and _expect(posts, "天") and _expect(posts, "錢")  # the corpus is not trivial


def test_edits_and_deletions_keep_the_gram_index_in_step(tmp_path: Path) -> None:
    rng = random.Random(9)
    posts = _random_posts(rng, 300)
    store = SqliteStore(tmp_path / "s.db")
    store.upsert_posts(posts)
    # a crawler sees edited posts again: new text for a third of them (some lose all CJK text)
    edited = {p.id: p.model_copy(update={"text": "".join(rng.choice(WORDS) for _ in range(rng.randint(0, 4))),
                                         "title": rng.choice([None, "召回", "plain"])})
              for p in rng.sample(posts, 100)}
    store.upsert_posts(edited.values())
    posts = [edited.get(p.id, p) for p in posts]
    _check_all(store, posts)
    # retention deletes the oldest posts
    store.delete_posts(PostFilter(until=posts[150].created_at))
    posts = posts[150:]
    _check_all(store, posts)
    store.close()
    _integrity(store)


def test_a_store_written_before_the_gram_index_gets_it_when_opened(tmp_path: Path) -> None:
    rng = random.Random(3)
    posts = _random_posts(rng, 200)
    path = tmp_path / "old.db"
    store = SqliteStore(path)
    store.upsert_posts(posts)
    store.close()
    conn = sqlite3.connect(path)  # what schema 4 wrote: the same tables without posts_grams
    conn.execute("DROP TABLE posts_grams")
    conn.execute("UPDATE meta SET value = '4' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()

    reopened = SqliteStore(path)
    _check_all(reopened, posts)
    reopened.close()
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == str(SCHEMA_VERSION)
    conn.close()
    _integrity(reopened)


@pytest.mark.parametrize("query", ["召回", "天", "召回 OR 中毒", "recall OR 召回", "退货"])
def test_short_cjk_terms_are_index_lookups_not_a_scan_of_every_text(tmp_path: Path, query: str) -> None:
    """At a million posts the scan is what made the explorer slow (bench/console.py)."""
    from crisiswatch.core.store.sqlite import _Where

    store = SqliteStore(tmp_path / "s.db")
    store.upsert_posts([post("1", "召回")])
    where = _Where(PostFilter(text=query))
    assert "instr" not in where.sql and "posts_grams" in where.sql
    plan = " ".join(row[3] for row in store._read().execute(
        f"EXPLAIN QUERY PLAN SELECT count(*) FROM posts p WHERE {where.sql}", where.params))
    assert "posts_grams VIRTUAL TABLE" in plan


def test_short_latin_terms_still_match_inside_words(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.db")
    store.upsert_posts([post("1", "never again", source="reddit"), post("2", "EV range 召回", source="reddit"),
                        post("3", "天气", source="weibo")])
    assert {p.id for p in store.search(PostFilter(text="ev"))} == {"reddit:1", "reddit:2"}
    assert {p.id for p in store.search(PostFilter(text="ev 召回"))} == {"reddit:2"}
    assert {p.id for p in store.search(PostFilter(text="ev OR 天"))} == {"reddit:1", "reddit:2", "weibo:3"}


@pytest.mark.parametrize("walk", [3, 40, 20_000])
def test_newest_first_pages_and_histograms_match_a_full_sort(tmp_path: Path, monkeypatch, walk: int) -> None:
    """The explorer's page of a frequent term comes from a walk over the newest posts, and its
    histogram from the matches' times; both must equal the plain answer, ties in time included."""
    from datetime import timedelta

    from crisiswatch.core.store import sqlite as sqlite_store
    from tests.store.contract import T0

    monkeypatch.setattr(sqlite_store, "NEWEST_SCAN", walk)
    rng = random.Random(11)
    posts = [post(f"{n:03d}", rng.choice(["召回 食物", "天气", "recall food", "食物"]), minutes=n // 3,
                  source=rng.choice(["weibo", "reddit"])) for n in range(240)]  # three posts per minute
    store = SqliteStore(tmp_path / "s.db")
    store.upsert_posts(posts)
    window = {"since": T0, "until": T0 + timedelta(minutes=70)}
    for query in ("食物", "召回", "recall OR 天气", "食物 -召回"):
        flt = PostFilter(text=query, **window)
        expected = sorted((p for p in posts if p.id in _expect(posts, query) and p.created_at < window["until"]),
                          key=lambda p: (-p.created_at.timestamp(), p.id))
        for limit in (1, 5, 50):
            assert [p.id for p in store.search(flt, limit=limit)] == [p.id for p in expected[:limit]], (query, limit)
        buckets = store.count_by_bucket(flt, T0, window["until"], timedelta(minutes=10))
        assert [b.count for b in buckets] == [
            sum(1 for p in expected if b.start <= p.created_at < b.start + timedelta(minutes=10)) for b in buckets]
        assert store.count_posts(flt) == len(expected)
