"""Weibo through the mobile site's container API (``m.weibo.cn/api/container/getIndex``).

Targets: ``keywords`` (real-time search, ``containerid=100103type=61&q=...``) and
``users`` (numeric uids, ``containerid=107603<uid>``). The API wants cookies: configured
ones (``credentials.cookie``) are sent as they are; without them the spider first becomes a
visitor the way Weibo's web client does (``passport``), and a failed handshake is one clear
error in the crawl's health. ``ok`` other than 1 (``-100``: log in) is an error that names
the fix. Cards of type 9 carry a ``mblog``; type 11 groups more cards. ``created_at`` comes
in the API form or as the app displays it (``5分钟前``, ``昨天 10:32``, ``06-14``): ``dates``
reads every form relative to the response's time in China. Follower counts arrive as
numbers or as text like ``"1.2万"``. A long post (``isLongText``) is cut at about 140
characters in lists; its full text is one extra call, ``/statuses/extend?id=<mid>``
(``data.longTextContent``). A page none of whose posts could be read ends the walk: paging
on would only repeat the failure page after page.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

import scrapy
from scrapy.http import Response

from crawlers.base_spider import CrisisSpider, Walk, time_cursor
from crawlers.normalise import parse_count
from crawlers.platforms.weibo import passport
from crawlers.platforms.weibo.dates import parse_weibo_time, response_time
from crisiswatch.core.model import Author, Engagement, Post

__all__ = ["WeiboSpider", "parse_weibo_time"]

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
    visitor_cookie: str | None = None
    """``SUB=...; SUBP=...`` from the visitor passport, when no cookie is configured."""

    def containers(self) -> list[tuple[str, str]]:
        search_type = self.option("search_type", 61)
        found = [(f"search:{k}", f"100103type={search_type}&q={k}") for k in self.targets("keywords")]
        found += [(f"user:{u}", f"107603{u}") for u in self.targets("users")]
        return found

    def walk_keys(self) -> list[str]:
        return [key for key, _ in self.containers()]

    def cookie_headers(self) -> dict[str, str]:
        cookie = self.secret("cookie", required=False) or getattr(self, "visitor_cookie", None)
        return {"Cookie": cookie} if cookie else {}

    def passport_url(self) -> str:
        """Where the visitor passport lives: ``options.passport_url``; by default Weibo's own,
        or the configured base URL when it is not Weibo's (a mirror or replay serves both)."""
        if self.option("passport_url", None):
            return str(self.option("passport_url", None)).rstrip("/")
        return passport.PASSPORT_URL if self.base_url == self.default_base_url else self.base_url

    def start_walks(self, cursors: dict[str, str]) -> Iterable[scrapy.Request]:
        if self.secret("cookie", required=False):
            yield from self.begin(None, cursors)
            return
        visitor = self.new_walk("visitor", {})
        request = self.request(passport.genvisitor_url(self.passport_url()), visitor, self.parse_genvisitor,
                               method="POST", headers=passport.FORM_HEADERS, body=passport.genvisitor_body(),
                               cursors=cursors, fallback=self.passport_unreachable)
        request.meta["handle_httpstatus_all"] = True  # a refusal is reported with its status, not retried
        yield request

    def parse_genvisitor(self, response: Response, walk: Walk, cursors: dict[str, str]) -> Iterator[scrapy.Request]:
        try:
            ticket = passport.read_genvisitor(response.status, self.text_body(response))
        except passport.PassportError as exc:
            yield from self.passport_failed(walk, cursors, f"genvisitor: {exc}")
            return
        request = self.request(passport.incarnate_url(self.passport_url(), ticket), walk, self.parse_incarnate,
                               headers={"Cookie": f"tid={ticket.cookie_value}"}, cursors=cursors,
                               fallback=self.passport_unreachable)
        request.meta["handle_httpstatus_all"] = True
        self.with_cookie(request)
        yield request

    def parse_incarnate(self, response: Response, walk: Walk, cursors: dict[str, str]) -> Iterator[scrapy.Request]:
        try:
            self.visitor_cookie = passport.read_incarnate(response.status, self.text_body(response))
        except passport.PassportError as exc:
            yield from self.passport_failed(walk, cursors, f"incarnate: {exc}")
            return
        yield from self.begin(walk, cursors)

    def passport_unreachable(self, walk: Walk, cursors: dict[str, str]) -> Iterator[scrapy.Request]:
        yield from self.passport_failed(walk, cursors, "the passport server could not be reached")

    def passport_failed(self, walk: Walk, cursors: dict[str, str], reason: str) -> Iterator[scrapy.Request]:
        """One clear error, then the API is tried without a visitor cookie (it may still answer)."""
        self.count_error(f"Weibo visitor passport failed ({reason}); without its SUB/SUBP cookies the API "
                         f"usually refuses (ok=-100): set credentials.cookie to a logged-in cookie")
        yield from self.begin(walk, cursors)

    def begin(self, walk: Walk | None, cursors: dict[str, str]) -> Iterator[scrapy.Request]:
        for key, container in self.containers():
            yield self.index(self.new_walk(key, cursors), container, None)

    def index(self, walk: Walk, container: str, page: int | None, since_id: str | None = None) -> scrapy.Request:
        url = self.url("/api/container/getIndex", containerid=container, page_type="searchall" if
                       container.startswith("100103") else None, page=page, since_id=since_id)
        return self.with_cookie(self.request(url, walk, self.parse_index, headers=self.cookie_headers(),
                                             container=container, page=page or 1))

    @staticmethod
    def with_cookie(request: scrapy.Request) -> scrapy.Request:
        """Send the ``Cookie`` header as set: Scrapy's cookie middleware would replace it with
        its own jar's (empty for m.weibo.cn, since the passport sets its cookies elsewhere)."""
        if request.headers.get("Cookie"):
            request.meta["dont_merge_cookies"] = True
        return request

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
        now = response_time(response.headers.get("Date"))
        reached = False
        found = read = 0
        for blog in mblogs(data.get("cards") or []):
            found += 1
            post = self.post_or_none(lambda: self.mblog_to_post(blog, now), f"{response.url} (mid {blog.get('mid')})")
            if post is None:
                continue
            read += 1
            if self.accept(walk, post, time_cursor(post.created_at)):
                if blog.get("isLongText"):
                    yield self.with_cookie(self.request(
                        self.url("/statuses/extend", id=native_id(blog)), walk, self.parse_extend,
                        headers=self.cookie_headers(), post=post, fallback=self.post_as_it_is))
                else:
                    yield post
            elif not blog.get("isTop"):
                reached = True  # a pinned post is old by design and says nothing about the rest
        info = data.get("cardlistInfo") or {}
        if found and not read:
            self.count_error(f"{response.url}: none of the page's {found} posts could be read; "
                             f"stopped paging {walk.key} (older pages would fail the same way)")
            walk.failed = True  # keep the cursor: once the format is handled these posts are fetched again
            return
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

    def mblog_to_post(self, blog: dict[str, Any], now: datetime | None = None) -> Post:
        user = blog.get("user") or {}
        native = native_id(blog)
        return self.make_post(
            native, parse_weibo_time(blog.get("created_at"), now), blog["text"], url=f"https://m.weibo.cn/detail/{native}",
            language="zh",
            author=Author(id=str(user["id"]) if user.get("id") else None, handle=user.get("screen_name"),
                          name=user.get("screen_name"), followers=parse_count(user.get("followers_count")),
                          verified=bool(user.get("verified"))),
            engagement=Engagement(likes=parse_count(blog.get("attitudes_count")),
                                  shares=parse_count(blog.get("reposts_count")),
                                  replies=parse_count(blog.get("comments_count"))),
            parent=str((blog.get("retweeted_status") or {}).get("mid") or "") or None, raw=blog)
