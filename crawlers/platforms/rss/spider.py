"""RSS 2.0 and Atom feeds: news sites, news search feeds, YouTube channel feeds.

Targets: ``feeds`` (absolute URLs, or paths under the source's base_url). Feeds have no
paging: each crawl reads the whole document and keeps the entries published at or after
the feed's cursor (its newest entry time). YouTube's Atom feeds carry views and ratings
in ``media:group/media:community``; they become engagement.
"""

from __future__ import annotations

import email.utils
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone

import scrapy
from lxml import etree
from scrapy.http import Response

from crawlers.normalise import parse_iso
from crawlers.base_spider import CrisisSpider, PageError, Walk, time_cursor
from crisiswatch.core.model import Author, Engagement, Post

NS = {
    "atom": "http://www.w3.org/2005/Atom",
    "yt": "http://www.youtube.com/xml/schemas/2015",
    "media": "http://search.yahoo.com/mrss/",
    "dc": "http://purl.org/dc/elements/1.1/",
    "content": "http://purl.org/rss/1.0/modules/content/",
}

def parse_feed_date(value: str | None) -> datetime:
    """RFC 822 (RSS) or ISO 8601 (Atom) to UTC."""
    if not value or not value.strip():
        raise ValueError("entry has no date")
    value = value.strip()
    try:
        return parse_iso(value)
    except ValueError:
        when = email.utils.parsedate_to_datetime(value)
        return when if when.tzinfo else when.replace(tzinfo=timezone.utc)

def _text(node: etree._Element, path: str) -> str | None:
    found = node.find(path, NS)
    if found is None:
        return None
    return "".join(found.itertext()).strip() or None

class RssSpider(CrisisSpider):
    name = "rss"
    default_base_url = ""

    def feed_urls(self) -> list[tuple[str, str]]:
        """(cursor key, URL) per feed."""
        return [(f"feed:{feed}", feed if "://" in feed else f"{self.base_url}/{feed.lstrip('/')}")
                for feed in self.targets("feeds")]

    def walk_keys(self) -> list[str]:
        return [key for key, _ in self.feed_urls()]

    def start_walks(self, cursors: dict[str, str]) -> Iterable[scrapy.Request]:
        for key, url in self.feed_urls():
            yield self.request(url, self.new_walk(key, cursors), self.parse_feed)

    def parse_feed(self, response: Response, walk: Walk) -> Iterator[Post]:
        root = self.parse_xml(response)
        if root.tag == f"{{{NS['atom']}}}feed":
            entries = [(e, self.atom_entry) for e in root.findall("atom:entry", NS)]
        elif root.tag == "rss" or root.find("channel") is not None:
            entries = [(e, self.rss_item) for e in root.findall("channel/item")]
        else:
            raise PageError(f"not an RSS or Atom document (root element <{etree.QName(root).localname}>)")
        for entry, convert in entries:
            post = self.post_or_none(lambda: convert(entry, response.url), response.url)
            if post is not None and self.accept(walk, post, time_cursor(post.created_at)):
                yield post

    def parse_xml(self, response: Response) -> etree._Element:
        """The feed's XML tree; invalid UTF-8 is counted and replaced, broken XML skips the feed."""
        parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
        body = response.body
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as exc:
            declared = body[:200].split(b"?>", 1)[0].lower()
            if b"encoding" not in declared or b"utf-8" in declared:
                self.count_error(f"{response.url}: invalid UTF-8 at byte {exc.start}; bad bytes replaced")
                body = body.decode("utf-8", errors="replace").encode("utf-8")
        try:
            root = etree.fromstring(body, parser=parser)
        except etree.XMLSyntaxError as exc:
            raise PageError(f"malformed XML: {exc}") from None
        if root is None:
            raise PageError("empty document")
        return root

    def rss_item(self, item: etree._Element, feed_url: str) -> Post:
        link = _text(item, "link")
        guid = _text(item, "guid") or link
        if not guid:
            raise ValueError("item has neither guid nor link")
        body = _text(item, "content:encoded") or _text(item, "description") or ""
        creator = _text(item, "dc:creator") or _text(item, "author")
        source = item.find("source")
        author = Author(name=creator or (source.text.strip() if source is not None and source.text else None))
        return self.make_post(guid, parse_feed_date(_text(item, "pubDate") or _text(item, "dc:date")), body,
                              title=_text(item, "title"), url=link, author=author,
                              raw={"xml": etree.tostring(item, encoding="unicode")})

    def atom_entry(self, entry: etree._Element, feed_url: str) -> Post:
        entry_id = _text(entry, "atom:id")
        link = next((l.get("href") for l in entry.findall("atom:link", NS) if l.get("rel", "alternate") == "alternate"),
                    None)
        if not entry_id and not link:
            raise ValueError("entry has neither id nor link")
        body = (_text(entry, "media:group/media:description") or _text(entry, "atom:content")
                or _text(entry, "atom:summary") or "")
        stats = entry.find("media:group/media:community/media:statistics", NS)
        rating = entry.find("media:group/media:community/media:starRating", NS)
        engagement = Engagement(views=int(stats.get("views")) if stats is not None and stats.get("views") else None,
                                likes=int(rating.get("count")) if rating is not None and rating.get("count") else None)
        author = Author(id=_text(entry, "yt:channelId"), name=_text(entry, "atom:author/atom:name"))
        published = _text(entry, "atom:published") or _text(entry, "atom:updated")
        return self.make_post(entry_id or link, parse_feed_date(published), body, title=_text(entry, "atom:title"),
                              url=link, author=author, engagement=engagement,
                              raw={"xml": etree.tostring(entry, encoding="unicode")})
