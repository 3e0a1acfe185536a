"""Index templates, ILM policy and index names of the Elasticsearch store.

The bodies are built here from the configuration (prefix, retention, rollover) so that
``crisiswatch es setup`` and the JSON shipped in ``infra/elasticsearch/`` (rendered from the
defaults, see ``render_infra_files``) can never drift apart. Each body carries a content hash
in ``_meta`` so that setup and check can tell "current" from "outdated" without comparing
Elasticsearch's normalised echo of a template field by field.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crisiswatch.core.config import ElasticsearchConfig, parse_duration

SCHEMA_VERSION = 1
"""Bump when a mapping changes in a way existing indices cannot take (needs a reindex)."""

# Standard tokenizer + width folding + lower case + CJK bigrams. Indexing also keeps
# unigrams so that a one-character Chinese query finds the character inside a word; the
# search side emits bigrams only, so a longer query is a phrase of consecutive bigrams,
# which is exactly a substring match for Chinese text.
ANALYSIS = {
    "filter": {
        "crisiswatch_bigrams_and_unigrams": {"type": "cjk_bigram", "output_unigrams": True},
        "crisiswatch_bigrams": {"type": "cjk_bigram", "output_unigrams": False},
    },
    "analyzer": {
        "crisiswatch_cjk_index": {
            "type": "custom",
            "tokenizer": "standard",
            "filter": ["cjk_width", "lowercase", "crisiswatch_bigrams_and_unigrams"],
        },
        "crisiswatch_cjk_search": {
            "type": "custom",
            "tokenizer": "standard",
            "filter": ["cjk_width", "lowercase", "crisiswatch_bigrams"],
        },
    },
}

KEYWORD = {"type": "keyword", "ignore_above": 1024}
LONG = {"type": "long"}
DATE = {"type": "date"}


def _text_with_cjk() -> dict[str, Any]:
    """``text`` (standard analyser, Kibana's free search), a CJK-aware ``.cjk`` multi-field
    (relevance search for analysts, bigrams) and a ``.substring`` wildcard multi-field, which
    crisiswatch's own text filters use: the store contract asks for case-insensitive
    substring matching (``Recal`` finds "RECALL", ``天`` finds "今天天气"), which no
    analysed field can give and the ``wildcard`` field type is built for."""
    return {
        "type": "text",
        "fields": {
            "cjk": {"type": "text", "analyzer": "crisiswatch_cjk_index",
                    "search_analyzer": "crisiswatch_cjk_search"},
            "substring": {"type": "wildcard"},
        },
    }


ENRICHMENT_MAPPING: dict[str, Any] = {
    "properties": {
        "language": KEYWORD,
        "sentiment": KEYWORD,
        "sentiment_score": {"type": "float"},
        "emotion": KEYWORD,
        "emotion_scores": {"type": "flattened"},
        "category": KEYWORD,
        "category_score": {"type": "float"},
        "topic_id": {"type": "integer"},
        "topic_keywords": KEYWORD,
        "duplicate_group": KEYWORD,
        "models": {"type": "flattened"},
        "skipped_reason": KEYWORD,
        "enriched_at": DATE,
    }
}

# The language filter means "detected language (unless 'und'), else the platform's": a runtime field
# keeps that rule in one place for queries, aggregations and Kibana alike.
EFFECTIVE_LANGUAGE_SCRIPT = (
    "if (doc['enrichment.language'].size() > 0 && doc['enrichment.language'].value != 'und') "
    "{ emit(doc['enrichment.language'].value); } "
    "else if (doc['language'].size() > 0) { emit(doc['language'].value); }"
)

POSTS_MAPPINGS: dict[str, Any] = {
    "dynamic": False,
    "runtime": {
        "effective_language": {"type": "keyword", "script": {"source": EFFECTIVE_LANGUAGE_SCRIPT}},
    },
    "properties": {
        "id": KEYWORD,
        "source": KEYWORD,
        "url": {"type": "keyword", "index": False, "doc_values": False},
        "text": _text_with_cjk(),
        "title": _text_with_cjk(),
        "language": KEYWORD,
        # ``date`` (milliseconds), not ``date_nanos``: the latter refuses times before 1970,
        # and a post with a garbled timestamp must still be stored.
        "created_at": DATE,
        "collected_at": DATE,
        "author": {
            "properties": {
                "id": KEYWORD,
                "handle": KEYWORD,
                "name": {"type": "keyword", "ignore_above": 256, "fields": {"text": {"type": "text"}}},
                "followers": LONG,
                "verified": {"type": "boolean"},
            }
        },
        "engagement": {
            "properties": {"likes": LONG, "shares": LONG, "replies": LONG, "views": LONG},
        },
        "engagement_total": LONG,
        "reach": LONG,
        "rating": {"type": "byte"},
        "parent_id": KEYWORD,
        "thread_id": KEYWORD,
        "watchlists": KEYWORD,
        "terms": KEYWORD,
        "raw": {"type": "object", "enabled": False},
        "enrichment": ENRICHMENT_MAPPING,
    },
}

INCIDENTS_MAPPINGS: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "id": KEYWORD,
        "fingerprint": KEYWORD,
        "rule": KEYWORD,
        "watchlist": KEYWORD,
        "title": {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 512}}},
        "level": KEYWORD,
        "level_rank": {"type": "byte"},
        "peak_level": KEYWORD,
        "state": KEYWORD,
        "score": {"type": "float"},
        "opened_at": DATE,
        "updated_at": DATE,
        "acknowledged_at": DATE,
        "acknowledged_by": KEYWORD,
        "assignee": KEYWORD,
        "resolved_at": DATE,
        "last_fired_at": DATE,
        "calm_buckets": {"type": "integer"},
        "escalation_step": {"type": "integer"},
        "evidence": {"type": "object", "enabled": False},
        "related": KEYWORD,
        "events": {
            "properties": {
                "at": DATE,
                "kind": KEYWORD,
                "actor": KEYWORD,
                "message": {"type": "text"},
                "data": {"type": "object", "enabled": False},
            }
        },
        "notifications": {
            "properties": {
                "idempotency_key": KEYWORD,
                "channel": KEYWORD,
                "event_kind": KEYWORD,
                "status": KEYWORD,
                "attempts": {"type": "integer"},
                "last_error": {"type": "text"},
                "created_at": DATE,
                "sent_at": DATE,
                "next_attempt_at": DATE,
                "claimed_by": KEYWORD,
                "lease_until": DATE,
                "failover_from": KEYWORD,
            }
        },
    },
}

CRAWLS_MAPPINGS: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "source": KEYWORD,
        "started_at": DATE,
        "finished_at": DATE,
        "pages": {"type": "integer"},
        "items": {"type": "integer"},
        "errors": {"type": "integer"},
        "newest_post_at": DATE,
        "status": KEYWORD,
        "message": {"type": "text"},
        "parse_failures": {"type": "integer"},
        "unreadable_pages": {"type": "integer"},
    },
}

STATE_MAPPINGS: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "kind": KEYWORD,
        "key": KEYWORD,
        "value": {"type": "keyword", "index": False, "doc_values": False},
        "updated_at": DATE,
    },
}


@dataclass(frozen=True)
class IndexNames:
    """Every name the store uses, derived from one prefix."""

    prefix: str

    @property
    def posts(self) -> str:
        """Alias: reads every posts index, writes go to the current (write) index."""
        return f"{self.prefix}-posts"

    @property
    def posts_first_index(self) -> str:
        return f"{self.prefix}-posts-000001"

    @property
    def posts_policy(self) -> str:
        return f"{self.prefix}-posts-policy"

    @property
    def incidents(self) -> str:
        return f"{self.prefix}-incidents"

    @property
    def crawls(self) -> str:
        return f"{self.prefix}-crawls"

    @property
    def state(self) -> str:
        return f"{self.prefix}-state"

    def template(self, kind: str) -> str:
        return f"{self.prefix}-{kind}"

    def concrete_indices(self) -> dict[str, str]:
        """Template kind -> the plain index it governs (posts use the rollover alias)."""
        return {"incidents": self.incidents, "crawls": self.crawls, "state": self.state}


def content_hash(body: dict[str, Any]) -> str:
    """Short, stable digest of a body without its ``_meta``."""
    clean = {k: v for k, v in body.items() if k != "_meta"}
    return hashlib.sha256(json.dumps(clean, sort_keys=True).encode()).hexdigest()[:16]


def _stamp(body: dict[str, Any]) -> dict[str, Any]:
    body["_meta"] = {"managed_by": "crisiswatch", "schema_version": SCHEMA_VERSION, "hash": content_hash(body)}
    return body


def _seconds(duration: str) -> str:
    return f"{int(parse_duration(duration).total_seconds())}s"


def ilm_policy(config: ElasticsearchConfig) -> dict[str, Any]:
    """Body of PUT _ilm/policy: roll the posts index over, delete it after the retention."""
    policy = {
        "phases": {
            "hot": {
                "min_age": "0ms",
                "actions": {
                    "rollover": {
                        "max_size": config.rollover_max_size,
                        "max_age": _seconds(config.rollover_max_age),
                    },
                },
            },
            "delete": {"min_age": _seconds(config.retention), "actions": {"delete": {}}},
        },
    }
    _stamp(policy)
    return {"policy": policy}


def index_templates(config: ElasticsearchConfig) -> dict[str, dict[str, Any]]:
    """Template name -> body of PUT _index_template, for posts, incidents, crawls and state."""
    names = IndexNames(config.index_prefix)
    small_index = {"number_of_shards": 1, "auto_expand_replicas": "0-1"}
    templates = {
        "posts": {
            "index_patterns": [f"{names.posts}-*"],
            "priority": 200,
            "template": {
                "settings": {
                    "number_of_shards": 1,
                    "auto_expand_replicas": "0-1",
                    "refresh_interval": "1s",
                    "lifecycle": {"name": names.posts_policy, "rollover_alias": names.posts},
                    "analysis": ANALYSIS,
                },
                "mappings": copy.deepcopy(POSTS_MAPPINGS),
            },
        },
        "incidents": {
            "index_patterns": [names.incidents],
            "priority": 200,
            "template": {"settings": dict(small_index), "mappings": copy.deepcopy(INCIDENTS_MAPPINGS)},
        },
        "crawls": {
            "index_patterns": [names.crawls],
            "priority": 200,
            "template": {"settings": dict(small_index), "mappings": copy.deepcopy(CRAWLS_MAPPINGS)},
        },
        "state": {
            "index_patterns": [names.state],
            "priority": 200,
            "template": {"settings": dict(small_index), "mappings": copy.deepcopy(STATE_MAPPINGS)},
        },
    }
    return {names.template(kind): _stamp(body) for kind, body in templates.items()}


def render_infra_files(directory: Path, config: ElasticsearchConfig | None = None) -> list[Path]:
    """Write the templates and policy as JSON files (what ``infra/elasticsearch`` ships)."""
    config = config or ElasticsearchConfig()
    names = IndexNames(config.index_prefix)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    files = {f"ilm-policy-{names.posts_policy}.json": ilm_policy(config)}
    files.update({f"index-template-{name}.json": body for name, body in index_templates(config).items()})
    for filename, body in files.items():
        path = directory / filename
        path.write_text(json.dumps(body, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(path)
    return written
