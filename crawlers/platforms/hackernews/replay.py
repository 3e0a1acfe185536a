"""Algolia's Hacker News search API (``/api/v1/search_by_date``) with its 1000-hit cap."""

from __future__ import annotations

import math
import random
import re
from datetime import datetime
from typing import Any

from crisiswatch.core.model import Author, Engagement, Post
from crisiswatch.core.replay import Catalog, Reply, SyntheticShape, native

PLATFORM = "hackernews"
MAX_HITS = 1000
_FILTER = re.compile(r"^\s*(created_at_i|points|num_comments)\s*(>=|<=|>|<|=)\s*(\d+)\s*$")
_OPS = {">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, "<": lambda a, b: a < b,
        "=": lambda a, b: a == b}


def _number(post: Post, field: str) -> int:
    if field == "created_at_i":
        return int(post.created_at.timestamp())
    if field == "points":
        return post.engagement.likes or 0
    return post.engagement.replies or 0


def render_hit(post: Post) -> dict[str, Any]:
    object_id = native(post)
    author = post.author.handle or post.author.id or "anonymous"
    stamp = int(post.created_at.timestamp())
    created = datetime.fromtimestamp(stamp, post.created_at.tzinfo).strftime("%Y-%m-%dT%H:%M:%SZ")
    story = post.thread_id.split(":", 1)[1] if post.thread_id else None
    if post.parent_id:
        story_id = int(story) if story and story.isdigit() else None
        return {"_highlightResult": {"author": {"matchLevel": "none", "matchedWords": [], "value": author},
                                     "comment_text": {"matchLevel": "none", "matchedWords": [], "value": post.text}},
                "_tags": ["comment", f"author_{author}", f"story_{story_id}"], "author": author,
                "comment_text": post.text, "created_at": created, "created_at_i": stamp, "objectID": object_id,
                "parent_id": int(post.parent_id.split(":", 1)[1]) if post.parent_id.split(":", 1)[1].isdigit() else None,
                "story_id": story_id, "story_title": None, "story_url": None, "updated_at": created}
    hit: dict[str, Any] = {
        "_highlightResult": {"author": {"matchLevel": "none", "matchedWords": [], "value": author},
                             "title": {"matchLevel": "none", "matchedWords": [], "value": post.title or ""}},
        "_tags": ["story", f"author_{author}", f"story_{object_id}"], "author": author, "children": [],
        "created_at": created, "created_at_i": stamp, "num_comments": post.engagement.replies or 0,
        "objectID": object_id, "points": post.engagement.likes or 0,
        "story_id": int(object_id) if object_id.isdigit() else None, "title": post.title or "", "updated_at": created,
        "url": post.url,
    }
    if post.text:
        hit["story_text"] = post.text
    return hit


def handle(catalog: Catalog, now: datetime, method: str, path: str, query: dict[str, list[str]],
           headers: dict[str, str], body: bytes, prefix: str) -> Reply:
    if path not in ("/api/v1/search_by_date", "/api/v1/search"):
        return Reply.json({"message": "Not Found", "status": 404}, status=404)
    one = lambda name, default=None: (query.get(name) or [default])[0]  # noqa: E731
    text = one("query", "")
    tags = one("tags", "") or ""
    wanted = {t for t in re.split(r"[(),]", tags) if t}
    filters = []
    for clause in (one("numericFilters", "") or "").split(","):
        if not clause.strip():
            continue
        match = _FILTER.match(clause)
        if not match:
            return Reply.json({"message": f"invalid numericFilters: {clause}", "status": 400}, status=400)
        filters.append((match.group(1), _OPS[match.group(2)], int(match.group(3))))

    def keep(post: Post) -> bool:
        kind = "comment" if post.parent_id else "story"
        if wanted & {"story", "comment"} and kind not in wanted:
            return False
        if not all(op(_number(post, field), value) for field, op, value in filters):
            return False
        return catalog.mentions(post, text) if text else True

    hits = catalog.visible(PLATFORM, now, keep)
    per_page = max(1, min(int(one("hitsPerPage", 20)), MAX_HITS))
    page = int(one("page", 0))
    reachable = hits[:MAX_HITS]
    pages = math.ceil(len(reachable) / per_page)
    chosen = reachable[page * per_page:(page + 1) * per_page]
    return Reply.json({
        "exhaustive": {"nbHits": True, "typo": True}, "exhaustiveNbHits": True, "exhaustiveTypo": True,
        "hits": [render_hit(p) for p in chosen], "hitsPerPage": per_page, "nbHits": len(hits), "nbPages": pages,
        "page": page, "params": "&".join(f"{k}={v[0]}" for k, v in query.items()), "processingTimeMS": 1,
        "query": text, "serverTimeMS": 2,
    })


def source(catalog: Catalog, base_url: str) -> dict[str, Any]:
    return {"targets": {"queries": [""]}}


# ---- how scenarios write Hacker News items -------------------------------------------------
def native_id(counter: int, post: Post, rng: random.Random) -> str:
    return str(43_000_000 + counter * 13 + rng.randrange(13))


def engagement(likes: int, shares: int, replies: int, reach: float) -> Engagement:
    """Points (at least one, the submitter's) and comments; no shares."""
    return Engagement(likes=max(1, likes), replies=replies)


def default_url(native_id: str, author: Author) -> str:
    return f"https://news.ycombinator.com/item?id={native_id}"


def synthetic(index: int) -> SyntheticShape:
    return SyntheticShape(native=str(40_000_000 + index), titled=True)
