"""Import posts from JSON Lines files: crisiswatch's own exports or other tools' dumps.

Each line is one JSON object, in one of two forms:

* a crisiswatch ``Post`` (what ``crisiswatch export --format jsonl`` writes), optionally with
  an ``"enrichment"`` object, which is restored too, so an export moves between machines
  without re-running the models;
* a looser record as scrapers and platform APIs produce it (``full_text``, ``favorite_count``,
  ``user.followers_count``, epoch timestamps ...); see ``LOOSE_FIELDS``. Its original object is
  kept as the post's ``raw`` payload.

A bad line never stops an import: it is reported with its line number, the reason and how
to fix it, and every valid line is kept, even when the store refuses one post of a batch
(the batch is split until the refused post is isolated). Odd but usable lines are kept and
reported as warnings: a post dated a little in the future (``FUTURE_WARNING``, usually local
time written without its UTC offset), a text longer than ``MAX_TEXT_CHARS`` (truncated with a
visible marker), a lone UTF-16 surrogate (replaced by U+FFFD), an id repeated in the file (the
later line wins). Unusable dates are rejected: before ``EARLIEST`` (a missing time written as
0 or year 1) or more than ``FUTURE_LIMIT`` ahead (2099 is no time zone mistake).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from crisiswatch.core.model import Author, Engagement, Enrichment, Post, utc_now
from crisiswatch.core.store.base import ItemError, Store, StoreError

MAX_TEXT_CHARS = 100_000
"""Longer texts and titles are cut here (with TRUNCATION_MARKER): a 10 MB "post" is a dump or
an attack, and would slow every search and term count that reads it."""
TRUNCATION_MARKER = " […truncated by crisiswatch: {removed} more characters]"
CLOCK_SKEW = timedelta(minutes=10)
"""Posts dated up to this far ahead of the importing machine's clock are normal."""
FUTURE_LIMIT = timedelta(hours=48)
"""Posts dated further ahead are rejected: no time-zone mistake is that large."""
EARLIEST = datetime(1990, 1, 1, tzinfo=timezone.utc)
"""Posts dated earlier are rejected: epoch 0 and year 1 are missing times, not old posts."""
REFUSED_IN_A_ROW_IS_AN_OUTAGE = 32
"""This many single posts refused one after another, none stored, means the store itself is
failing (down, full, read-only), not the posts: the import stops with the store's error."""

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
    """False for a warning: the line's post was imported (perhaps changed, as the reason says)."""
    kind: str = "invalid"
    """invalid, enrichment, future, truncated, repaired, duplicate or refused (by the store)."""


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

    def _count(self, kind: str) -> int:
        return sum(1 for e in self.errors if e.kind == kind)

    @property
    def future(self) -> int:
        """Posts stored although dated a little in the future."""
        return self._count("future")

    @property
    def truncated(self) -> int:
        """Posts stored with their text or title cut to MAX_TEXT_CHARS."""
        return self._count("truncated")

    @property
    def duplicates(self) -> int:
        """Lines whose post id an earlier line of the file had (the later line is kept)."""
        return self._count("duplicate")

    @property
    def repaired(self) -> int:
        """Posts stored with invalid characters replaced."""
        return self._count("repaired")

    @property
    def refused(self) -> int:
        """Posts the store refused."""
        return self._count("refused")


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
        try:
            return datetime.fromtimestamp(seconds, tz=timezone.utc)
        except (OverflowError, OSError, ValueError):
            raise ValueError(f"created_at {value!r} is out of range for an epoch time (use seconds or "
                             "milliseconds since 1970, or ISO 8601 like 2026-03-01T08:00:00Z)") from None
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
        raise ValueError(f"cannot read the time {value!r} (created_at: use ISO 8601, e.g. 2026-03-01T08:00:00Z)") from None


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
        raise ValueError('no post id: add "id": "<native id>" (with "source" or --source; also read from: '
                         + ", ".join(LOOSE_FIELDS["id"][1:]) + ")")
    native = str(native)
    post_id = native if native.startswith(f"{source}:") else f"{source}:{native}"
    created = _first(obj, "created_at")
    if created is None:
        raise ValueError('no creation time: add "created_at": "2026-03-01T08:00:00Z" (ISO 8601 or epoch '
                         "seconds; also read from: " + ", ".join(LOOSE_FIELDS["created_at"][1:]) + ")")
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


def _has_lone_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(v) for v in value)
    return False


def _repair(value: Any) -> Any:
    """Lone UTF-16 surrogates (valid JSON escapes, invalid text) replaced by U+FFFD: no store
    can write them, and they are one broken character, not a reason to lose the post."""
    if isinstance(value, str):
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, dict):
        return {_repair(k): _repair(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_repair(v) for v in value]
    return value


def _clip(value: Any) -> Any:
    """Every string of a raw payload cut to MAX_TEXT_CHARS (the payload is stored too)."""
    if isinstance(value, str):
        return _truncated(value)[0]
    if isinstance(value, dict):
        return {k: _clip(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clip(v) for v in value]
    return value


def _truncated(text: str) -> tuple[str, int]:
    if len(text) <= MAX_TEXT_CHARS:
        return text, 0
    removed = len(text) - MAX_TEXT_CHARS
    return text[:MAX_TEXT_CHARS] + TRUNCATION_MARKER.format(removed=removed), removed


def _normalised(obj: dict[str, Any]) -> dict[str, Any]:
    """A crisiswatch-shaped record read as leniently as a loose one: a native id (``"1"``,
    ``1``) with its ``source`` becomes ``<source>:1``, and ``created_at`` is read by
    ``parse_time`` (RFC 2822, Twitter's format, epoch ms), so adding or removing an unrelated
    key never changes whether a line imports."""
    native, source = obj.get("id"), obj.get("source")
    if isinstance(native, int) and not isinstance(native, bool):
        native = str(native)
    if isinstance(native, str) and isinstance(source, str) and source and ":" not in native and native:
        obj = {**obj, "id": f"{source}:{native}"}
    created = obj.get("created_at")
    if isinstance(created, (str, int, float)) and not isinstance(created, bool):
        obj = {**obj, "created_at": parse_time(created)}
    return obj


def _checked(post: Post, line: int, now: datetime) -> tuple[Post | None, list[LineError]]:
    """Reject unusable dates, flag near-future ones, cut huge texts."""
    created = post.created_at
    if created < EARLIEST:
        return None, [LineError(line, f"created_at {created:%Y-%m-%dT%H:%M:%SZ} is before {EARLIEST:%Y}: "
                                      "a missing time written as 0 or year 1? Give the real time, or drop the line")]
    ahead = created - now
    if ahead > FUTURE_LIMIT:
        return None, [LineError(line, f"created_at {created:%Y-%m-%dT%H:%M:%SZ} is {ahead.days} days in the "
                                      "future: fix the time (seconds vs milliseconds?), or drop the line")]
    problems: list[LineError] = []
    if ahead > CLOCK_SKEW:
        hours = ahead.total_seconds() / 3600
        problems.append(LineError(line, f"created_at {created:%Y-%m-%dT%H:%M:%SZ} is {hours:.1f} hours in the "
                                        "future (stored): is it local time without its UTC offset? Write it "
                                        "like 2026-03-01T16:00:00+08:00", skipped=False, kind="future"))
    text, removed_text = _truncated(post.text)
    title, removed_title = _truncated(post.title) if post.title is not None else (None, 0)
    if removed_text or removed_title:
        problems.append(LineError(line, f"text of {len(post.text) + len(post.title or '')} characters cut to "
                                        f"{MAX_TEXT_CHARS} (stored, marked as truncated)", skipped=False,
                                  kind="truncated"))
        post = post.model_copy(update={"text": text, "title": title,
                                       "raw": _clip(post.raw) if post.raw is not None else None})
    return post, problems


def parse_line(text: str, line: int, default_source: str | None = None,
               now: datetime | None = None) -> tuple[ParsedLine | None, list[LineError]]:
    """One JSONL line: the post it holds (None if unusable) and the problems found.
    Never raises: whatever goes wrong becomes a problem of this line."""
    try:
        return _parse_line(text, line, default_source, now or utc_now())
    except Exception as exc:  # noqa: BLE001 - one line must never stop an import
        return None, [LineError(line, f"cannot read this line ({type(exc).__name__}: {exc})")]


def _parse_line(text: str, line: int, default_source: str | None, now: datetime
                ) -> tuple[ParsedLine | None, list[LineError]]:
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, [LineError(line, f"invalid JSON: {exc.msg} at column {exc.colno} (write one JSON object "
                                      "per line, with double-quoted keys and strings)")]
    except RecursionError:
        return None, [LineError(line, "invalid JSON: nested too deeply to read")]
    if not isinstance(obj, dict):
        return None, [LineError(line, f"expected a JSON object {{...}} per line, got a {type(obj).__name__}")]
    problems: list[LineError] = []
    if "\\u" in text and _has_lone_surrogate(obj):
        obj = _repair(obj)
        problems.append(LineError(line, "invalid character (a lone UTF-16 surrogate such as \\ud800) replaced "
                                        "by U+FFFD; the post was kept", skipped=False, kind="repaired"))
    enrichment_data = obj.pop("enrichment", None)
    strict = _STRICT_REQUIRED <= obj.keys() and obj.keys() <= Post.model_fields.keys()
    try:
        post = Post.model_validate(_normalised(obj)) if strict else post_from_loose(obj, default_source)
    except ValidationError as exc:
        return None, [LineError(line, f"not a post: {_short(exc)}")]
    except (ValueError, TypeError, OverflowError) as exc:
        return None, [LineError(line, f"not a post: {exc}")]
    checked, found = _checked(post, line, now)
    problems.extend(found)
    if checked is None:
        return None, found
    parsed = ParsedLine(line=line, post=checked)
    if enrichment_data is not None:
        try:
            if isinstance(enrichment_data, dict):
                enrichment_data = {**enrichment_data, "post_id": checked.id}
            parsed.enrichment = Enrichment.model_validate(enrichment_data)
        except ValidationError as exc:
            problems.append(LineError(line, f"enrichment ignored (post kept): {_short(exc)}", skipped=False,
                                      kind="enrichment"))
    return parsed, problems


def iter_jsonl(path: str | Path, default_source: str | None = None,
               progress: Callable[[int], None] | None = None,
               now: datetime | None = None) -> Iterator[ParsedLine | LineError]:
    """Parsed lines and problems in file order; ``progress`` gets the bytes read so far.
    ``now`` (default: the clock) is what "in the future" is measured from."""
    now = now or utc_now()
    first_line: dict[str, int] = {}
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
                yield LineError(number, f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at column {exc.start + 1}): "
                                        "re-encode the file as UTF-8, e.g. iconv -f GB18030 -t UTF-8")
                continue
            if not text.strip():
                continue
            parsed, problems = parse_line(text, number, default_source, now)
            yield from problems
            if parsed is not None:
                earlier = first_line.setdefault(parsed.post.id, number)
                if earlier != number:
                    yield LineError(number, f"post id {parsed.post.id} already on line {earlier}: this later "
                                            "line replaces it", skipped=False, kind="duplicate")
                yield parsed


def read_jsonl(path: str | Path, default_source: str | None = None, now: datetime | None = None) -> IngestReport:
    """Every valid post of a JSONL file and every problem, by line number."""
    report = IngestReport()
    for item in iter_jsonl(path, default_source, now=now):
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


class _IsolatingWriter:
    """Writes batches; when the store rejects a batch, splits it until the refused posts are
    alone, so one post a backend cannot take never costs its batch-mates."""

    def __init__(self, store: Store, summary: IngestSummary):
        self.store = store
        self.summary = summary
        self.refused_in_a_row = 0

    def write(self, batch: list[tuple[int, Post]]) -> None:
        try:
            result = self.store.upsert_posts([post for _, post in batch])
        except Exception as exc:  # noqa: BLE001 - isolate the post that caused it
            if len(batch) == 1:
                self._refused(batch, str(exc).replace("\n", " ") or type(exc).__name__, exc)
                return
            middle = len(batch) // 2
            self.write(batch[:middle])
            self.write(batch[middle:])
            return
        self.refused_in_a_row = 0
        self.summary.imported += result.written
        if result.failed:
            self.summary.failed.extend(result.failed)
            lines = {post.id: line for line, post in batch}
            for item in result.failed:
                self.summary.errors.append(LineError(lines.get(item.id, 0), f"post {item.id} not stored: "
                                                                            f"{item.reason}", kind="refused"))

    def _refused(self, batch: list[tuple[int, Post]], reason: str, exc: Exception) -> None:
        line, post = batch[0]
        self.refused_in_a_row += 1
        if self.refused_in_a_row >= REFUSED_IN_A_ROW_IS_AN_OUTAGE and self.summary.imported == 0:
            if isinstance(exc, StoreError):
                raise exc
            raise StoreError(f"the store refused {self.refused_in_a_row} posts in a row: {reason}") from exc
        self.summary.failed.append(ItemError(post.id, reason))
        self.summary.errors.append(LineError(line, f"post {post.id} not stored: {reason}", kind="refused"))


def ingest_jsonl(store: Store, path: str | Path, *, config: Any = None, default_source: str | None = None,
                 batch_size: int = 20_000, progress: Callable[[int], None] | None = None,
                 now: datetime | None = None) -> IngestSummary:
    """Stream a JSONL file into the store in batches.

    Posts that arrive without watchlists are matched against the configured watchlists
    (the same matcher the crawlers use); posts that name their watchlists keep them.
    """
    matcher = _load_matcher(config)
    summary = IngestSummary()
    writer = _IsolatingWriter(store, summary)
    posts: list[tuple[int, Post]] = []
    enrichments: list[tuple[int, Enrichment]] = []

    def flush() -> None:
        writer.write(posts)
        if enrichments:
            try:
                written = store.update_enrichments([e for _, e in enrichments])
                summary.enrichments += written.written
            except Exception as exc:  # noqa: BLE001 - the posts are stored; say what was not
                summary.errors.extend(LineError(line, f"enrichment not restored (post kept): {exc}", skipped=False,
                                                kind="enrichment") for line, _ in enrichments)
        posts.clear()
        enrichments.clear()

    for item in iter_jsonl(path, default_source, progress, now):
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
        posts.append((item.line, post))
        if item.enrichment is not None:
            enrichments.append((item.line, item.enrichment))
        if len(posts) >= batch_size:
            flush()
    if posts:
        flush()
    summary.errors.sort(key=lambda e: e.line)
    return summary
