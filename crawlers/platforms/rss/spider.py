"""Feeds: RSS 0.9x, 1.0 (RDF) and 2.0, Atom, JSON Feed 1.0/1.1; news search and YouTube channel feeds.

Targets: ``feeds`` (absolute URLs, or paths under the source's base_url). Feeds have no
paging: each crawl reads the whole document and keeps the entries published at or after
the feed's cursor (its newest entry time). YouTube's Atom feeds carry views and ratings
in ``media:group/media:community``; they become engagement.

XML feeds are read with ``feedparser``: one well-kept parser for every RSS version, RDF
and Atom, with their date forms, ``xml:lang`` inheritance, content types and HTML
sanitising. It reads a whole document, which is what a feed response is (feeds are not
paged), so it costs the spider nothing. A feed that is not well-formed but complete (an
unescaped ``&``, an undeclared entity) is read leniently, as feed readers do, and counted;
one that breaks off before its end is skipped whole, like any truncated page. JSON Feeds
are read by their specification (``jsonfeed``).

Each entry's text is turned into plain text here, by the kind its feed declares
(``text/html``, ``text/plain``, ``content_html``/``content_text``), so the spider's text kind
is ``plain``. The language is the entry's (``xml:lang``, JSON Feed item ``language``), else
the feed's (``<language>``, ``dc:language``, ``xml:lang``, JSON Feed ``language``), else the
response's ``Content-Language``.
"""

from __future__ import annotations

import email.utils
import re
import xml.sax
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from typing import Any

import feedparser
import scrapy
from scrapy.http import Response

from crawlers.base_spider import CrisisSpider, PageError, Walk, time_cursor
from crawlers.normalise import clean_text, parse_iso
from crawlers.parse_report import FieldError, read_field
from crawlers.platforms.rss import jsonfeed
from crisiswatch.core.model import Author, Engagement, Post

_HTML_TYPES = ("text/html", "application/xhtml+xml", "html", "xhtml")
_DOCUMENT_END = re.compile(rb"</\s*(?:[\w.-]+:)?(?:rss|feed|RDF|channel)\s*>\s*$", re.IGNORECASE)


def parse_feed_date(value: str | None) -> datetime:
    """RFC 822 (RSS) or ISO 8601/RFC 3339 (Atom, JSON Feed) to UTC, keeping fractions of a second."""
    if not value or not str(value).strip():
        raise ValueError("entry has no date")
    value = str(value).strip()
    try:
        return parse_iso(value)
    except ValueError:
        when = email.utils.parsedate_to_datetime(value)  # raises ValueError when it is neither
        return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _struct_to_utc(parsed: Any) -> datetime:
    return datetime(*parsed[:6], tzinfo=timezone.utc)


def _text_of(detail: Any, fallback: str | None) -> str:
    """A feedparser text construct as plain text, by its declared type."""
    if detail is None:
        return fallback or ""
    value = detail.get("value") or ""
    kind = (detail.get("type") or "text/html").lower()
    return clean_text(value, "html") if kind in _HTML_TYPES else value


def _language(value: Any) -> str | None:
    text = str(value or "").strip()
    return text or None


class RssSpider(CrisisSpider):
    name = "rss"
    default_base_url = ""
    text_kind = "plain"
    """Entries are converted by their own declared type in this spider (see the module docstring)."""
    title_kind = "plain"

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
        body = self.checked_body(response)
        if jsonfeed.looks_like_json(body):
            entries = self.json_entries(response, body)
        else:
            entries = self.xml_entries(response, body)
        walk.pages += 1
        for item, convert in entries:
            post = self.post_or_none(lambda: convert(item), response.url, item)
            if post is not None and self.accept(walk, post, time_cursor(post.created_at)):
                yield post

    def checked_body(self, response: Response) -> bytes:
        """The body, with invalid UTF-8 replaced (and counted) when the feed is, or claims to be, UTF-8."""
        body = response.body
        if not body.strip():
            raise PageError("empty body")
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as exc:
            declared = body[:200].split(b"?>", 1)[0].lower()
            if b"encoding" not in declared or b"utf-8" in declared:
                self.count_error(f"{response.url}: invalid UTF-8 at byte {exc.start}; bad bytes replaced")
                body = body.decode("utf-8", errors="replace").encode("utf-8")
        return body

    # ---- XML feeds (feedparser) --------------------------------------------------------
    def xml_entries(self, response: Response, body: bytes) -> list[tuple[Any, Any]]:
        headers = {"content-location": response.url}
        for name in ("Content-Type", "Content-Language"):
            value = response.headers.get(name)
            if value:
                headers[name.lower()] = value.decode("latin-1")
        parsed = feedparser.parse(body, response_headers=headers, sanitize_html=True, resolve_relative_uris=True)
        if not parsed.get("version"):
            problem = parsed.get("bozo_exception")
            root = re.search(rb"<\s*([\w:.-]+)", body.lstrip()[:2048].split(b"?>")[-1])
            what = f"root element <{root.group(1).decode('ascii', 'replace')}>" if root else "no XML element"
            raise PageError(f"not an RSS, RDF, Atom or JSON feed ({what}"
                            + (f"; {type(problem).__name__}: {problem}" if problem else "") + ")")
        if parsed.get("bozo") and isinstance(parsed.get("bozo_exception"), xml.sax.SAXException):
            problem = parsed["bozo_exception"]
            if not _DOCUMENT_END.search(body[-512:]):
                raise PageError(f"malformed XML, cut off before the end of the feed ({problem})")
            self.count_error(f"{response.url}: not well-formed XML ({problem}); read leniently")
        feed = parsed.get("feed", {})
        language = _language(feed.get("language")) or _language(response.headers.get("Content-Language", b"").decode())
        return [(entry, lambda e, lang=language: self.xml_entry(e, lang, response.url)) for entry in parsed.entries]

    def xml_entry(self, entry: Any, feed_language: str | None, feed_url: str) -> Post:
        link = next((l.get("href") for l in entry.get("links", []) if l.get("rel", "alternate") == "alternate"
                     and l.get("href")), None)
        entry_id = entry.get("id") or entry.get("yt_videoid") and f"yt:video:{entry['yt_videoid']}"
        if not link and entry.get("guidislink") and str(entry_id or "").startswith(("http://", "https://")):
            link = entry_id
        if not entry_id and not link:
            raise KeyError("id")  # neither guid/id nor link
        contents = entry.get("content") or []
        content = next((c for c in contents if (c.get("type") or "").lower() in _HTML_TYPES), None) or (
            contents[0] if contents else None)
        detail = content or entry.get("summary_detail")
        text = _text_of(detail, entry.get("summary"))
        title = _text_of(entry.get("title_detail"), entry.get("title")) or None
        language = next((_language(d.get("language")) for d in (detail, entry.get("title_detail"))
                         if d is not None and d.get("language")), None) or feed_language
        stats, rating = entry.get("media_statistics") or {}, entry.get("media_starrating") or {}
        engagement = Engagement(views=int(stats["views"]) if stats.get("views") else None,
                                likes=int(rating["count"]) if rating.get("count") else None)
        source = entry.get("source") or {}
        author = Author(id=entry.get("yt_channelid") or None,
                        name=(entry.get("author_detail") or {}).get("name") or entry.get("author")
                        or source.get("title") or None)
        return self.make_post(entry_id or link, self.entry_date(entry), text, title=title, url=link,
                              language=language, author=author, engagement=engagement,
                              raw={k: v for k, v in entry.items() if not k.endswith("_parsed")})

    @staticmethod
    def entry_date(entry: Any) -> datetime:
        """Published, else updated (RSS ``dc:date``, Atom ``updated``); feedparser's reading when
        the text is in a form of its own (it knows many more than RFC 822 and ISO 8601)."""
        for name in ("published", "updated", "created"):
            value = entry.get(name)
            if not value:
                continue
            try:
                return parse_feed_date(value)
            except (ValueError, TypeError, OverflowError):
                parsed = entry.get(f"{name}_parsed")
                if parsed:
                    return _struct_to_utc(parsed)
                return read_field(name, value, parse_feed_date)
        raise FieldError("published", None, "entry has no date (no pubDate, dc:date, published or updated)")

    # ---- JSON Feed -----------------------------------------------------------------------
    def json_entries(self, response: Response, body: bytes) -> list[tuple[Any, Any]]:
        text = body.decode("utf-8", errors="replace").lstrip("\ufeff")
        try:
            feed = jsonfeed.parse_document(text)
        except jsonfeed.NotJsonFeed as exc:
            raise PageError(f"not an RSS, RDF, Atom or JSON feed: {exc}") from None
        except ValueError as exc:
            raise PageError(f"malformed JSON ({exc}); {len(body)} bytes") from None
        return [(item, lambda i, f=feed: self.json_item(i, f)) for item in feed["items"]]

    def json_item(self, item: dict[str, Any], feed: dict[str, Any]) -> Post:
        found = jsonfeed.entry(item, feed)
        text = clean_text(found.text, "html") if found.text_is_html else found.text
        return self.make_post(found.native_id, read_field(found.date_field, found.date, parse_feed_date), text,
                              title=found.title, url=found.url, language=found.language,
                              author=Author(name=found.author), raw=item)
