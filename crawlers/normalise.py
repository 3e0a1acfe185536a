"""Turning platform text, counts, times and links into the plain forms posts are stored in."""

from __future__ import annotations

import html
import re
from datetime import datetime, timezone
from typing import Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import lxml.html
from w3lib.url import safe_url_string

_LOOKS_LIKE_HTML = re.compile(r"</?[a-zA-Z][\w:-]*(?:\s[^<>]*)?/?>|&#?\w+;")
_BLOCK_TAGS = {"p", "div", "li", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "pre"}
_HSPACE = re.compile(r"[^\S\n]+")
_MANY_NEWLINES = re.compile(r"\n{3,}")
_TRACKING = re.compile(r"^(utm_\w+|fbclid|gclid|mc_cid|mc_eid|igshid|spm|ref_src)$", re.IGNORECASE)
_COUNT = re.compile(r"^\s*([\d.,]+)\s*([kKmMbB万萬亿億千w]?)\s*\+?\s*$")
_MULTIPLIER = {"": 1, "k": 1_000, "m": 1_000_000, "b": 1_000_000_000, "千": 1_000, "万": 10_000, "萬": 10_000,
               "w": 10_000, "亿": 100_000_000, "億": 100_000_000}


TextKind = Literal["html", "markdown", "plain"]
"""What a platform field holds, decided per platform and field (never guessed from the text):

- ``html``: markup (Mastodon ``content``, Telegram message HTML, Hacker News comments, Weibo):
  tags removed, entities decoded, paragraphs and ``<br>`` become line breaks.
- ``markdown``: Markdown source (Reddit ``selftext``/``body``): angle-bracket text is the
  author's (a traceback's ``<module>``, a quoted ``<div class="titlebox">``) and stays;
  entities are decoded, because Markdown renders ``&amp;`` as ``&``.
- ``plain``: literal text (Bluesky ``text``, titles): kept as it is, only whitespace tidied.
"""
TEXT_KINDS: tuple[str, ...] = ("html", "markdown", "plain")


def clean_text(text: str | None, kind: TextKind) -> str:
    """The stored plain form of a field whose kind the caller knows; see ``TextKind``."""
    if not text:
        return ""
    if kind == "html":
        return html_to_text(text)
    if kind == "markdown":
        return normalise_whitespace(html.unescape(text))
    if kind == "plain":
        return normalise_whitespace(text)
    raise ValueError(f"unknown text kind {kind!r} (one of {', '.join(TEXT_KINDS)})")


def looks_like_html(text: str) -> bool:
    """A guess, kept for diagnostics (the probe); normalisation never uses it."""
    return bool(_LOOKS_LIKE_HTML.search(text))


def html_to_text(html: str) -> str:
    """Visible text of an HTML fragment; <br> and block ends become line breaks."""
    if not html or not html.strip():
        return ""
    try:
        root = lxml.html.fragment_fromstring(html, create_parent="div")
    except (lxml.etree.ParserError, ValueError):
        return normalise_whitespace(html)
    for bad in root.xpath(".//script|.//style"):
        bad.drop_tree()
    for br in root.iter("br"):
        br.tail = "\n" + (br.tail or "")
    for element in root.iter(*_BLOCK_TAGS):  # a paragraph starts and ends a line
        element.text = "\n" + (element.text or "")
        element.tail = "\n" + (element.tail or "")
    return normalise_whitespace(root.text_content())


def normalise_whitespace(text: str) -> str:
    """One space between words, at most one blank line, no padding, no control characters."""
    text = "".join(ch for ch in text if ch in "\n\t" or ch >= " ").replace("\r\n", "\n").replace("\r", "\n")
    lines = [_HSPACE.sub(" ", line).strip() for line in text.split("\n")]
    return _MANY_NEWLINES.sub("\n\n", "\n".join(lines)).strip()


def canonical_url(url: str | None) -> str | None:
    """Sorted query, no fragment, no tracking parameters; None stays None."""
    if not url:
        return None
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return url
    query = sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING.match(k))
    cleaned = urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", urlencode(query), ""))
    return safe_url_string(cleaned)  # percent-encodes what must be, as browsers do


def parse_count(value: object) -> int | None:
    """``1234``, ``"1,234"``, ``"12.3K"``, ``"1.2万"``, ``"3亿"`` -> int; None when it is not a count."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return int(value) if value >= 0 else None
    match = _COUNT.match(str(value).replace(" ", "").replace("\u00a0", ""))
    if not match:
        return None
    number, unit = match.groups()
    try:
        amount = float(number.replace(",", ""))
    except ValueError:
        return None
    return int(round(amount * _MULTIPLIER[unit.lower() if unit.isascii() else unit]))


def from_timestamp(seconds: float | int | str) -> datetime:
    return datetime.fromtimestamp(float(seconds), tz=timezone.utc)


def parse_iso(value: str) -> datetime:
    """ISO 8601 with ``Z`` or an offset (Python 3.11 reads both); naive means UTC."""
    when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def format_cursor_time(when: datetime) -> str:
    """A fixed-width UTC form, so cursors compare correctly as strings."""
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
