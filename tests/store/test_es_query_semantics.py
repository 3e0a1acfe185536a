"""The Elasticsearch query bodies built from the text query tree select the same posts as
the SQLite store, checked offline by evaluating the bodies over the posts' documents.

No Elasticsearch server can run on the build machines (docs/elasticsearch.md), and the
loopback server does not evaluate queries; this evaluator knows only the handful of query
kinds the text compiler emits (bool filter/should/must_not, wildcard, term), with the
semantics Elastic documents for them, so a wrong tree shape (a must_not in the wrong
place, a lost alternative, a field on the wrong column) fails here. The live suite
(``CRISISWATCH_ELASTICSEARCH_URL``) runs the same queries against a real cluster.
"""

from __future__ import annotations

import fnmatch
from typing import Any

import pytest

from crisiswatch.core.model import Post
from crisiswatch.core.store.es_query import text_query
from tests.store.contract import TEXT_QUERIES, text_posts


def _document(post: Post, enrichment: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"text.substring": post.text, "title.substring": post.title, "source": post.source,
            "watchlists": post.watchlists, "effective_language": post.language,
            **{f"enrichment.{k}": v for k, v in (enrichment or {}).items()}}


def _wildcard(value: str | None, pattern: str) -> bool:
    if value is None:
        return False
    literal = pattern.replace("\\*", "\0").replace("\\?", "\1").replace("\\\\", "\2")
    translated = "".join("[*]" if c == "\0" else "[?]" if c == "\1" else "\\" if c == "\2" else
                         "[[]" if c == "[" else c for c in literal)
    return fnmatch.fnmatchcase(value.lower(), translated.lower())


def matches(query: dict[str, Any], doc: dict[str, Any]) -> bool:
    (kind, body), = query.items()
    if kind == "bool":
        assert set(body) <= {"filter", "should", "must_not", "minimum_should_match"}, body
        if not all(matches(q, doc) for q in body.get("filter", [])):
            return False
        if any(matches(q, doc) for q in body.get("must_not", [])):
            return False
        if "should" in body:
            assert body["minimum_should_match"] == 1
            return any(matches(q, doc) for q in body["should"])
        return True
    if kind == "wildcard":
        (field, spec), = body.items()
        assert spec["case_insensitive"] is True
        return _wildcard(doc.get(field), spec["value"])
    if kind == "term":
        (field, value), = body.items()
        have = doc.get(field)
        return value in have if isinstance(have, list) else have == value
    raise AssertionError(f"unexpected query kind {kind}")


@pytest.mark.parametrize(("query", "expected"), TEXT_QUERIES)
def test_es_text_queries_select_what_the_contract_expects(query: str, expected: set[str]) -> None:
    body = text_query(query)
    assert body is not None
    found = {post.id for post in text_posts() if matches(body, _document(post))}
    assert found == expected


def test_es_label_fields_and_negation_of_missing_labels() -> None:
    posts = text_posts()
    labelled = {"weibo:zh1": {"sentiment": "negative", "topic_id": 7}}

    def found(query: str) -> set[str]:
        body = text_query(query)
        return {p.id for p in posts if matches(body, _document(p, labelled.get(p.id)))}

    assert found("sentiment:negative") == {"weibo:zh1"}
    assert found("topic:7 OR source:reddit -acme") == {"weibo:zh1", "reddit:en2", "reddit:sym"}
    assert len(found("-sentiment:negative")) == len(posts) - 1  # posts without a label are not negative
