"""Reddit through its OAuth API (anonymous ``.json`` pages are blocked for crawlers).

Targets: ``subreddits`` (new posts, and new comments unless ``options.comments: false``)
and ``searches`` (site-wide, newest first). The spider first exchanges the app's client
credentials (``credentials.client_id`` / ``client_secret``, from the environment) for a
bearer token (``grant_type=client_credentials``), then walks ``Listing`` pages of
``t3`` (posts) and ``t1`` (comments) with the ``after`` cursor until it reaches the
newest ``created_utc`` saved from the previous crawl. Reddit shows no follower counts;
score and comment counts are the engagement.

Texts: ``selftext`` and ``body`` are Markdown source (text kind ``markdown``): anything
tag-like in them (a traceback's ``<module>``, a quoted ``<div class="titlebox">``) is the
author's text and is kept; titles are plain. Without ``raw_json=1`` Reddit escapes ``&``,
``<`` and ``>`` in every string of its JSON for legacy reasons (``&amp;lt;`` then means
the author typed ``&lt;``); the spider asks for ``raw_json=1`` and, when an answer is
escaped anyway (its ``*_html`` fields start with ``&lt;``, or the request lacked the
parameter), undoes that one level of escaping before anything else.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import quote

import scrapy
from scrapy.http import Response

from crawlers.normalise import from_timestamp
from crawlers.base_spider import CrisisSpider, Walk
from crawlers.parse_report import FieldError, read_field
from crisiswatch.core.model import Author, Engagement, Post


REMOVED = ("[removed]", "[deleted]")


def _legacy_escaped(data: dict[str, Any], requested_raw: bool) -> bool:
    """Whether this thing's strings carry Reddit's legacy ``&amp;``/``&lt;``/``&gt;`` escaping."""
    for key in ("selftext_html", "body_html"):
        value = data.get(key)
        if isinstance(value, str) and value:
            return value.lstrip().startswith("&lt;")
    return not requested_raw


class RedditSpider(CrisisSpider):
    name = "reddit"
    default_base_url = "https://oauth.reddit.com"
    text_kind = "markdown"
    title_kind = "plain"

    def listings(self) -> list[tuple[str, str, dict[str, Any]]]:
        """(cursor key, path, extra query) per listing to walk."""
        found = []
        for sub in self.targets("subreddits"):
            sub = sub.removeprefix("r/").removeprefix("/r/")
            found.append((f"r/{sub}/new", f"/r/{quote(sub)}/new", {}))
            if self.option("comments", True):
                found.append((f"r/{sub}/comments", f"/r/{quote(sub)}/comments", {}))
        for query in self.targets("searches"):
            found.append((f"search:{query}", "/search", {"q": query, "sort": "new", "type": "link"}))
        return found

    def walk_keys(self) -> list[str]:
        return [key for key, _, _ in self.listings()]

    def start_walks(self, cursors: dict[str, str]) -> Iterable[scrapy.Request]:
        client_id, secret = self.secret("client_id"), self.secret("client_secret")
        token_url = self.option("token_url", None) or (
            f"{self.base_url}/api/v1/access_token" if self.source_config.base_url
            else "https://www.reddit.com/api/v1/access_token")
        basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
        login = self.new_walk("token", {})
        yield self.request(token_url, login, self.parse_token, method="POST", body="grant_type=client_credentials",
                           headers={"Authorization": f"Basic {basic}",
                                    "Content-Type": "application/x-www-form-urlencoded"}, cursors=cursors)

    def parse_token(self, response: Response, walk: Walk, cursors: dict[str, str]) -> Iterator[scrapy.Request]:
        grant = self.json_body(response)
        if "access_token" not in grant:
            raise ValueError(f"token exchange refused: {grant.get('error', 'no access_token in the answer')}")
        token = grant["access_token"]
        for key, path, query in self.listings():
            yield self.listing(self.new_walk(key, cursors), path, query, token, None)

    def listing(self, walk: Walk, path: str, query: dict[str, Any], token: str, after: str | None) -> scrapy.Request:
        url = self.url(path, **query, limit=self.option("limit", 100), after=after, raw_json=1)
        return self.request(url, walk, self.parse_listing, headers={"Authorization": f"bearer {token}"},
                            path=path, query=query, token=token)

    def parse_listing(self, response: Response, walk: Walk, path: str, query: dict[str, Any],
                      token: str) -> Iterator[Any]:
        listing = self.json_body(response)
        if listing.get("kind") != "Listing":
            raise ValueError(f"expected a Listing, got {listing.get('kind')!r}")
        data = listing["data"]
        walk.pages += 1
        requested_raw = "raw_json=1" in response.url
        things = [t for t in data["children"] if not isinstance(t, dict) or t.get("kind") != "more"]  # not posts
        posts, reached = self.accept_page(walk, things, lambda thing: self.thing_to_post(thing, requested_raw),
                                          response.url)
        yield from posts
        if data.get("after") and data["children"] and not reached and walk.pages < self.source_config.max_pages:
            yield self.listing(walk, path, query, token, data["after"])

    def thing_to_post(self, thing: dict[str, Any], requested_raw: bool = True) -> Post:
        kind, data = thing["kind"], thing["data"]
        if kind not in ("t1", "t3"):
            raise FieldError("kind", kind, f"unexpected thing kind {kind!r}")
        comment = kind == "t1"
        author = data.get("author")
        unescape = html.unescape if _legacy_escaped(data, requested_raw) else (lambda text: text)
        text = data.get("body" if comment else "selftext") or ""
        if text in REMOVED:  # the placeholder of a removed or deleted text is not the author's words
            text = ""
        return self.make_post(
            data["name"], read_field("created_utc", data["created_utc"], from_timestamp), unescape(text),
            title=None if comment else unescape(data["title"]), url=f"https://www.reddit.com{data['permalink']}",
            author=Author(id=data.get("author_fullname"), handle=author if author != "[deleted]" else None),
            engagement=Engagement(likes=max(int(data.get("score") or 0), 0),
                                  replies=None if comment else data.get("num_comments")),
            parent=data.get("parent_id") if comment else None, thread=data.get("link_id") if comment else None,
            raw=data)
