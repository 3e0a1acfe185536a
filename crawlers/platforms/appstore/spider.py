"""App Store customer reviews, per country and app, from Apple's reviews feed in JSON.

Targets: ``apps`` (numeric app ids); ``options.countries`` (default ``[us]``). The feed
``/{country}/rss/customerreviews/page={n}/id={app}/sortby=mostrecent/json`` gives up to 50
reviews a page and at most 10 pages, newest first; its ``link`` list names the next and
last pages. A feed with a single review gives ``entry`` as an object, not a list; an
empty page has no ``entry`` at all; older feeds list the app itself (``im:name``, no
rating) as the first entry. Every value is wrapped as ``{"label": ...}``.

What a review entry holds, and where it goes:

- ``id`` -> the post id; ``title`` -> title; ``content`` -> text (when ``content`` is a
  list, the ``type: text`` one, else the first);
- ``im:rating`` -> ``Post.rating`` (1-5 stars: rules filter on it, a one-star wave is a
  crisis signal); ``im:voteSum`` (helpful votes) -> likes; ``im:version`` (the app version
  reviewed) and ``im:voteCount`` stay in ``raw`` (``keep_raw: true``);
- ``author.name`` -> author name, ``author.uri`` (``.../reviews/id<number>``) -> author id;
- ``updated`` -> created_at. The JSON feed often leaves ``updated`` out (the XML feed has
  it). Such a review is dated when the feed was served: the response's ``Date`` header,
  else the time of parsing. Since the feed is newest first and crawled every few minutes,
  that is at most one crawl interval late, and it is never re-dated: the cursor is the
  review id (Apple's ids grow with time), so a review already seen is not yielded again.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any

import scrapy
from scrapy.http import Response

from crawlers.base_spider import CrisisSpider, Walk
from crawlers.normalise import parse_count, parse_iso
from crisiswatch.core.model import Author, Engagement, Post

APPLE_MAX_PAGES = 10
_AUTHOR_ID = re.compile(r"/id(\d+)")


def label(node: Any, default: Any = None) -> Any:
    return node.get("label", default) if isinstance(node, dict) else default


def content_text(node: Any) -> str:
    """``content`` is one ``{"label", "attributes": {"type"}}`` or a list of them (text and html)."""
    if isinstance(node, list):
        plain = [n for n in node if isinstance(n, dict) and (n.get("attributes") or {}).get("type") == "text"]
        node = (plain or node or [None])[0]
    return label(node, "") or ""


def star_rating(entry: dict[str, Any]) -> int | None:
    value = label(entry.get("im:rating"))
    if value is None:
        return None
    stars = int(str(value).strip())  # a rating that is not a number is a malformed review
    if not 1 <= stars <= 5:
        raise ValueError(f"im:rating {value!r} is not 1-5 stars")
    return stars


def served_at(response: Response) -> datetime:
    header = response.headers.get("Date")
    if header:
        try:
            return parsedate_to_datetime(header.decode("latin-1")).astimezone(timezone.utc)
        except (TypeError, ValueError, IndexError):
            pass
    return datetime.now(timezone.utc)


class AppStoreSpider(CrisisSpider):
    name = "appstore"
    default_base_url = "https://itunes.apple.com"
    text_kind = "plain"  # reviews and replies are plain text: "<3" and "<beta>" are what the user wrote

    def pairs(self) -> list[tuple[str, str]]:
        countries = self.option("countries", ["us"])
        return [(str(country).lower(), str(app).removeprefix("id")) for app in self.targets("apps") for country in countries]

    def walk_keys(self) -> list[str]:
        return [f"{country}:{app}" for country, app in self.pairs()]

    def start_walks(self, cursors: dict[str, str]) -> Iterable[scrapy.Request]:
        # Cursors were times before they were review ids: such a cursor is dropped (one re-read).
        cursors = {key: value for key, value in cursors.items() if value.isdigit()}
        for country, app in self.pairs():
            walk = self.new_walk(f"{country}:{app}", cursors, numeric=True)
            yield self.page(walk, country, app, 1)

    def page(self, walk: Walk, country: str, app: str, number: int) -> scrapy.Request:
        url = self.url(f"/{country}/rss/customerreviews/page={number}/id={app}/sortby=mostrecent/json")
        return self.request(url, walk, self.parse_reviews, country=country, app=app, number=number)

    def parse_reviews(self, response: Response, walk: Walk, country: str, app: str, number: int) -> Iterator[Any]:
        feed = self.json_body(response)["feed"]
        entries = feed.get("entry") or []
        if isinstance(entries, dict):
            entries = [entries]
        walk.pages += 1
        when = served_at(response)
        reviews = [e for e in entries if not ("im:name" in e and "im:rating" not in e)]  # not the app itself
        posts, reached = self.accept_page(walk, reviews, lambda entry: self.review_to_post(entry, country, app, when),
                                          response.url, cursor=lambda entry, post: post.id.rsplit(":", 1)[-1])
        yield from posts
        links = {link.get("attributes", {}).get("rel"): link.get("attributes", {}).get("href")
                 for link in (feed.get("link") or []) if isinstance(link, dict)}
        last = links.get("last") or ""
        last_page = int(last.split("page=")[1].split("/")[0]) if "page=" in last else APPLE_MAX_PAGES
        limit = min(APPLE_MAX_PAGES, last_page, self.source_config.max_pages)
        if entries and not reached and number < limit:
            yield self.page(walk, country, app, number + 1)

    def review_to_post(self, entry: dict[str, Any], country: str, app: str, served: datetime | None = None) -> Post:
        native = str(label(entry["id"]) or "").strip()
        if not native.isdigit():
            raise ValueError(f"review id {native!r} is not a number")
        updated = label(entry.get("updated"))
        author = entry.get("author") or {}
        uri = label(author.get("uri")) or ""
        found = _AUTHOR_ID.search(uri)
        link = entry.get("link")
        links = link if isinstance(link, list) else [link]
        href = next((l.get("attributes", {}).get("href") for l in links if isinstance(l, dict)), None)
        return self.make_post(
            native, parse_iso(updated) if updated else (served or datetime.now(timezone.utc)),
            content_text(entry.get("content")), title=label(entry.get("title"), "") or None,
            url=href or f"https://apps.apple.com/{country}/app/id{app}", language=None,
            author=Author(id=found.group(1) if found else None, name=label(author.get("name")) or None),
            engagement=Engagement(likes=parse_count(label(entry.get("im:voteSum")))),
            rating=star_rating(entry), thread=f"app:{app}", raw=entry)
