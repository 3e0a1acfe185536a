"""Mastodon REST API v1/v2 as an instance serves it: statuses, accounts, Link-header paging."""

from __future__ import annotations

import html
import random
import zlib
from datetime import datetime
from typing import Any
from urllib.parse import unquote, urlencode

from crisiswatch.core.model import Author, Post
from crisiswatch.core.replay import Catalog, Reply, SyntheticShape, native

PLATFORM = "mastodon"


def status_id(post: Post) -> int:
    """The scenario's numeric id, else a snowflake-like id from the time (ordered like Mastodon's)."""
    value = native(post)
    if value.isdigit():
        return int(value)
    return (int(post.created_at.timestamp() * 1000) << 16) | (zlib.crc32(value.encode()) & 0xFFFF)


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def render_status(catalog: Catalog, post: Post, host: str) -> dict[str, Any]:
    author = post.author
    acct = author.handle or f"user{author.id}"
    account_id = author.id or str(zlib.crc32(acct.encode()))
    sid = str(status_id(post))
    paragraphs = "".join("<p>" + html.escape(part).replace("\n", "<br />") + "</p>"
                         for part in post.text.split("\n\n")) if post.text else ""
    parent = post.parent_id.split(":", 1)[1] if post.parent_id else None
    return {
        "id": sid, "created_at": _iso(post.created_at), "in_reply_to_id": parent,
        "in_reply_to_account_id": None, "sensitive": False, "spoiler_text": "", "visibility": "public",
        "language": post.language, "uri": f"https://{host}/users/{acct}/statuses/{sid}",
        "url": post.url or f"https://{host}/@{acct}/{sid}", "replies_count": post.engagement.replies or 0,
        "reblogs_count": post.engagement.shares or 0, "favourites_count": post.engagement.likes or 0,
        "edited_at": None, "content": paragraphs, "reblog": None,
        "application": {"name": "Web", "website": None},
        "account": {
            "id": account_id, "username": acct.split("@")[0], "acct": acct, "display_name": author.name or "",
            "locked": False, "bot": False, "discoverable": True, "group": False,
            "created_at": "2022-11-07T00:00:00.000Z", "note": "", "url": f"https://{host}/@{acct}",
            "avatar": f"https://{host}/avatars/original/missing.png",
            "avatar_static": f"https://{host}/avatars/original/missing.png",
            "header": f"https://{host}/headers/original/missing.png",
            "header_static": f"https://{host}/headers/original/missing.png",
            "followers_count": catalog.author_followers(PLATFORM, post) or 0, "following_count": 0,
            "statuses_count": 1, "last_status_at": post.created_at.strftime("%Y-%m-%d"), "emojis": [], "fields": [],
        },
        "media_attachments": [], "mentions": [],
        "tags": [{"name": w[1:].lower(), "url": f"https://{host}/tags/{w[1:].lower()}"}
                 for w in post.text.split() if w.startswith("#") and len(w) > 1],
        "emojis": [], "card": None, "poll": None,
    }


def instance(catalog: Catalog, host: str) -> dict[str, Any]:
    access = catalog.options.get("mastodon_timelines_access", "public")
    scopes = {"local": access, "remote": access}
    return {
        "domain": host, "title": "Replay instance", "version": "4.4.0", "source_url": "https://github.com/mastodon/mastodon",
        "description": "A crisiswatch replay of a scenario.", "usage": {"users": {"active_month": 1}},
        "languages": ["en"], "registrations": {"enabled": False, "approval_required": False, "message": None},
        "contact": {"email": "", "account": None}, "rules": [],
        "configuration": {"urls": {"streaming": f"wss://{host}"}, "statuses": {"max_characters": 500},
                          "timelines_access": {"live_feeds": scopes, "hashtag_feeds": scopes,
                                               "trending_link_feeds": scopes}},
    }


def _one(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None


def handle(catalog: Catalog, now: datetime, method: str, path: str, query: dict[str, list[str]],
           headers: dict[str, str], body: bytes, prefix: str) -> Reply:
    host = headers.get("host", "127.0.0.1")
    if path == "/api/v2/instance":
        return Reply.json(instance(catalog, host))
    if path == "/api/v1/accounts/lookup":
        acct = (query.get("acct") or [""])[0].lower()
        for post in catalog.posts.get(PLATFORM, []):
            if (post.author.handle or "").lower() == acct:
                return Reply.json(render_status(catalog, post, host)["account"])
        return Reply.json({"error": "Record not found"}, status=404)
    if path.startswith("/api/v1/accounts/") and path.endswith("/statuses"):
        account_id = path.split("/")[4]
        where = lambda p: render_status(catalog, p, host)["account"]["id"] == account_id  # noqa: E731
    elif path == "/api/v1/timelines/public":
        where = None
    elif path.startswith("/api/v1/timelines/tag/"):
        tag = "#" + unquote(path.rsplit("/", 1)[1]).lower()
        where = lambda p: tag in p.text.lower()  # noqa: E731
    else:
        return Reply.json({"error": "Record not found"}, status=404)
    if path.startswith("/api/v1/timelines") and catalog.options.get("mastodon_timelines_access", "public") != "public":
        return Reply.json({"error": "This method requires an authenticated user"}, status=401)
    limit = min(int(_one(query, "limit") or 20), 40)
    statuses = catalog.visible(PLATFORM, now, where)
    statuses.sort(key=status_id, reverse=True)
    max_id, since_id, min_id = (_one(query, k) for k in ("max_id", "since_id", "min_id"))
    if max_id:
        statuses = [p for p in statuses if status_id(p) < int(max_id)]
    if since_id:
        statuses = [p for p in statuses if status_id(p) > int(since_id)]
    if min_id:
        statuses = [p for p in statuses if status_id(p) > int(min_id)][-limit:]
    page = statuses[:limit]
    headers_out = {}
    if page:
        keep = {k: v[0] for k, v in query.items() if k in ("local", "remote", "only_media")}
        older = urlencode({**keep, "limit": limit, "max_id": status_id(page[-1])})
        newer = urlencode({**keep, "limit": limit, "min_id": status_id(page[0])})
        headers_out["Link"] = f'<{prefix}{path}?{older}>; rel="next", <{prefix}{path}?{newer}>; rel="prev"'
    return Reply.json([render_status(catalog, p, host) for p in page], headers=headers_out)


def source(catalog: Catalog, base_url: str) -> dict[str, Any]:
    return {"targets": {"timelines": ["public"]}}


# ---- how scenarios write Mastodon posts ----------------------------------------------------
def native_id(counter: int, post: Post, rng: random.Random) -> str:
    """A snowflake: milliseconds << 16 | sequence."""
    return str(int(post.created_at.timestamp() * 1000) << 16 | (counter & 0xFFFF))


def default_url(native_id: str, author: Author) -> str:
    return f"https://mastodon.example/@{author.handle or 'user'}/{native_id}"


def synthetic(index: int) -> SyntheticShape:
    return SyntheticShape(native=str(110_000_000_000_000_000 + index * 1000))
