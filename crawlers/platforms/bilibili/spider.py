"""Bilibili video comments through the reply API, newest first, the pinned reply included.

Targets: ``videos``: BV ids (``BV1xx411c7mD``) or numeric aids (``av170001``). The reply
API wants the aid, so a BV id is first resolved once with ``/x/web-interface/view``.

Two reply endpoints, both answered as ``{"code": 0, "data": {...}}`` (``code`` other than 0
is an error with Bilibili's message):

- ``/x/v2/reply/main?type=1&oid=<aid>&mode=2&next=<n>``, the one the site's own client uses
  and Bilibili maintains (preferred, ``options.reply_endpoint: main``): ``mode=2`` is newest
  first; pages follow ``data.cursor.next`` until ``data.cursor.is_end``; there is no
  ``data.page``. When it is refused (``code`` -403/-352: it wants a signed request) the walk
  carries on with the older endpoint.
- ``/x/v2/reply?type=1&oid=<aid>&sort=0&pn=<n>&ps=<size>`` (``reply_endpoint: page``):
  pages ``pn=1,2,...`` of ``ps`` replies, ``data.page.count`` says how many there are.

The pinned reply, often the brand's own statement, is not in ``replies``: it is
``data.upper.top`` (old endpoint), ``data.top.upper`` / ``data.top_replies`` (main). It is
collected from the first page like any reply when it is new, and being old by design, it
never ends the walk. The reply API gives no follower counts, so each new commenter's count
is asked once per crawl from ``/x/relation/stat?vmid=<mid>`` (``options.follower_lookup:
false`` turns that off). Replies nested under a reply (``replies``) are collected too. The
cursor is the newest ``ctime``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any

import scrapy
from scrapy.http import Response

from crawlers.normalise import from_timestamp, parse_count
from crawlers.base_spider import CrisisSpider, Walk, time_cursor
from crisiswatch.core.model import Author, Engagement, Post

log = logging.getLogger(__name__)
MAIN = "/x/v2/reply/main"
PAGED = "/x/v2/reply"
REFUSED_UNSIGNED = {-403, -352}
"""``code`` of ``/x/v2/reply/main`` when it wants a signed (wbi) request: use the paged endpoint."""


def pinned_replies(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The pinned replies of a first page, wherever this endpoint puts them, each once."""
    top = data.get("top") if isinstance(data.get("top"), dict) else {}
    candidates = [(data.get("upper") or {}).get("top"), top.get("upper"), top.get("admin"),
                  *(data.get("top_replies") or [])]
    found: dict[Any, dict[str, Any]] = {}
    for reply in candidates:
        if isinstance(reply, dict) and reply.get("rpid") is not None:
            found.setdefault(reply["rpid"], reply)
    return list(found.values())


class BilibiliSpider(CrisisSpider):
    name = "bilibili"
    default_base_url = "https://api.bilibili.com"
    text_kind = "plain"  # reviews and replies are plain text: "<3" and "<beta>" are what the user wrote

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.waiting: dict[tuple[str, str], list[Post]] = {}

    def videos(self) -> list[str]:
        return [str(v).strip() for v in self.targets("videos")]

    def walk_keys(self) -> list[str]:
        return [f"video:{v}" for v in self.videos()]

    def start_walks(self, cursors: dict[str, str]) -> Iterable[scrapy.Request]:
        for video in self.videos():
            walk = self.new_walk(f"video:{video}", cursors)
            digits = video.lower().removeprefix("av")
            if digits.isdigit():
                yield self.page(walk, video, digits, self.first_page())
            else:
                yield self.request(self.url("/x/web-interface/view", bvid=video), walk, self.parse_view, video=video)

    def parse_view(self, response: Response, walk: Walk, video: str) -> Iterator[scrapy.Request]:
        answer = self.json_body(response)
        if answer.get("code") != 0:
            raise ValueError(f"video {video} not found: code={answer.get('code')} {answer.get('message', '')}")
        yield self.page(walk, video, str(answer["data"]["aid"]), self.first_page())

    def first_page(self) -> int:
        return 0 if self.option("reply_endpoint", "main") == "main" else 1

    def page(self, walk: Walk, video: str, aid: str, number: int, endpoint: str | None = None) -> scrapy.Request:
        """Page ``number`` of the video's replies: the cursor of ``/main`` (0 = newest), or ``pn``."""
        endpoint = endpoint or self.option("reply_endpoint", "main")
        if endpoint == "main":
            url = self.url(MAIN, type=1, oid=aid, mode=2, next=number)
        else:
            url = self.url(PAGED, type=1, oid=aid, sort=0, pn=number or 1, ps=self.option("page_size", 20))
        return self.request(url, walk, self.parse_replies, video=video, aid=aid, number=number)

    def parse_replies(self, response: Response, walk: Walk, video: str, aid: str, number: int) -> Iterator[Any]:
        answer = self.json_body(response)
        main = MAIN in response.url
        if answer.get("code") != 0:
            if main and number == 0 and answer.get("code") in REFUSED_UNSIGNED:
                log.warning("%s: %s refused (code=%s %s); reading the paged endpoint instead", self.source,
                            MAIN, answer.get("code"), answer.get("message", ""))
                yield self.page(walk, video, aid, 1, endpoint="page")
                return
            raise ValueError(f"Bilibili refused the request: code={answer.get('code')} {answer.get('message', '')}")
        data = answer.get("data") or {}
        walk.pages += 1
        replies = data.get("replies") or []
        first = number == 0 if main else number <= 1
        pinned = pinned_replies(data) if first else []
        accepted: list[Post] = []
        reached = False
        for reply, listed in [(r, False) for r in pinned] + [(r, True) for r in replies]:
            for item, top in [(reply, listed)] + [(sub, False) for sub in reply.get("replies") or []]:
                post = self.post_or_none(lambda: self.reply_to_post(item, video), response.url)
                if post is None:
                    continue
                if self.accept(walk, post, time_cursor(post.created_at)):
                    accepted.append(post)
                elif top:
                    reached = True  # a listed reply older than the cursor: the rest is known
        yield from self.with_followers(walk, accepted)
        if not replies or reached or walk.pages >= self.source_config.max_pages:
            return
        if main:
            cursor = data.get("cursor") or {}
            following = cursor.get("next")
            if not cursor.get("is_end") and isinstance(following, int) and following > 0 and following != number:
                yield self.page(walk, video, aid, following, endpoint="main")
            return
        page = data.get("page") or {}
        total = int(page.get("count") or 0)
        size = int(page.get("size") or len(replies) or 1)
        if number * size < total:
            yield self.page(walk, video, aid, number + 1, endpoint="page")

    def with_followers(self, walk: Walk, posts: list[Post]) -> Iterator[Any]:
        """Yield posts with their authors' follower counts, asking ``relation/stat`` once per author.

        A post whose author's count is already being asked for (by this walk) joins that
        request's list, so it still gets the count; the walk's cursor waits for it either way.
        """
        if not self.option("follower_lookup", True):
            yield from posts
            return
        for post in posts:
            mid = post.author.id
            if not mid or mid in self.followers:
                yield self.fill(post)
            elif (walk.key, mid) in self.waiting:
                self.waiting[(walk.key, mid)].append(post)
            else:
                group = self.waiting[(walk.key, mid)] = [post]
                yield self.request(self.url("/x/relation/stat", vmid=mid), walk, self.parse_stat, mid=mid,
                                   posts=group, fallback=self.posts_as_they_are)

    def parse_stat(self, response: Response, walk: Walk, mid: str, posts: list[Post]) -> Iterator[Post]:
        self.waiting.pop((walk.key, mid), None)
        answer = self.json_body(response)
        if answer.get("code") == 0:
            self.followers[mid] = parse_count((answer.get("data") or {}).get("follower"))
        yield from (self.fill(p) for p in posts)

    def posts_as_they_are(self, walk: Walk, mid: str, posts: list[Post]) -> Iterator[Post]:
        self.waiting.pop((walk.key, mid), None)
        yield from posts

    def reply_to_post(self, reply: dict[str, Any], video: str) -> Post:
        member = reply.get("member") or {}
        parent = reply.get("parent") or 0
        mid = str(member.get("mid") or reply.get("mid") or "") or None
        return self.make_post(
            reply["rpid"], from_timestamp(reply["ctime"]), reply["content"]["message"],
            url=f"https://www.bilibili.com/video/{video}/?comment_root_id={reply.get('root') or reply['rpid']}",
            language="zh",
            author=Author(id=mid, handle=member.get("uname"), name=member.get("uname"), followers=self.followers.get(mid or "")),
            engagement=Engagement(likes=parse_count(reply.get("like")), replies=parse_count(reply.get("rcount"))),
            parent=str(parent) if parent else None, thread=video, raw=reply)
