"""JSON Feed 1.0 and 1.1 (https://jsonfeed.org/version/1.1), read by its specification.

feedparser reads only XML feeds, and a JSON Feed is small and fully specified, so it is
read here: ``version`` names the spec, ``items[]`` carry ``id`` (a string; numbers are
coerced, as the spec asks), ``url``/``external_url``, ``title``, ``content_html`` and/or
``content_text``, ``summary``, ``date_published``/``date_modified`` (RFC 3339),
``authors`` (1.1; ``author`` in 1.0) and ``language`` (1.1, also on the feed).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

VERSION_PREFIX = "https://jsonfeed.org/version/"


class NotJsonFeed(ValueError):
    """A JSON document that is not a JSON Feed (an API error object, a different format)."""


@dataclass
class JsonFeedEntry:
    """One item as the spider needs it: its text and which kind that text is."""

    item: dict[str, Any]
    native_id: str
    url: str | None
    title: str | None
    text: str
    text_is_html: bool
    date: str | None
    date_field: str
    author: str | None
    author_url: str | None
    language: str | None


def looks_like_json(body: bytes) -> bool:
    return body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"{", b"[")


def parse_document(text: str) -> dict[str, Any]:
    """The feed object; raises ``ValueError`` for broken JSON and ``NotJsonFeed`` for other JSON."""
    document = json.loads(text)
    if not isinstance(document, dict):
        raise NotJsonFeed(f"a JSON {type(document).__name__}, not a JSON Feed object")
    version = document.get("version")
    if not (isinstance(version, str) and version.startswith(VERSION_PREFIX)):
        raise NotJsonFeed(f"JSON without a JSON Feed version (version={str(version)[:60]!r}, "
                          f"keys {', '.join(sorted(document)[:8])})")
    if not isinstance(document.get("items"), list):
        raise NotJsonFeed("JSON Feed without an items list")
    return document


def _authors(holder: dict[str, Any]) -> list[dict[str, Any]]:
    found = holder.get("authors")
    if isinstance(found, list):
        return [a for a in found if isinstance(a, dict)]
    single = holder.get("author")  # JSON Feed 1.0
    return [single] if isinstance(single, dict) else []


def entry(item: dict[str, Any], feed: dict[str, Any]) -> JsonFeedEntry:
    """One item, falling back to the feed's authors and language as the spec says."""
    if not isinstance(item, dict):
        raise TypeError(f"item is a {type(item).__name__}, not an object")
    raw_id = item.get("id")
    if raw_id is None or isinstance(raw_id, (dict, list, bool)) or not str(raw_id).strip():
        raw_id = item.get("url")
    if raw_id is None or not str(raw_id).strip():
        raise KeyError("id")
    html, plain = item.get("content_html"), item.get("content_text")
    if isinstance(html, str) and html.strip():
        text, is_html = html, True
    elif isinstance(plain, str):
        text, is_html = plain, False
    else:
        text, is_html = str(item.get("summary") or ""), False
    authors = _authors(item) or _authors(feed)
    first = authors[0] if authors else {}
    date_field = "date_modified" if item.get("date_modified") and not item.get("date_published") else "date_published"
    language = item.get("language") or feed.get("language")
    return JsonFeedEntry(
        item=item, native_id=str(raw_id).strip(), url=item.get("url") or item.get("external_url"),
        title=item.get("title") if isinstance(item.get("title"), str) else None, text=text, text_is_html=is_html,
        date=item.get(date_field), date_field=date_field, author=first.get("name") or None,
        author_url=first.get("url") or None, language=language if isinstance(language, str) else None)
