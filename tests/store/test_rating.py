"""Star ratings (App Store reviews) as a first-class field: stores written before it existed,
rule filters, export, Kibana and Elasticsearch queries."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path

import pytest
from pydantic import ValidationError

from alerts.detectors.base import to_post_filter
from crisiswatch.core.config import RuleFilter
from crisiswatch.core.kibana import filter_to_kql
from crisiswatch.core.model import Post
from crisiswatch.core.store.base import PostFilter
from crisiswatch.core.store.es_query import filter_query
from crisiswatch.core.store.es_schema import POSTS_MAPPINGS
from crisiswatch.core.store.export import export_posts
from crisiswatch.core.store.sqlite import SCHEMA_VERSION, SqliteStore
from tests.store.contract import post


def _as_schema_2(path: Path) -> None:
    """Turn a fresh store file back into what crisiswatch wrote before ratings existed."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("ALTER TABLE posts DROP COLUMN rating")
    conn.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    conn.execute("UPDATE posts SET doc = json_remove(doc, '$.rating')")
    conn.close()


def test_a_store_from_before_ratings_is_migrated_and_keeps_its_posts(tmp_path):
    path = tmp_path / "old.db"
    review = post("11873200551", "impossible to find", source="appstore",
                  raw={"im:rating": {"label": "1"}, "im:version": {"label": "7.4.1"}})
    with SqliteStore(path) as store:
        store.upsert_posts([review, post("2", "a toot", source="mastodon")])
    _as_schema_2(path)
    with SqliteStore(path) as store:
        assert store.count_posts() == 2
        assert store.count_posts(PostFilter(ratings=(1,))) == 1  # filled from the kept raw review
        store.upsert_posts([post("3", "five stars", source="appstore", rating=5)])
        assert store.count_posts(PostFilter(ratings=(5,))) == 1
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == str(SCHEMA_VERSION)  # and on to the newest


def test_rating_must_be_one_to_five_stars():
    with pytest.raises(ValidationError):
        post("1", source="appstore", rating=6)
    with pytest.raises(ValidationError, match="ratings"):
        RuleFilter(ratings=[0, 1])


def test_a_one_star_rule_filter_reaches_the_store_filter():
    flt = to_post_filter(RuleFilter(sources=["appstore"], ratings=[1, 2]), watchlist="zephyr")
    assert flt == PostFilter(watchlists=("zephyr",), sources=("appstore",), ratings=(1, 2))


def test_export_carries_the_rating(tmp_path):
    with SqliteStore(tmp_path / "e.db") as store:
        store.upsert_posts([post("1", "crash", source="appstore", rating=1), post("2", "toot", source="mastodon")])
        out = io.StringIO()
        export_posts(store, out, "csv")
        rows = list(csv.DictReader(io.StringIO(out.getvalue())))
        lines = io.StringIO()
        export_posts(store, lines, "jsonl")
    assert [r["rating"] for r in rows] == ["1", ""]
    assert [json.loads(line).get("rating") for line in lines.getvalue().splitlines()] == [1, None]
    assert Post.model_validate_json(lines.getvalue().splitlines()[0]).rating == 1


def test_elasticsearch_maps_filters_and_kibana_shows_ratings():
    assert POSTS_MAPPINGS["properties"]["rating"] == {"type": "byte"}
    body = filter_query(PostFilter(ratings=(1, 2)))
    assert {"terms": {"rating": [1, 2]}} in body["bool"]["filter"]
    assert "rating:(" in filter_to_kql(PostFilter(ratings=(1,)))
