"""Hacker News through the Algolia search API (``/api/v1/search_by_date``), newest first.

Targets: ``queries`` (or ``keywords``; an empty query means everything). Algolia serves at most 1000 hits per query (``nbPages`` stops
there), so a busy query is cut into time slices: when the pages run out while
``nbHits`` says there is more, the next slice asks for ``created_at_i<=`` the oldest
time seen (``numericFilters``). The cursor is the newest ``created_at_i`` (epoch
seconds), sent as ``created_at_i>=`` next time. HN has no follower counts; points and
comment counts are the engagement.

``comment_text`` and ``story_text`` are HTML as HN renders it (``<p>`` between paragraphs,
``&#x27;``, ``&quot;``, ``<a href>``, ``<pre><code>``): text kind ``html``; titles are plain.
A deleted or flagged item has no text (``null``) and is kept with what it still has.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

import scrapy
from scrapy.http import Response

from crawlers.normalise import from_timestamp, parse_iso
from crawlers.parse_report import read_field
from crawlers.base_spider import CrisisSpider, Walk
from crisiswatch.core.model import Author, Engagement, Post


class HackerNewsSpider(CrisisSpider):
    name = "hackernews"
    default_base_url = "https://hn.algolia.com"
    text_kind = "html"
    title_kind = "plain"

    def queries(self) -> list[str]:
        """Configured queries; an empty one is allowed and means every story and comment."""
        targets = self.source_config.targets
        return [str(q) for q in targets.get("queries", []) + targets.get("keywords", [])]

    def walk_keys(self) -> list[str]:
        return [f"query:{q}" for q in self.queries()]

    def start_walks(self, cursors: dict[str, str]) -> Iterable[scrapy.Request]:
        for query in self.queries():
            walk = self.new_walk(f"query:{query}", cursors, numeric=True, inclusive=True)
            yield self.search(walk, query, page=0, upper=None)

    def search(self, walk: Walk, query: str, page: int, upper: int | None) -> scrapy.Request:
        filters = []
        if walk.since:
            filters.append(f"created_at_i>={walk.since}")
        if upper is not None:
            filters.append(f"created_at_i<={upper}")
        url = self.url("/api/v1/search_by_date", query=query, tags=self.option("tags", "(story,comment)"),
                       hitsPerPage=self.option("hits_per_page", 100), page=page,
                       numericFilters=",".join(filters) or None)
        return self.request(url, walk, self.parse_search, query=query, page=page, upper=upper)

    def parse_search(self, response: Response, walk: Walk, query: str, page: int, upper: int | None) -> Iterator[Any]:
        result = self.json_body(response)
        hits = result["hits"]
        walk.pages += 1
        oldest = walk.extra.get("oldest")
        for hit in hits:
            post = self.post_or_none(lambda: self.hit_to_post(hit), response.url, hit)
            if post is None:
                continue
            stamp = int(post.created_at.timestamp())
            oldest = stamp if oldest is None else min(oldest, stamp)
            if self.accept(walk, post, str(stamp)):
                yield post
        walk.extra["oldest"] = oldest
        if walk.pages >= self.source_config.max_pages or not hits:
            return
        if page + 1 < int(result.get("nbPages", 0)):
            yield self.search(walk, query, page + 1, upper)
        elif int(result.get("nbHits", 0)) > (page + 1) * int(result.get("hitsPerPage", len(hits))):
            # The 1000-hit cap: continue with an older time slice unless it would not move.
            if oldest is not None and oldest != upper:
                yield self.search(walk, query, 0, oldest)

    @staticmethod
    def hit_time(hit: dict[str, Any]) -> datetime:
        """``created_at_i`` (epoch seconds); the ISO ``created_at`` when an index lacks the number."""
        if hit.get("created_at_i") is not None:
            return read_field("created_at_i", hit["created_at_i"], from_timestamp)
        return read_field("created_at_i", hit.get("created_at"), parse_iso)

    def hit_to_post(self, hit: dict[str, Any]) -> Post:
        tags = hit.get("_tags") or []
        is_comment = "comment" in tags or (hit.get("comment_text") and not hit.get("title"))
        text = hit.get("comment_text") if is_comment else (hit.get("story_text") or "")
        title = None if is_comment else hit.get("title")
        parent = hit.get("parent_id") if is_comment else None
        return self.make_post(
            hit["objectID"], self.hit_time(hit), text or "", title=title,
            url=f"https://news.ycombinator.com/item?id={hit['objectID']}",
            author=Author(id=hit.get("author"), handle=hit.get("author")),
            engagement=Engagement(likes=hit.get("points"), replies=hit.get("num_comments")),
            parent=str(parent) if parent else None,
            thread=str(hit["story_id"]) if hit.get("story_id") and is_comment else None, raw=hit)
