"""Storage: one interface (``Store``), an embedded SQLite backend and an Elasticsearch one."""

from __future__ import annotations

from crisiswatch.core.config import Config
from crisiswatch.core.store.base import (Bucket, ItemError, PostFilter, Share, Store, StoreError, TermCount,
                                    WriteResult)

__all__ = ["Bucket", "ItemError", "PostFilter", "Share", "Store", "StoreError", "TermCount", "WriteResult",
           "open_store"]


def open_store(config: Config) -> Store:
    """The Elasticsearch store when a URL is configured, else the embedded SQLite one; set up."""
    url = config.elasticsearch_url()
    if url:
        from crisiswatch.core.store.elasticsearch import ElasticsearchStore

        store: Store = ElasticsearchStore.from_config(config, url)
    else:
        from crisiswatch.core.store.sqlite import SqliteStore

        store = SqliteStore(config.sqlite_path())
    store.setup()
    return store
