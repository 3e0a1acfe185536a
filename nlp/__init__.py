"""NLP enrichment: language, Traditional/Simplified normalisation, sentiment, emotion,
complaint category, topics and near-duplicate groups, from one shared encoder pass.

Heavy libraries (torch, transformers, BERTopic) load on first use, not on import, so that
the CLI and Airflow DAG parsing stay fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from crisiswatch.core.config import Config
    from crisiswatch.core.model import Enrichment, Post


def enrich(posts: "list[Post]", config: "Config | None" = None) -> "list[Enrichment]":
    """One enrichment per post, in order (see ``nlp.pipeline.enrich``)."""
    from nlp.pipeline import enrich as _enrich

    return _enrich(posts, config)


def enrich_store(store, config: "Config", batch_size: int = 256, limit: int | None = None,
                 progress: "Callable[[int], None] | None" = None) -> int:
    """Enrich every un-enriched post in ``store``; returns how many (see ``nlp.pipeline``)."""
    from nlp.pipeline import enrich_store as _enrich_store

    return _enrich_store(store, config, batch_size=batch_size, limit=limit, progress=progress)


__all__ = ["enrich", "enrich_store"]
