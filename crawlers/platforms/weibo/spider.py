"""Weibo through the mobile site's container API (``m.weibo.cn/api/container/getIndex``).

Targets: ``keywords`` (real-time search, ``containerid=100103type=61&q=...``) and
``users`` (numeric uids, ``containerid=107603<uid>``). The API wants cookies: configured
ones (``credentials.cookie``) are sent as they are; without them the spider first opens
the mobile home page as a visitor and keeps the cookies it is given. ``ok`` other than 1
(``-100``: log in) is an error that names the fix. Cards of type 9 carry a ``mblog``;
type 11 groups more cards. Follower counts arrive as numbers or as text like ``"1.2万"``.
A long post (``isLongText``) is cut at about 140 characters in lists; its full text is one
extra call, ``/statuses/extend?id=<mid>`` (``data.longTextContent``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

import scrapy
from scrapy.http import Response

from crawlers.normalise import parse_count, parse_iso
from crawlers.base_spider import CrisisSpider, Walk, time_cursor
from crisiswatch.core.model import Author, Engagement, Post

def parse_weibo_time(value: str) -> datetime:
    """``Wed Nov 20 10:15:30 +0800 2026`` (the API's form) or ISO."""
    try:
        return datetime.strptime(value.strip(), "%a %b %d %H:%M:%S %z %Y")
    except ValueError:
        return parse_iso(value)

def native_id(blog: dict[str, Any]) -> str:
    return str(blog.get("mid") or blog["id"])


def mblogs(cards: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for card in cards:
        if card.get("mblog"):
            yield card["mblog"]
        for inner in card.get("card_group") or []:
            if inner.get("mblog"):
                yield inner["mblog"]

class WeiboSpider(CrisisSpider):
    name = "weibo"
    default_base_url = "https://m.weibo.cn"

    def containers(self) -> list[tuple[str, str]]:
        search_type = self.option("search_type", 61)
        found = [(f"search:{k}", f"100103type={search_type}&q={k}") for k in self.targets("keywords")]
        found += [(f"user:{u}", f"107603{u}") for u in self.targets("users")]
        return found

    def walk_keys(self) -> list[str]:
        return [key for key, _ in self.containers()]

    def cookie_headers(self) -> dict[str, str]:
        cookie = self.secret("cookie", required=False)
        return {"Cookie": cookie} if cookie else {}

    def start_walks(self, cursors: dict[str, str]) -> Iterable[scrapy.Request]:
        visitor = self.new_walk("visitor", {})
        if self.cookie_headers():
            yield from self.begin(visitor, cursors)
        else:
            yield self.request(self.url("/"), visitor, self.parse_home, cursors=cursors, fallback=self.begin_anyway)

    def parse_home(self, response: Response, walk: Walk, cursors: dict[str, str]) -> Iterator[scrapy.Request]:
        yield from self.begin(walk, cursors)

    def begin_anyway(self, walk: Walk, cursors: dict[str, str]) -> Iterator[scrapy.Request]:
        yield from self.begin(walk, cursors)

    def begin(self, walk: Walk, cursors: dict[str, str]) -> Iterator[scrapy.Request]:
        for key, container in self.containers():
            yield self.index(self.new_walk(key, cursors), container, None)

    def index(self, walk: Walk, container: str, page: int | None, since_id: str | None = None) -> scrapy.Request:
        url = self.url("/api/container/getIndex", containerid=container, page_type="searchall" if
                       container.startswith("100103") else None, page=page, since_id=since_id)
        return self.request(url, walk, self.parse_index, headers=self.cookie_headers(), container=container,
                            page=page or 1)

    def parse_index(self, response: Response, walk: Walk, container: str, page: int) -> Iterator[Any]:
        answer = self.json_body(response)
        if answer.get("ok") != 1:
            if answer.get("ok") == -100:
                raise ValueError("Weibo asks for a login (ok=-100): set credentials.cookie to a logged-in cookie")
            if page > 1 or answer.get("msg") == "这里还没有内容":
                return  # past the last page: Weibo says so with ok=0
            raise ValueError(f"Weibo refused the request: ok={answer.get('ok')} {answer.get('msg', '')}")
        data = answer["data"]
        walk.pages += 1
        reached = False
        found = 0
        for blog in mblogs(data.get("cards") or []):
            found += 1
            post = self.post_or_none(lambda: self.mblog_to_post(blog), response.url)
            if post is None:
                continue
            if self.accept(walk, post, time_cursor(post.created_at)):
                if blog.get("isLongText"):
                    yield self.request(self.url("/statuses/extend", id=native_id(blog)), walk, self.parse_extend,
                                       headers=self.cookie_headers(), post=post, fallback=self.post_as_it_is)
                else:
                    yield post
            elif not blog.get("isTop"):
                reached = True  # a pinned post is old by design and says nothing about the rest
        info = data.get("cardlistInfo") or {}
        if not found or reached or walk.pages >= self.source_config.max_pages:
            return
        if info.get("since_id"):
            yield self.index(walk, container, None, since_id=str(info["since_id"]))
        elif info.get("page"):
            yield self.index(walk, container, int(info["page"]))

    def parse_extend(self, response: Response, walk: Walk, post: Post) -> Iterator[Post]:
        answer = self.json_body(response)
        full = (answer.get("data") or {}).get("longTextContent") if answer.get("ok") == 1 else None
        if not full:
            raise ValueError(f"no long text for {post.id}: ok={answer.get('ok')}")
        yield post.model_copy(update={"text": full})

    def post_as_it_is(self, walk: Walk, post: Post) -> Iterator[Post]:
        yield post  # the full text could not be fetched: keep the cut one rather than nothing

    def mblog_to_post(self, blog: dict[str, Any]) -> Post:
        user = blog.get("user") or {}
        native = native_id(blog)
        return self.make_post(
            native, parse_weibo_time(blog["created_at"]), blog["text"], url=f"https://m.weibo.cn/detail/{native}",
            language="zh",
            author=Author(id=str(user["id"]) if user.get("id") else None, handle=user.get("screen_name"),
                          name=user.get("screen_name"), followers=parse_count(user.get("followers_count")),
                          verified=bool(user.get("verified"))),
            engagement=Engagement(likes=parse_count(blog.get("attitudes_count")),
                                  shares=parse_count(blog.get("reposts_count")),
                                  replies=parse_count(blog.get("comments_count"))),
            parent=str((blog.get("retweeted_status") or {}).get("mid") or "") or None, raw=blog)
