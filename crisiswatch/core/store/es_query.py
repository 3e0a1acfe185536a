"""Request bodies of the Elasticsearch store: ``PostFilter`` -> bool query, aggregations.

Kept apart from the client code so that every body can be checked offline against
Elastic's API specification (tests/store/test_es_spec.py) without a cluster.

Text queries (``PostFilter.text``) use the ``.substring`` multi-fields of ``text`` and
``title`` (type ``wildcard``): every term must occur as a case-insensitive substring of the
text or the title, exactly the SQLite semantics the store contract pins (``Recal`` finds
"RECALL", ``天`` finds "今天天气", ``"food poisoning"`` must occur as written). The
CJK-aware ``.cjk`` multi-fields (bigrams) serve relevance search in Kibana; a phrase there
would match whole words only (``recall`` would miss "recalled"). Case folding: SQLite folds
with Python's ``str.casefold``, Elasticsearch per code point (upper/lower case), which
differs only for rare letters such as German "ß" vs "SS".
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from crisiswatch.core.model import as_utc
from crisiswatch.core.store.base import PostFilter, PostOrder
from crisiswatch.core.store.query import And, Label, Node, Not, Term, parse_query, script_variants

MATCH_NONE: dict[str, Any] = {"bool": {"must_not": [{"match_all": {}}]}}
SUBSTRING_FIELDS = ("text.substring", "title.substring")

# Store.count_by_field name -> indexed field
FIELD_MAP = {
    "source": "source",
    "language": "effective_language",
    "sentiment": "enrichment.sentiment",
    "emotion": "enrichment.emotion",
    "category": "enrichment.category",
    "watchlist": "watchlists",
    "topic_id": "enrichment.topic_id",
}

SORTS: dict[str, list[dict[str, Any]]] = {
    "engagement": [{"engagement_total": {"order": "desc"}}, {"id": {"order": "asc"}}],
    "reach": [{"reach": {"order": "desc"}}, {"id": {"order": "asc"}}],
    "created_at": [{"created_at": {"order": "asc"}}, {"id": {"order": "asc"}}],
    "-created_at": [{"created_at": {"order": "desc"}}, {"id": {"order": "asc"}}],
}


def es_time(value: datetime) -> str:
    """ISO-8601 in UTC (naive = UTC); Elasticsearch keeps milliseconds of it."""
    return as_utc(value).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _terms(field: str, values: tuple[Any, ...]) -> dict[str, Any]:
    if not values:  # an empty list means "none of these": nothing matches
        return MATCH_NONE
    return {"terms": {field: list(values)}}


def wildcard_pattern(term: str) -> str:
    """``*term*`` with the wildcard syntax characters of the term escaped."""
    escaped = term.replace("\\", "\\\\").replace("*", "\\*").replace("?", "\\?")
    return f"*{escaped}*"


def _contains(term: str, fields: tuple[str, ...] = SUBSTRING_FIELDS) -> dict[str, Any]:
    """The term occurs in one of ``fields`` (case-insensitive substring)."""
    pattern = wildcard_pattern(term)
    return {"bool": {"should": [{"wildcard": {field: {"value": pattern, "case_insensitive": True}}}
                                for field in fields], "minimum_should_match": 1}}


LABEL_FIELDS = {"source": "source", "language": "effective_language", "sentiment": "enrichment.sentiment",
                "emotion": "enrichment.emotion", "category": "enrichment.category", "watchlist": "watchlists",
                "topic": "enrichment.topic_id"}
"""Query-language field (``source:weibo``) -> indexed keyword field."""


def _any(clauses: list[dict[str, Any]]) -> dict[str, Any]:
    return clauses[0] if len(clauses) == 1 else {"bool": {"should": clauses, "minimum_should_match": 1}}


def node_query(node: Node) -> dict[str, Any]:
    """The query tree of ``crisiswatch.core.store.query`` as an Elasticsearch query (filter
    context), with the same meaning as the SQLite store gives it."""
    if isinstance(node, Term):
        fields = (f"{node.field}.substring",) if node.field else SUBSTRING_FIELDS
        return _any([_contains(variant, fields) for variant in script_variants(node.text)])
    if isinstance(node, Label):
        return {"term": {LABEL_FIELDS[node.field]: node.value}}
    if isinstance(node, Not):
        return {"bool": {"must_not": [node_query(node.item)]}}
    if isinstance(node, And):
        return {"bool": {"filter": [node_query(item) for item in node.items]}}
    return _any([node_query(item) for item in node.items])


def text_query(text: str) -> dict[str, Any] | None:
    """The query for ``PostFilter.text``; None when the query is blank. Raises QueryError
    (with the position) for a query that cannot be parsed."""
    node = parse_query(text)
    return None if node is None else node_query(node)


def filter_query(filter: PostFilter | None, extra: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The bool query selecting the posts of ``filter`` (all filter context: no scoring)."""
    clauses: list[dict[str, Any]] = list(extra or [])
    f = filter or PostFilter()
    for values, field in ((f.watchlists, "watchlists"), (f.sources, "source"),
                          (f.languages, "effective_language"), (f.sentiments, "enrichment.sentiment"),
                          (f.emotions, "enrichment.emotion"), (f.categories, "enrichment.category"),
                          (f.topic_ids, "enrichment.topic_id"), (f.ratings, "rating")):
        if values is not None:
            clauses.append(_terms(field, values))
    if f.text is not None:
        query = text_query(f.text)
        if query is not None:
            clauses.append(query)
    if f.min_followers is not None:
        clauses.append({"range": {"reach": {"gte": f.min_followers}}})  # unknown followers count as 0
    bounds: dict[str, Any] = {}
    if f.since is not None:
        bounds["gte"] = es_time(f.since)
    if f.until is not None:
        bounds["lt"] = es_time(f.until)
    if bounds:
        clauses.append({"range": {"created_at": bounds}})
    return {"bool": {"filter": clauses}} if clauses else {"match_all": {}}


def window(start: datetime, end: datetime) -> dict[str, Any]:
    return {"range": {"created_at": {"gte": es_time(start), "lt": es_time(end)}}}


def _ms(value: datetime) -> int:
    return int(round(as_utc(value).timestamp() * 1000))


def histogram_body(filter: PostFilter, start: datetime, end: datetime, size: timedelta) -> dict[str, Any]:
    """Search body: a date_histogram whose buckets start exactly at ``start``.

    Elasticsearch aligns fixed intervals on the epoch; ``offset`` shifts them onto
    ``start``, and ``extended_bounds`` with ``min_doc_count: 0`` returns empty buckets too.
    """
    interval_ms = int(size.total_seconds() * 1000)
    if interval_ms <= 0:
        raise ValueError("bucket size must be positive")
    offset_ms = _ms(start) % interval_ms
    return {
        "size": 0,
        "track_total_hits": False,
        "query": filter_query(filter, [window(start, end)]),
        "aggs": {
            "buckets": {
                "date_histogram": {
                    "field": "created_at",
                    "fixed_interval": f"{interval_ms}ms",
                    "offset": f"+{offset_ms}ms",
                    "min_doc_count": 0,
                    "extended_bounds": {"min": _ms(start), "max": max(_ms(end) - 1, _ms(start))},
                }
            }
        },
    }


def share_body(part: PostFilter, whole: PostFilter) -> dict[str, Any]:
    """Search body: the ``whole`` posts counted exactly, the ``part`` (already intersected
    with the whole) as a ``filter`` aggregation inside them: one request for both numbers."""
    return {"size": 0, "track_total_hits": True, "query": filter_query(whole),
            "aggs": {"part": {"filter": filter_query(part)}}}


def field_counts_body(field: str, filter: PostFilter | None, limit: int) -> dict[str, Any]:
    """Search body: a terms aggregation plus a ``missing`` one (posts without a value)."""
    if field not in FIELD_MAP:
        raise ValueError(f"cannot count by '{field}': use one of {', '.join(FIELD_MAP)}")
    target = FIELD_MAP[field]
    return {
        "size": 0,
        "track_total_hits": False,
        "query": filter_query(filter),
        "aggs": {
            "values": {"terms": {"field": target, "size": max(limit, 1) + 20, "shard_size": max(limit, 1) * 5 + 10,
                                 "order": [{"_count": "desc"}, {"_key": "asc"}]}},
            "none": {"missing": {"field": target}},
        },
    }


def top_terms_body(filter: PostFilter, limit: int) -> dict[str, Any]:
    """Search body: terms aggregation over the ``terms`` keyword field (``extract_terms``)."""
    return {
        "size": 0,
        "track_total_hits": False,
        "query": filter_query(filter),
        "aggs": {
            "terms": {"terms": {"field": "terms", "size": max(limit, 1), "shard_size": max(limit, 1) * 5 + 10,
                                "order": [{"_count": "desc"}, {"_key": "asc"}]}},
        },
    }


def posts_page_body(filter: PostFilter | None, order: PostOrder, size: int,
                    search_after: list[Any] | None = None, extra: list[dict[str, Any]] | None = None
                    ) -> dict[str, Any]:
    """Search body: one page of posts in ``order`` (ties by id), resumable by search_after."""
    if order not in SORTS:
        raise ValueError(f"unknown order '{order}'")
    body: dict[str, Any] = {
        "size": size,
        "track_total_hits": False,
        "query": filter_query(filter, extra),
        "sort": SORTS[order],
    }
    if search_after is not None:
        body["search_after"] = search_after
    return body


def ids_body(ids: list[str], with_source: bool) -> dict[str, Any]:
    """Search body: the posts with these ids (the alias may span several rolled-over indices)."""
    return {"size": len(ids), "track_total_hits": False, "query": {"ids": {"values": ids}},
            "_source": with_source}


UNENRICHED = {"bool": {"must_not": [{"exists": {"field": "enrichment.enriched_at"}}]}}
ENRICHED = {"exists": {"field": "enrichment.enriched_at"}}

SET_ENRICHMENT_SCRIPT = "ctx._source.enrichment = params.enrichment"
"""Replace the enrichment whole (a partial merge would keep labels of the previous run)."""

REPLACE_POST_SCRIPT = (
    "def kept = ctx._source.enrichment; ctx._source.clear(); ctx._source.putAll(params.post); "
    "if (kept != null) { ctx._source.enrichment = kept; }"
)
"""Replace a post's content but keep its enrichment (``Store.upsert_posts``)."""

CLEAR_ENRICHMENT_SCRIPT = "ctx._source.remove('enrichment')"
