"""What a platform's replay handler is given: a scenario's posts indexed for serving.

The replay server (``scenarios/replay``) answers each platform's API paths through that
platform's own replay module (``PlatformSpec.replay``, in the platform's folder). The handlers
and the server meet here, in the core, because neither may import the other: a handler gets
a ``Catalog`` (posts per platform, by time, by native id) and answers with a ``Reply``.

A replay module provides, all optional except ``handle``:

- ``handle(catalog, now, method, path, query, headers, body, prefix) -> Reply``: one request;
- ``source(catalog, base_url) -> dict``: what a source must target (and which credentials it
  names) to collect every post of the scenario from the server;
- ``ENVIRONMENT``: environment variables the server sets for crawls it serves (fake credentials);
- ``native_id(counter, post, rng) -> str``, ``engagement(likes, shares, replies, reach)``,
  ``default_url(native, author)``: how the scenario generator shapes a post of this platform;
- ``synthetic(index) -> SyntheticShape``: the platform's posts in the small synthetic scenario.
"""

from __future__ import annotations

import bisect
import hashlib
import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from crisiswatch.core.model import Post
from crisiswatch.core.scenario import Scenario
from crisiswatch.core.watchlist import fold


@dataclass
class Reply:
    status: int
    body: bytes
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> "Reply":
        body = json.dumps(payload, ensure_ascii=False, indent=None).encode("utf-8")
        return cls(status, body, "application/json; charset=utf-8", headers or {})

    @classmethod
    def text(cls, text: str, content_type: str, status: int = 200, headers: dict[str, str] | None = None) -> "Reply":
        return cls(status, text.encode("utf-8"), content_type, headers or {})


@dataclass(frozen=True)
class SyntheticShape:
    """How the synthetic scenario writes a platform's ``index``-th post (``synthetic(index)``)."""

    native: str
    """Native id, shaped like the platform's own."""
    language: str = "en"
    """``zh`` gives Chinese texts."""
    titled: bool = False
    """The platform's posts have titles (news items, stories, reviews)."""
    views: bool = False
    """The platform counts views (its engagement gets a view count)."""
    long_text: bool = False
    """This post is long enough that the platform's listings cut it."""
    author_id: str | None = None
    handle: str | None = None
    thread: str | None = None
    """``<platform>:<id>`` of the thread the post belongs to (a video, an app)."""


def native(post: Post) -> str:
    return post.id.split(":", 1)[1]


def stable_number(text: str, digits: int = 9) -> int:
    """A number derived from a string, the same in every run (ids the scenario does not give)."""
    return int(hashlib.sha1(text.encode("utf-8")).hexdigest(), 16) % (10 ** digits)


class Catalog:
    """Posts of one scenario, oldest first per platform, with lookups the renderers need."""

    def __init__(self, scenario: Scenario):
        self.scenario = scenario
        grouped: dict[str, list[Post]] = defaultdict(list)
        for post in scenario.posts:
            grouped[post.source].append(post)
        self.posts: dict[str, list[Post]] = {}
        self.times: dict[str, list[float]] = {}
        self.by_native: dict[str, dict[str, Post]] = {}
        self.followers: dict[tuple[str, str], int | None] = {}
        for platform, posts in grouped.items():
            posts.sort(key=lambda p: (p.created_at, native(p)))
            self.posts[platform] = posts
            self.times[platform] = [p.created_at.timestamp() for p in posts]
            self.by_native[platform] = {native(p): p for p in posts}
            for post in posts:  # the latest count seen wins, as on a live profile
                key = post.author.id or post.author.handle
                if key and post.author.followers is not None:
                    self.followers[(platform, key)] = post.author.followers
        self.options: dict[str, Any] = {}
        """Knobs for tests, e.g. ``mastodon_timelines_access``."""
        self._folded: dict[str, str] = {}

    def platforms(self) -> list[str]:
        return sorted(self.posts)

    def visible(self, platform: str, now: datetime, where: Callable[[Post], bool] | None = None) -> list[Post]:
        """Posts released by ``now``, newest first."""
        posts = self.posts.get(platform, [])
        released = posts[: bisect.bisect_right(self.times.get(platform, []), now.timestamp())]
        chosen = released if where is None else [p for p in released if where(p)]
        return chosen[::-1]

    def folded(self, post: Post) -> str:
        text = self._folded.get(post.id)
        if text is None:
            text = self._folded[post.id] = fold(f"{post.title or ''}\n{post.text}")
        return text

    def mentions(self, post: Post, query: str) -> bool:
        """Search semantics of the replayed platforms: every word of the query occurs (folded)."""
        words = [w for w in fold(query).replace("*", " ").split() if w]
        return all(w in self.folded(post) for w in words)

    def author_followers(self, platform: str, post: Post) -> int | None:
        key = post.author.id or post.author.handle
        return self.followers.get((platform, key)) if key else None


def page_after(posts: list[Post], cursor: str | None, size: int, key: Callable[[Post], Any]) -> tuple[list[Post], str | None]:
    """Keyset paging over newest-first posts: the page after ``cursor`` and the next cursor."""
    start = _first_older(posts, cursor, key) if cursor else 0
    chosen = posts[start:start + size]
    following = encode_key(key(chosen[-1])) if chosen and start + size < len(posts) else None
    return chosen, following


def encode_key(value: tuple[float, str]) -> str:
    return f"{value[0]:017.6f}::{value[1]}"


def _first_older(posts: list[Post], cursor: str, key: Callable[[Post], Any]) -> int:
    for index, post in enumerate(posts):
        if encode_key(key(post)) < cursor:
            return index
    return len(posts)


def time_key(post: Post) -> tuple[float, str]:
    return (post.created_at.timestamp(), native(post))
