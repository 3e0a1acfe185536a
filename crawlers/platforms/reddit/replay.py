"""Reddit's OAuth API: the client-credentials token exchange and Listing pages of t3/t1 things."""

from __future__ import annotations

import html
import random
import re
import secrets
import string
from datetime import datetime
from typing import Any

from crisiswatch.core.model import Engagement, Post
from crisiswatch.core.replay import Catalog, Reply, SyntheticShape, native

PLATFORM = "reddit"
_LISTING = re.compile(r"^(?:/r/(?P<sub>[^/]+))?/(?P<kind>new|comments|search)(?:\.json)?/?$")


def fullname(post: Post) -> str:
    value = native(post)
    if value.startswith(("t1_", "t3_")):
        return value
    return ("t1_" if post.parent_id else "t3_") + value


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", title.lower()).strip("_")[:50] or "post"


def render_thing(catalog: Catalog, post: Post, sub: str) -> dict[str, Any]:
    name = fullname(post)
    short = name[3:]
    author = post.author.handle or "[deleted]"
    common = {"subreddit": sub, "subreddit_id": "t5_2qh0u", "subreddit_name_prefixed": f"r/{sub}",
              "subreddit_type": "public", "id": short, "name": name, "author": author,
              "author_fullname": f"t2_{post.author.id}" if post.author.id else None,
              "created": post.created_at.timestamp(), "created_utc": post.created_at.timestamp(),
              "score": post.engagement.likes or 0, "ups": post.engagement.likes or 0, "downs": 0,
              "gilded": 0, "archived": False, "locked": False, "stickied": False, "edited": False,
              "distinguished": None, "total_awards_received": 0, "approved_at_utc": None}
    if name.startswith("t1_"):
        link = post.thread_id.split(":", 1)[1] if post.thread_id else post.parent_id.split(":", 1)[1]
        link_post = catalog.by_native.get(PLATFORM, {}).get(link)
        link_title = link_post.title if link_post and link_post.title else "thread"
        link_id = link if link.startswith("t3_") else f"t3_{link}"
        parent = post.parent_id.split(":", 1)[1] if post.parent_id else link_id
        return {"kind": "t1", "data": {
            **common, "body": post.text, "body_html": f'<div class="md"><p>{html.escape(post.text)}</p></div>',
            "link_id": link_id, "parent_id": parent if parent.startswith(("t1_", "t3_")) else f"t1_{parent}",
            "link_title": link_title, "link_author": "[deleted]",
            "permalink": f"/r/{sub}/comments/{link_id[3:]}/{_slug(link_title)}/{short}/",
            "link_permalink": f"https://www.reddit.com/r/{sub}/comments/{link_id[3:]}/{_slug(link_title)}/",
            "replies": "", "controversiality": 0, "is_submitter": False, "score_hidden": False}}
    permalink = f"/r/{sub}/comments/{short}/{_slug(post.title or 'post')}/"
    return {"kind": "t3", "data": {
        **common, "title": post.title or "", "selftext": post.text,
        "selftext_html": f'<!-- SC_OFF --><div class="md"><p>{html.escape(post.text)}</p></div><!-- SC_ON -->'
        if post.text else None, "num_comments": post.engagement.replies or 0, "permalink": permalink,
        "url": post.url or f"https://www.reddit.com{permalink}", "is_self": not post.url,
        "domain": f"self.{sub}", "over_18": False, "spoiler": False, "link_flair_text": None,
        "subreddit_subscribers": 250000, "upvote_ratio": 0.97, "thumbnail": "self", "num_crossposts": 0}}


def handle(catalog: Catalog, now: datetime, method: str, path: str, query: dict[str, list[str]],
           headers: dict[str, str], body: bytes, prefix: str) -> Reply:
    tokens: set[str] = catalog.options.setdefault("reddit_tokens", set())
    if path == "/api/v1/access_token":
        if method != "POST" or not headers.get("authorization", "").startswith("Basic ") or \
                b"grant_type=client_credentials" not in body:
            return Reply.json({"message": "Unauthorized", "error": 401}, status=401)
        token = "replay-" + secrets.token_hex(12)
        tokens.add(token)
        return Reply.json({"access_token": token, "token_type": "bearer", "expires_in": 86400, "scope": "*"})
    match = _LISTING.match(path)
    if not match:
        return Reply.json({"message": "Not Found", "error": 404}, status=404)
    auth = headers.get("authorization", "")
    if not auth.lower().startswith("bearer ") or auth[7:] not in tokens:
        return Reply.json({"message": "Unauthorized", "error": 401}, status=401)
    one = lambda name, default=None: (query.get(name) or [default])[0]  # noqa: E731
    sub = match.group("sub") or "all"
    kind = match.group("kind")
    if kind == "comments":
        posts = catalog.visible(PLATFORM, now, lambda p: fullname(p).startswith("t1_"))
    elif kind == "new":
        posts = catalog.visible(PLATFORM, now, lambda p: fullname(p).startswith("t3_"))
    else:
        text = one("q", "")
        posts = catalog.visible(PLATFORM, now, lambda p: fullname(p).startswith("t3_") and catalog.mentions(p, text))
    limit = max(1, min(int(one("limit", 25)), 100))
    after = one("after")
    if after:
        names = [fullname(p) for p in posts]
        posts = posts[names.index(after) + 1:] if after in names else []
    page = posts[:limit]
    following = fullname(page[-1]) if page and len(posts) > limit else None
    return Reply.json({"kind": "Listing", "data": {
        "after": following, "dist": len(page), "modhash": None, "geo_filter": "",
        "children": [render_thing(catalog, p, sub) for p in page], "before": None}})


CREDENTIAL_ENV = {"client_id": "CRISISWATCH_REPLAY_REDDIT_CLIENT_ID",
                  "client_secret": "CRISISWATCH_REPLAY_REDDIT_CLIENT_SECRET"}
"""The replay's own (fake) Reddit app, named by the sources ``source`` writes."""
ENVIRONMENT = {name: "replay" for name in CREDENTIAL_ENV.values()}
"""The replayed Reddit wants an app's client credentials like the real one; the replay server
gives crawls started from its process (demo, tests, Airflow in-process) these fake ones."""


def source(catalog: Catalog, base_url: str) -> dict[str, Any]:
    return {"targets": {"subreddits": ["all"]},
            "credentials": {key: f"${{{name}}}" for key, name in CREDENTIAL_ENV.items()}}


# ---- how scenarios write Reddit things -----------------------------------------------------
def native_id(counter: int, post: Post, rng: random.Random) -> str:
    """A fullname: ``t3_`` for a submission, ``t1_`` for a comment."""
    return ("t1_" if post.parent_id else "t3_") + base36(46_000_000 + counter * 7)


def base36(number: int) -> str:
    digits = string.digits + string.ascii_lowercase
    out = ""
    while number:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
    return out or "0"


def engagement(likes: int, shares: int, replies: int, reach: float) -> Engagement:
    """Score (at least the submitter's upvote) and comments; no shares."""
    return Engagement(likes=max(1, likes), replies=replies)


def synthetic(index: int) -> SyntheticShape:
    return SyntheticShape(native=f"t3_z{index:05d}", titled=True)
