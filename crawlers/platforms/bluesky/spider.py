"""Bluesky: author feeds and profiles from the public AppView; post search when logged in.

Targets: ``accounts`` (handles or DIDs) and ``searches`` (queries). Author feeds and
profiles are public (``app.bsky.feed.getAuthorFeed``, ``app.bsky.actor.getProfile``);
``app.bsky.feed.searchPosts`` needs an account, so searches run only when
``credentials.identifier`` and ``credentials.app_password`` are configured: the spider
opens a session (``com.atproto.server.createSession``) and sends its access token.
Follower counts come from profiles, fetched once per author per crawl
(``app.bsky.actor.getProfiles``, 25 at a time, for search results).
Cursors are the newest ``indexedAt`` seen per target.

``record.text`` is plain text (text kind ``plain``): links, mentions and tags are byte
ranges in ``facets``, never markup, so ``<module>`` or ``AT&amp;T`` in a post is what its
author typed. ``createdAt`` is set by the author's client and can be unreadable; the
server's ``indexedAt`` then stands in for it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

import scrapy
from scrapy.http import Response

from crawlers.normalise import parse_iso
from crawlers.base_spider import CrisisSpider, Walk, time_cursor
from crawlers.parse_report import FieldError, read_field
from crisiswatch.core.model import Author, Engagement, Post

PROFILE_BATCH = 25


class BlueskySpider(CrisisSpider):
    name = "bluesky"
    default_base_url = "https://public.api.bsky.app"
    text_kind = "plain"

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.pds_url = str(self.option("pds_url", self.source_config.base_url or "https://bsky.social")).rstrip("/")

    def walk_keys(self) -> list[str]:
        return [f"author:{a}" for a in self.targets("accounts")] + [f"search:{q}" for q in self.targets("searches")]

    def start_walks(self, cursors: dict[str, str]) -> Iterable[scrapy.Request]:
        for actor in self.targets("accounts"):
            walk = self.new_walk(f"author:{actor}", cursors)
            yield self.request(self.url("/xrpc/app.bsky.actor.getProfile", actor=actor), walk, self.parse_profile,
                               actor=actor, fallback=self.feed_without_profile)
        searches = self.targets("searches")
        if searches:
            identifier = self.secret("identifier", required=False)
            password = self.secret("app_password", required=False)
            if not identifier or not password:
                self.count_error("Bluesky search needs a login: set credentials.identifier and "
                                 "credentials.app_password; searches skipped")
                return
            login = self.new_walk("session", {})
            yield self.request(f"{self.pds_url}/xrpc/com.atproto.server.createSession", login, self.parse_session,
                               method="POST", headers={"Content-Type": "application/json"},
                               body=json.dumps({"identifier": identifier, "password": password}), cursors=cursors)

    # ---- author feeds -----------------------------------------------------------------
    def parse_profile(self, response: Response, walk: Walk, actor: str) -> Iterator[scrapy.Request]:
        profile = self.json_body(response)
        self.remember_profile(profile)
        yield from self.feed_without_profile(walk, actor)

    def feed_without_profile(self, walk: Walk, actor: str) -> Iterator[scrapy.Request]:
        yield self.feed_request(walk, actor, None)

    def feed_request(self, walk: Walk, actor: str, cursor: str | None) -> scrapy.Request:
        url = self.url("/xrpc/app.bsky.feed.getAuthorFeed", actor=actor, limit=self.option("limit", 50),
                       filter="posts_with_replies", cursor=cursor)
        return self.request(url, walk, self.parse_feed, actor=actor)

    def parse_feed(self, response: Response, walk: Walk, actor: str) -> Iterator[Any]:
        page = self.json_body(response)
        walk.pages += 1
        views = [item["post"] for item in page["feed"] if not item.get("reason")]  # reposts are others' posts
        posts, reached = self.accept_views(walk, views, response.url)
        yield from self.with_followers(walk, posts)
        if page.get("cursor") and page["feed"] and not reached and walk.pages < self.source_config.max_pages:
            yield self.feed_request(walk, actor, page["cursor"])

    # ---- search -------------------------------------------------------------------------
    def parse_session(self, response: Response, walk: Walk, cursors: dict[str, str]) -> Iterator[scrapy.Request]:
        session = self.json_body(response)
        token = session["accessJwt"]
        for query in self.targets("searches"):
            search = self.new_walk(f"search:{query}", cursors)
            yield self.search_request(search, query, token, None)

    def search_request(self, walk: Walk, query: str, token: str, cursor: str | None) -> scrapy.Request:
        url = self.url_at(self.pds_url, "/xrpc/app.bsky.feed.searchPosts", q=query, sort="latest",
                          limit=self.option("limit", 50), since=walk.since, cursor=cursor)
        return self.request(url, walk, self.parse_search, headers={"Authorization": f"Bearer {token}"},
                            query=query, token=token)

    def parse_search(self, response: Response, walk: Walk, query: str, token: str) -> Iterator[Any]:
        page = self.json_body(response)
        walk.pages += 1
        posts, reached = self.accept_views(walk, page["posts"], response.url)
        yield from self.with_followers(walk, posts)
        if page.get("cursor") and page["posts"] and not reached and walk.pages < self.source_config.max_pages:
            yield self.search_request(walk, query, token, page["cursor"])

    # ---- shared -------------------------------------------------------------------------
    def accept_views(self, walk: Walk, views: list[dict[str, Any]], where: str) -> tuple[list[Post], bool]:
        """Walks are ordered by indexing time, so that is the cursor, not the claimed creation time."""
        return self.accept_page(walk, views, self.view_to_post, where, cursor=lambda view, post: time_cursor(
            parse_iso(view.get("indexedAt") or view["record"]["createdAt"])))

    def remember_profile(self, profile: dict[str, Any]) -> None:
        count = profile.get("followersCount")
        for key in (profile.get("did"), profile.get("handle")):
            if key:
                self.followers[key] = count

    def with_followers(self, walk: Walk, posts: list[Post]) -> Iterator[Any]:
        """Yield posts whose authors' follower counts are known; look the others up first."""
        missing = sorted({p.author.id for p in posts if p.author.id and p.author.id not in self.followers})
        if not missing:
            yield from (self.fill(p) for p in posts)
            return
        for start in range(0, len(missing), PROFILE_BATCH):
            chunk = missing[start:start + PROFILE_BATCH]
            chunk_posts = [p for p in posts if p.author.id in chunk]
            yield self.request(self.url("/xrpc/app.bsky.actor.getProfiles", actors=chunk), walk, self.parse_profiles,
                               posts=chunk_posts, fallback=self.posts_without_followers)
        known = [p for p in posts if not p.author.id or p.author.id not in missing]
        yield from (self.fill(p) for p in known)

    def parse_profiles(self, response: Response, walk: Walk, posts: list[Post]) -> Iterator[Post]:
        for profile in self.json_body(response).get("profiles", []):
            self.remember_profile(profile)
        yield from (self.fill(p) for p in posts)

    def posts_without_followers(self, walk: Walk, posts: list[Post]) -> Iterator[Post]:
        yield from posts

    @staticmethod
    def created_at(view: dict[str, Any]) -> datetime:
        """The author's ``createdAt``; the server's ``indexedAt`` when the client wrote it unreadably."""
        claimed = view["record"].get("createdAt")
        try:
            return parse_iso(claimed)
        except (TypeError, ValueError, AttributeError):
            if view.get("indexedAt"):
                return read_field("indexedAt", view["indexedAt"], parse_iso)
            raise FieldError("record.createdAt", claimed, "no readable createdAt and no indexedAt") from None

    def view_to_post(self, view: dict[str, Any]) -> Post:
        record, author = view["record"], view["author"]
        uri: str = view["uri"]
        rkey = uri.rsplit("/", 1)[-1]
        reply = record.get("reply") or {}
        langs = record.get("langs") or []
        return self.make_post(
            uri, self.created_at(view), record.get("text") or "",
            url=f"https://bsky.app/profile/{author['handle']}/post/{rkey}", language=langs[0] if langs else None,
            author=Author(id=author["did"], handle=author["handle"], name=author.get("displayName") or None,
                          followers=self.followers.get(author["did"])),
            engagement=Engagement(likes=view.get("likeCount"), shares=(view.get("repostCount") or 0) + (
                view.get("quoteCount") or 0), replies=view.get("replyCount")),
            parent=(reply.get("parent") or {}).get("uri"), thread=(reply.get("root") or {}).get("uri"), raw=view)
