"""Bluesky XRPC as the AppView and a PDS serve it: profiles, author feeds, login, post search."""

from __future__ import annotations

import hashlib
import json
import random
import secrets
from datetime import datetime
from typing import Any

from crisiswatch.core.model import Author, Post
from crisiswatch.core.replay import Catalog, Reply, SyntheticShape, native, page_after, stable_number, time_key

PLATFORM = "bluesky"


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def did_of(post: Post) -> str:
    if post.author.id and post.author.id.startswith("did:"):
        return post.author.id
    return f"did:plc:{stable_number(post.author.handle or post.author.id or 'anon', 12):024d}"


def handle_of(post: Post) -> str:
    return post.author.handle or f"user{stable_number(did_of(post), 6)}.bsky.social"


def uri_of(post: Post) -> str:
    value = native(post)
    return value if value.startswith("at://") else f"at://{did_of(post)}/app.bsky.feed.post/{value}"


def cid_of(text: str) -> str:
    return "bafyrei" + hashlib.sha256(text.encode()).hexdigest()[:52]


def profile(catalog: Catalog, post: Post) -> dict[str, Any]:
    return {"did": did_of(post), "handle": handle_of(post), "displayName": post.author.name or "",
            "description": "", "avatar": f"https://cdn.bsky.app/img/avatar/plain/{did_of(post)}/x@jpeg",
            "associated": {"lists": 0, "feedgens": 0, "starterPacks": 0, "labeler": False},
            "indexedAt": "2024-02-01T00:00:00.000Z", "createdAt": "2023-05-01T00:00:00.000Z",
            "labels": [], "followersCount": catalog.author_followers(PLATFORM, post) or 0,
            "followsCount": 0, "postsCount": 1}


def post_view(catalog: Catalog, post: Post) -> dict[str, Any]:
    record: dict[str, Any] = {"$type": "app.bsky.feed.post", "createdAt": _iso(post.created_at), "text": post.text}
    if post.language:
        record["langs"] = [post.language]
    by_native = catalog.by_native.get(PLATFORM, {})
    if post.parent_id:
        parent = by_native.get(post.parent_id.split(":", 1)[1])
        root = by_native.get(post.thread_id.split(":", 1)[1]) if post.thread_id else parent
        parent_uri = uri_of(parent) if parent else post.parent_id.split(":", 1)[1]
        root_uri = uri_of(root) if root else parent_uri
        record["reply"] = {"parent": {"uri": parent_uri, "cid": cid_of(parent_uri)},
                           "root": {"uri": root_uri, "cid": cid_of(root_uri)}}
    author = {k: v for k, v in profile(catalog, post).items()
              if k in ("did", "handle", "displayName", "avatar", "associated", "labels", "createdAt")}
    return {"uri": uri_of(post), "cid": cid_of(uri_of(post)), "author": author, "record": record,
            "replyCount": post.engagement.replies or 0, "repostCount": post.engagement.shares or 0,
            "likeCount": post.engagement.likes or 0, "quoteCount": 0, "indexedAt": _iso(post.created_at),
            "labels": []}


def _error(status: int, name: str, message: str) -> Reply:
    return Reply.json({"error": name, "message": message}, status=status)


def _actor_posts(catalog: Catalog, actor: str) -> list[Post]:
    return [p for p in catalog.posts.get(PLATFORM, []) if actor in (did_of(p), handle_of(p))]


def handle(catalog: Catalog, now: datetime, method: str, path: str, query: dict[str, list[str]],
           headers: dict[str, str], body: bytes, prefix: str) -> Reply:
    method_name = path.removeprefix("/xrpc/")
    one = lambda name, default=None: (query.get(name) or [default])[0]  # noqa: E731
    tokens: set[str] = catalog.options.setdefault("bluesky_tokens", set())
    if method_name == "com.atproto.server.createSession" and method == "POST":
        try:
            login = json.loads(body or b"{}")
        except json.JSONDecodeError:
            return _error(400, "InvalidRequest", "Input must be JSON")
        if not login.get("identifier") or not login.get("password"):
            return _error(401, "AuthenticationRequired", "Invalid identifier or password")
        token = "replay-" + secrets.token_hex(8)
        tokens.add(token)
        return Reply.json({"accessJwt": token, "refreshJwt": token + "-refresh", "handle": login["identifier"],
                           "did": f"did:plc:{stable_number(login['identifier'], 12):024d}", "active": True})
    if method_name == "app.bsky.actor.getProfile":
        posts = _actor_posts(catalog, one("actor", ""))
        if not posts:
            return _error(400, "InvalidRequest", "Profile not found")
        return Reply.json(profile(catalog, posts[-1]))
    if method_name == "app.bsky.actor.getProfiles":
        found = [_actor_posts(catalog, actor) for actor in query.get("actors", [])[:25]]
        return Reply.json({"profiles": [profile(catalog, posts[-1]) for posts in found if posts]})
    limit = min(int(one("limit", 50)), 100)
    if method_name == "app.bsky.feed.getAuthorFeed":
        actor = one("actor", "")
        posts = catalog.visible(PLATFORM, now, lambda p: actor in (did_of(p), handle_of(p)))
        if not posts and not _actor_posts(catalog, actor):
            return _error(400, "InvalidRequest", "Profile not found")
        page, following = page_after(posts, one("cursor"), limit, time_key)
        answer: dict[str, Any] = {"feed": [{"post": post_view(catalog, p)} for p in page]}
        if following:
            answer["cursor"] = following
        return Reply.json(answer)
    if method_name == "app.bsky.feed.searchPosts":
        auth = headers.get("authorization", "")
        if not auth.startswith("Bearer ") or auth.removeprefix("Bearer ") not in tokens:
            return _error(403, "Forbidden", "Search requires an authenticated session")
        query_text = one("q", "")
        since = one("since")
        posts = catalog.visible(PLATFORM, now, lambda p: catalog.mentions(p, query_text))
        if since:
            floor = datetime.fromisoformat(since.replace("Z", "+00:00"))
            posts = [p for p in posts if p.created_at.replace(microsecond=p.created_at.microsecond // 1000 * 1000)
                     >= floor]
        offset = int(one("cursor", "0") or 0)
        page = posts[offset: offset + limit]
        answer = {"posts": [post_view(catalog, p) for p in page], "hitsTotal": len(posts)}
        if offset + limit < len(posts):
            answer["cursor"] = str(offset + limit)
        return Reply.json(answer)
    return _error(501, "MethodNotImplemented", f"Method Not Implemented: {method_name}")


def source(catalog: Catalog, base_url: str) -> dict[str, Any]:
    handles = sorted({handle_of(p) for p in catalog.posts.get(PLATFORM, [])})
    return {"targets": {"accounts": handles}}


# ---- how scenarios write Bluesky posts -----------------------------------------------------
def native_id(counter: int, post: Post, rng: random.Random) -> str:
    micros = int(post.created_at.timestamp() * 1000) * 1000 + counter % 1000
    return f"at://{post.author.id}/app.bsky.feed.post/{record_key(micros, rng)}"


def record_key(micros: int, rng: random.Random) -> str:
    """A Bluesky record key (TID): microseconds << 10 | clock id, in 13 sortable base32 characters."""
    alphabet = "234567abcdefghijklmnopqrstuvwxyz"
    value = micros << 10 | rng.randrange(1024)
    out = ""
    for _ in range(13):
        value, rest = divmod(value, 32)
        out = alphabet[rest] + out
    return out


def default_url(native_id: str, author: Author) -> str:
    return f"https://bsky.app/profile/{author.handle or 'user'}/post/{native_id.rsplit('/', 1)[-1]}"


def synthetic(index: int) -> SyntheticShape:
    did = f"did:plc:zephyr{index % 7:018d}"
    return SyntheticShape(native=f"at://{did}/app.bsky.feed.post/3kz{index:010d}", author_id=did,
                          handle=f"user{index % 7}.bsky.social")
