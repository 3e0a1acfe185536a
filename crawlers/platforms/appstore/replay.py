"""Apple's customer-reviews feed in JSON: ``/{cc}/rss/customerreviews/page=N/id=APP/sortby=mostrecent/json``."""

from __future__ import annotations

import random
import re
from datetime import datetime, timedelta, timezone
from typing import Any

from crisiswatch.core.model import Engagement, Post
from crisiswatch.core.replay import Catalog, Reply, SyntheticShape, native

PLATFORM = "appstore"
PAGE = 50
MAX_PAGES = 10
DEFAULT_APP = "100000001"
_PATH = re.compile(r"^/(?P<cc>[a-z]{2})/rss/customerreviews/(?:page=(?P<page>\d+)/)?id=(?P<app>\d+)"
                   r"(?:/sortby=(?P<sort>\w+))?/(?P<fmt>json|xml)$")
PACIFIC = timezone(timedelta(hours=-7))


def app_of(post: Post) -> str:
    if post.thread_id:
        value = post.thread_id.split(":", 1)[1].removeprefix("app:").removeprefix("id")
        if value.isdigit():
            return value
    return DEFAULT_APP


def rating_of(post: Post) -> int:
    if post.rating is not None:
        return post.rating
    raw = post.raw or {}
    rating = raw.get("rating") or raw.get("im:rating")
    return int(rating) if isinstance(rating, (int, str)) and str(rating).isdigit() else 3


def render_entry(post: Post, cc: str, app: str) -> dict[str, Any]:
    review = native(post)
    author = post.author.name or post.author.handle or "Anonymous"
    return {
        "author": {"uri": {"label": f"https://itunes.apple.com/{cc}/reviews/id{post.author.id or '1'}"},
                   "name": {"label": author}, "label": ""},
        "updated": {"label": post.created_at.astimezone(PACIFIC).isoformat()},
        "im:rating": {"label": str(rating_of(post))}, "im:version": {"label": "7.4.1"},
        "id": {"label": review}, "title": {"label": post.title or ""},
        "content": {"label": post.text, "attributes": {"type": "text"}},
        "link": {"attributes": {"rel": "related",
                                "href": f"https://itunes.apple.com/{cc}/review?id={app}&type=Purple%20Software"}},
        "im:voteSum": {"label": str(post.engagement.likes or 0)},
        "im:contentType": {"attributes": {"term": "Application", "label": "Application"}},
        "im:voteCount": {"label": str(post.engagement.likes or 0)},
    }


def handle(catalog: Catalog, now: datetime, method: str, path: str, query: dict[str, list[str]],
           headers: dict[str, str], body: bytes, prefix: str) -> Reply:
    match = _PATH.match(path)
    if not match or match.group("fmt") != "json":
        return Reply.text("<html><body>Not Found</body></html>", "text/html", status=404)
    cc, app, number = match.group("cc"), match.group("app"), int(match.group("page") or 1)
    posts = catalog.visible(PLATFORM, now, lambda p: app_of(p) == app)[: PAGE * MAX_PAGES]
    last = max(1, min(MAX_PAGES, -(-len(posts) // PAGE)))
    entries = [render_entry(p, cc, app) for p in posts[(number - 1) * PAGE: number * PAGE]] if number <= last else []
    base = f"https://itunes.apple.com/{cc}/rss/customerreviews"

    def link(rel: str, page: int) -> dict[str, Any]:
        return {"attributes": {"rel": rel, "type": "application/xml",
                               "href": f"{base}/page={page}/id={app}/sortby=mostrecent/xml?urlDesc=/customerreviews/id={app}/sortby=mostrecent/json"}}

    feed: dict[str, Any] = {
        "author": {"name": {"label": "iTunes Store"}, "uri": {"label": "http://www.apple.com/itunes/"}},
        "updated": {"label": now.astimezone(PACIFIC).isoformat()},
        "rights": {"label": "Copyright 2008 Apple Inc."}, "title": {"label": "iTunes Store: Customer Reviews"},
        "icon": {"label": "http://itunes.apple.com/favicon.ico"},
        "link": [{"attributes": {"rel": "alternate", "type": "text/html",
                                 "href": f"https://apps.apple.com/WebObjects/MZStore.woa/wa/viewGrouping?cc={cc}&id=1"}},
                 {"attributes": {"rel": "self", "href": f"{base}/id={app}/sortby=mostrecent/json"}},
                 link("first", 1), link("last", last), link("previous", max(1, number - 1)),
                 link("next", min(last, number + 1))],
        "id": {"label": f"{base}/id={app}/sortby=mostrecent/json"},
    }
    if entries:
        feed["entry"] = entries[0] if len(entries) == 1 else entries
    return Reply.json({"feed": feed})


def source(catalog: Catalog, base_url: str) -> dict[str, Any]:
    return {"targets": {"apps": sorted({app_of(p) for p in catalog.posts.get(PLATFORM, [])})},
            "options": {"countries": ["us"]}}


# ---- how scenarios write reviews -----------------------------------------------------------
def native_id(counter: int, post: Post, rng: random.Random) -> str:
    return str(11_000_000_000 + counter * 13 + rng.randrange(13))


def engagement(likes: int, shares: int, replies: int, reach: float) -> Engagement:
    """Reviews count nothing public."""
    return Engagement()


def synthetic(index: int) -> SyntheticShape:
    return SyntheticShape(native=str(9_000_000_000 + index), thread="appstore:app:1234567890", titled=True)
