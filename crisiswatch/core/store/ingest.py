"""Import posts from JSON Lines files: crisiswatch's own exports or other tools' dumps.

Each line is one JSON object, in one of two forms:

* a crisiswatch ``Post`` (what ``crisiswatch export --format jsonl`` writes), optionally with
  an ``"enrichment"`` object, which is restored too, so an export moves between machines
  without re-running the models;
* a looser record as scrapers and platform APIs produce it (``full_text``, ``favorite_count``,
  ``user.followers_count``, epoch timestamps ...); see ``LOOSE_FIELDS``. Its original object is
  kept as the post's ``raw`` payload.

A bad line never stops an import: it is reported with its line number and skipped, and
every valid line is kept.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from crisiswatch.core.model import Author, Engagement, Enrichment, Post
from crisiswatch.core.store.base import ItemError, Store

DEFAULT_SOURCE = "import"
"""Source name for loose records that name none (override with ``--source``)."""

LOOSE_FIELDS: dict[str, tuple[str, ...]] = {
    "id": ("id", "id_str", "post_id", "mid", "tweet_id", "uuid"),
    "source": ("source", "platform", "site"),
    "text": ("text", "full_text", "content", "body", "message", "selftext"),
    "title": ("title", "subject"),
    "created_at": ("created_at", "timestamp", "date", "time", "published", "published_at", "created_utc"),
    "language": ("language", "lang"),
    "url": ("url", "link", "permalink"),
    "likes": ("likes", "like_count", "favorite_count", "favourites_count", "attitudes_count", "score", "upvotes"),
    "shares": ("shares", "share_count", "retweet_count", "reposts_count", "reblogs_count", "reposts"),
    "replies": ("replies", "reply_count", "comments_count", "num_comments", "comments"),
    "views": ("views", "view_count", "play_count", "impressions"),
    "followers": ("followers", "followers_count", "author_followers", "user_followers"),
    "author": ("author", "user", "account", "username", "screen_name"),
}
"""Keys accepted in a loose record for each post field, first present wins."""


@dataclass(frozen=True)
class LineError:
    """A line that was skipped (or only partly imported), and why."""

    line: int
    reason: str
    skipped: bool = True
    """False when the line's post was imported and only a part (its enrichment) was not."""


@dataclass
class ParsedLine:
    line: int
    post: Post
    enrichment: Enrichment | None = None


@dataclass
class IngestReport:
    """What ``read_jsonl`` found: the valid posts and every problem, by line number."""

    posts: list[Post] = field(default_factory=list)
    enrichments: list[Enrichment] = field(default_factory=list)
    errors: list[LineError] = field(default_factory=list)
    lines: int = 0
    """Non-blank lines read."""


@dataclass
class IngestSummary:
    """What ``ingest_jsonl`` did to the store."""

    lines: int = 0
    imported: int = 0
    """Posts written (a post id repeated in the file counts once per batch it appears in)."""
    enrichments: int = 0
    matched: int = 0
    """Posts without watchlists that the watchlist matcher assigned some."""
    errors: list[LineError] = field(default_factory=list)
    failed: list[ItemError] = field(default_factory=list)
    """Posts the store refused."""

    @property
    def skipped(self) -> int:
        """Lines not imported at all."""
        return sum(1 for e in self.errors if e.skipped)


# ---- parsing -------------------------------------------------------------------------------
def _first(obj: dict[str, Any], name: str) -> Any:
    for key in LOOSE_FIELDS[name]:
        if obj.get(key) not in (None, ""):
            return obj[key]
    return None


def parse_time(value: Any) -> datetime:
    """ISO 8601, RFC 2822, Twitter's ``Wed Oct 10 20:19:24 +0000 2018`` or epoch (s or ms)."""
    if isinstance(value, bool):
        raise ValueError(f"not a time: {value!r}")
    if isinstance(value, (int, float)) or (isinstance(value, str) and value.strip().replace(".", "", 1).isdigit()):
        seconds = float(value)
        if seconds > 1e11:  # milliseconds
            seconds /= 1000
        return datetime.fromtimestamp(seconds, tz=timezone.utc)
    if not isinstance(value, str):
        raise ValueError(f"not a time: {value!r}")
    text = value.strip()
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    try:
        return datetime.strptime(text, "%a %b %d %H:%M:%S %z %Y")
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        raise ValueError(f"cannot read the time {value!r} (use ISO 8601, e.g. 2026-03-01T08:00:00Z)") from None


def _count(value: Any) -> int | None:
    """A count from another tool's record; what cannot be read as one is unknown (None)
    rather than a reason to drop the post."""
    if isinstance(value, dict):  # {"count": 3}, as some APIs nest it
        value = value.get("count")
    if isinstance(value, list):  # the comments themselves
        return len(value)
    if value in (None, "") or isinstance(value, bool):
        return None
    try:
        return max(int(float(value)), 0)
    except (TypeError, ValueError, OverflowError):
        return None


def post_from_loose(obj: dict[str, Any], default_source: str | None = None) -> Post:
    """A Post from a record written by another tool (see ``LOOSE_FIELDS``)."""
    source = str(_first(obj, "source") or default_source or DEFAULT_SOURCE)
    native = _first(obj, "id")
    if native is None:
        raise ValueError("no post id (expected one of: " + ", ".join(LOOSE_FIELDS["id"]) + ")")
    native = str(native)
    post_id = native if native.startswith(f"{source}:") else f"{source}:{native}"
    created = _first(obj, "created_at")
    if created is None:
        raise ValueError("no creation time (expected one of: " + ", ".join(LOOSE_FIELDS["created_at"]) + ")")
    author_value = _first(obj, "author")
    author = Author()
    if isinstance(author_value, dict):
        author = Author(id=str(author_value.get("id") or author_value.get("id_str") or "") or None,
                        handle=author_value.get("handle") or author_value.get("screen_name")
                        or author_value.get("username") or author_value.get("acct"),
                        name=author_value.get("name") or author_value.get("display_name"),
                        followers=_count(author_value.get("followers") or author_value.get("followers_count")),
                        verified=bool(author_value.get("verified", False)))
    elif author_value is not None:
        author = Author(handle=str(author_value).lstrip("@"))
    if author.followers is None and _first(obj, "followers") is not None:
        author = author.model_copy(update={"followers": _count(_first(obj, "followers"))})
    watchlists = obj.get("watchlists") or []
    if isinstance(watchlists, str):
        watchlists = [w.strip() for w in watchlists.split(";") if w.strip()]
    title = _first(obj, "title")
    language = _first(obj, "language")
    url = _first(obj, "url")
    return Post(
        id=post_id, source=source, text=str(_first(obj, "text") or ""),
        title=str(title) if title is not None else None,
        language=str(language) if language is not None else None,
        url=str(url) if url is not None else None,
        created_at=parse_time(created),
        author=author,
        engagement=Engagement(likes=_count(_first(obj, "likes")), shares=_count(_first(obj, "shares")),
                              replies=_count(_first(obj, "replies")), views=_count(_first(obj, "views"))),
        watchlists=list(watchlists), raw=obj)


def _short(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:3]:
        where = ".".join(str(k) for k in error["loc"])
        parts.append(f"{where}: {error['msg']}" if where else error["msg"])
    more = exc.error_count() - 3
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


_STRICT_REQUIRED = {"id", "source", "created_at"}
"""A line with these keys and only Post fields is a crisiswatch post and is validated strictly."""


def parse_line(text: str, line: int, default_source: str | None = None) -> tuple[ParsedLine | None, list[LineError]]:
    """One JSONL line: the post it holds (None if unusable) and the problems found."""
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, [LineError(line, f"invalid JSON: {exc.msg} at column {exc.colno}")]
    if not isinstance(obj, dict):
        return None, [LineError(line, f"expected a JSON object, got {type(obj).__name__}")]
    enrichment_data = obj.pop("enrichment", None)
    strict = _STRICT_REQUIRED <= obj.keys() and obj.keys() <= Post.model_fields.keys()
    try:
        post = Post.model_validate(obj) if strict else post_from_loose(obj, default_source)
    except ValidationError as exc:
        return None, [LineError(line, f"not a post: {_short(exc)}")]
    except (ValueError, TypeError, OverflowError) as exc:
        return None, [LineError(line, f"not a post: {exc}")]
    parsed = ParsedLine(line=line, post=post)
    problems: list[LineError] = []
    if enrichment_data is not None:
        try:
            if isinstance(enrichment_data, dict):
                enrichment_data = {**enrichment_data, "post_id": post.id}
            parsed.enrichment = Enrichment.model_validate(enrichment_data)
        except ValidationError as exc:
            problems.append(LineError(line, f"enrichment ignored (post kept): {_short(exc)}", skipped=False))
    return parsed, problems


def iter_jsonl(path: str | Path, default_source: str | None = None,
               progress: Callable[[int], None] | None = None) -> Iterator[ParsedLine | LineError]:
    """Parsed lines and problems in file order; ``progress`` gets the bytes read so far."""
    done = 0
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            done += len(raw)
            if progress is not None:
                progress(done)
            if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield LineError(number, f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})")
                continue
            if not text.strip():
                continue
            parsed, problems = parse_line(text, number, default_source)
            yield from problems
            if parsed is not None:
                yield parsed


def read_jsonl(path: str | Path, default_source: str | None = None) -> IngestReport:
    """Every valid post of a JSONL file and every problem, by line number."""
    report = IngestReport()
    for item in iter_jsonl(path, default_source):
        if isinstance(item, LineError):
            report.errors.append(item)
            report.lines += item.skipped
            continue
        report.lines += 1
        report.posts.append(item.post)
        if item.enrichment is not None:
            report.enrichments.append(item.enrichment)
    return report


def _load_matcher(config: Any) -> Any:
    """The watchlist matcher for the configured watchlists, or None without any."""
    if config is None or not getattr(config, "watchlists", None):
        return None
    from crisiswatch.core.watchlist import WatchlistMatcher

    return WatchlistMatcher(config.watchlists)


def ingest_jsonl(store: Store, path: str | Path, *, config: Any = None, default_source: str | None = None,
                 batch_size: int = 20_000, progress: Callable[[int], None] | None = None) -> IngestSummary:
    """Stream a JSONL file into the store in batches.

    Posts that arrive without watchlists are matched against the configured watchlists
    (the same matcher the crawlers use); posts that name their watchlists keep them.
    """
    matcher = _load_matcher(config)
    summary = IngestSummary()
    posts: list[Post] = []
    enrichments: list[Enrichment] = []

    def flush() -> None:
        result = store.upsert_posts(posts)
        summary.imported += result.written
        summary.failed.extend(result.failed)
        if enrichments:
            written = store.update_enrichments(enrichments)
            summary.enrichments += written.written
        posts.clear()
        enrichments.clear()

    for item in iter_jsonl(path, default_source, progress):
        if isinstance(item, LineError):
            summary.errors.append(item)
            summary.lines += item.skipped
            continue
        summary.lines += 1
        post = item.post
        if matcher is not None and not post.watchlists:
            names = matcher.match(post.text, post.title)
            if names:
                post = post.model_copy(update={"watchlists": names})
                summary.matched += 1
        posts.append(post)
        if item.enrichment is not None:
            enrichments.append(item.enrichment)
        if len(posts) >= batch_size:
            flush()
    if posts:
        flush()
    return summary
