"""Export posts with their enrichments as JSON Lines (lossless) or CSV (for spreadsheets).

The JSONL form is a ``Post`` per line plus an ``"enrichment"`` object when the post has one;
``crisiswatch ingest`` reads it back unchanged, enrichments included.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from itertools import islice
from typing import Literal, TextIO

from crisiswatch.core.model import Enrichment, Post
from crisiswatch.core.store.base import PostFilter, Store

ExportFormat = Literal["jsonl", "csv"]

CSV_COLUMNS = ["id", "source", "created_at", "author_handle", "author_name", "followers", "likes", "shares",
               "replies", "views", "rating", "language", "sentiment", "sentiment_score", "emotion", "category", "topic_id",
               "watchlists", "url", "title", "text"]
_CHUNK = 500


def with_enrichments(store: Store, posts: Iterator[Post]) -> Iterator[tuple[Post, Enrichment | None]]:
    """Pair each post with its enrichment, fetching enrichments a chunk at a time."""
    while chunk := list(islice(posts, _CHUNK)):
        found = store.get_enrichments([p.id for p in chunk])
        for post in chunk:
            yield post, found.get(post.id)


def jsonl_line(post: Post, enrichment: Enrichment | None) -> str:
    data = post.model_dump(mode="json")
    if enrichment is not None:
        data["enrichment"] = enrichment.model_dump(mode="json")
    return json.dumps(data, ensure_ascii=False)


def csv_row(post: Post, enrichment: Enrichment | None) -> list[object]:
    e = enrichment
    language = e.language if e is not None and e.language != "und" else post.language
    return [post.id, post.source, post.created_at.isoformat(), post.author.handle or "", post.author.name or "",
            post.author.followers if post.author.followers is not None else "",
            *(v if v is not None else "" for v in (post.engagement.likes, post.engagement.shares,
                                                    post.engagement.replies, post.engagement.views)),
            post.rating if post.rating is not None else "", language or "", e.sentiment.value if e is not None and e.sentiment else "",
            e.sentiment_score if e is not None and e.sentiment_score is not None else "",
            (e.emotion or "") if e is not None else "", (e.category or "") if e is not None else "",
            e.topic_id if e is not None and e.topic_id is not None else "",
            ";".join(post.watchlists), post.url or "", post.title or "", post.text]


def export_posts(store: Store, out: TextIO, fmt: ExportFormat = "jsonl", filter: PostFilter | None = None,
                 progress: Callable[[int], None] | None = None) -> int:
    """Write matching posts oldest first; returns how many. ``progress`` gets the running count."""
    if fmt not in ("jsonl", "csv"):
        raise ValueError(f"unknown export format '{fmt}': use jsonl or csv")
    writer = csv.writer(out) if fmt == "csv" else None
    if writer is not None:
        writer.writerow(CSV_COLUMNS)
    count = 0
    for post, enrichment in with_enrichments(store, store.iter_posts(filter)):
        if writer is not None:
            writer.writerow(csv_row(post, enrichment))
        else:
            out.write(jsonl_line(post, enrichment) + "\n")
        count += 1
        if progress is not None and count % 1000 == 0:
            progress(count)
    if progress is not None:
        progress(count)
    return count
