"""The one storage interface every component uses; backends differ, behaviour does not.

Detectors, the CLI, crawlers and the NLP step ask for counts, shares, terms and posts
through these methods only, so that the same rule gives the same answer on SQLite and on
Elasticsearch. The shared contract tests in ``tests/store/contract.py`` pin that behaviour.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from crisiswatch.core.model import CrawlHealth, Enrichment, Incident, Post, UtcDatetime
from crisiswatch.core.store.query import QueryError, parse_query, script_variants  # noqa: F401


class StoreError(RuntimeError):
    """A store cannot be reached or refused an operation; the message says which and why."""


class IncidentConflict(StoreError):
    """The incident was written by someone else since this copy was read (compare-and-set
    failed): re-read it and apply the change again (``alerts.incidents.IncidentBook.update``)."""

    def __init__(self, incident_id: str, reason: str = "changed since it was read"):
        self.incident_id = incident_id
        super().__init__(f"incident {incident_id}: {reason}")


class FingerprintTaken(IncidentConflict):
    """Another open incident already has this fingerprint: at most one is open per fingerprint,
    so two evaluators racing to open the same alert end with one incident, not two."""

    def __init__(self, incident_id: str, fingerprint: str, holder: str | None):
        self.fingerprint, self.holder = fingerprint, holder
        super().__init__(incident_id, f"fingerprint {fingerprint!r} is already open as incident {holder or '?'}")


class PostFilter(BaseModel):
    """Which posts a query is about; every field left None means "any".

    List fields match any of their values. ``text`` is a query in the grammar of
    ``crisiswatch.core.store.query`` (docs/store.md): terms side by side must all occur
    (case-insensitive substrings, also 1-2 character Chinese words), ``"quoted phrases"``
    occur as written, ``AND``/``OR``/``NOT`` (upper case), ``-term``, parentheses and
    ``field:value``, e.g. ``(recall OR 召回 OR "food poisoning") -test source:weibo``. A query
    that cannot be parsed raises ``QueryError`` when the filter is used.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    watchlists: tuple[str, ...] | None = None
    sources: tuple[str, ...] | None = None
    languages: tuple[str, ...] | None = None
    """Detected language of the enrichment, falling back to the platform's language."""
    sentiments: tuple[str, ...] | None = None
    emotions: tuple[str, ...] | None = None
    categories: tuple[str, ...] | None = None
    topic_ids: tuple[int, ...] | None = None
    text: str | None = None
    min_followers: int | None = Field(default=None, ge=0)
    ratings: tuple[int, ...] | None = None
    """Star ratings (1-5) of reviews; posts without a rating never match."""
    since: UtcDatetime | None = None
    """Inclusive lower bound on ``created_at``."""
    until: UtcDatetime | None = None
    """Exclusive upper bound on ``created_at``."""

    def narrow(self, **changes: object) -> "PostFilter":
        """A copy with some fields replaced (e.g. a time window or a sentiment)."""
        return self.model_copy(update=changes)


@dataclass(frozen=True)
class ItemError:
    """One item of a batch write that failed, and why."""

    id: str
    reason: str


@dataclass(frozen=True)
class TeamLabel:
    """A label the team gave a post (imported or corrected in the console): the ground truth
    that ``crisiswatch nlp train`` learns the team's own heads from. One per post and task;
    a newer one replaces the older."""

    post_id: str
    task: str
    label: str
    source: str = "import"
    labelled_at: datetime | None = None


@dataclass
class WriteResult:
    """Outcome of a batch write: how many items were written and which failed."""

    written: int = 0
    failed: list[ItemError] = field(default_factory=list)

    def __iadd__(self, other: "WriteResult") -> "WriteResult":
        self.written += other.written
        self.failed.extend(other.failed)
        return self


@dataclass(frozen=True)
class Bucket:
    """Posts created in ``[start, start + size)``."""

    start: datetime
    count: int


@dataclass(frozen=True)
class TermCount:
    term: str
    count: int


@dataclass(frozen=True)
class Share:
    part: int
    whole: int

    @property
    def ratio(self) -> float | None:
        return self.part / self.whole if self.whole else None


PostOrder = Literal["engagement", "reach", "created_at", "-created_at"]


class Store(abc.ABC):
    """Storage of posts, enrichments, crawl state and incidents.

    Writes are idempotent: upserting a post with an existing id replaces its content but
    keeps its enrichment; updating an enrichment replaces the previous one.
    """

    # ---- lifecycle -----------------------------------------------------------------
    @abc.abstractmethod
    def setup(self) -> None:
        """Create tables / templates if missing; safe to call on every start."""

    def close(self) -> None:
        """Release connections."""

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- posts ---------------------------------------------------------------------
    @abc.abstractmethod
    def upsert_posts(self, posts: Iterable[Post]) -> WriteResult:
        """Insert or replace posts by id; never duplicates, keeps existing enrichments."""

    @abc.abstractmethod
    def get_posts(self, ids: Iterable[str]) -> list[Post]:
        """The posts with these ids that exist, in the order asked."""

    @abc.abstractmethod
    def update_enrichments(self, enrichments: Iterable[Enrichment]) -> WriteResult:
        """Attach enrichments to their posts; an unknown post id is a failed item."""

    @abc.abstractmethod
    def get_enrichments(self, post_ids: Iterable[str]) -> dict[str, Enrichment]:
        """Enrichments of the given posts, by post id (posts without one are absent)."""

    @abc.abstractmethod
    def unenriched_batches(self, batch_size: int = 256, filter: PostFilter | None = None) -> Iterator[list[Post]]:
        """Posts without an enrichment, oldest first, in batches.

        Safe to enrich while iterating: each batch is read after the previous one was
        processed, so progress is kept if the caller stops half-way.
        """

    @abc.abstractmethod
    def clear_enrichments(self, filter: PostFilter) -> int:
        """Remove enrichments of matching posts so they are enriched again; returns how many."""

    @abc.abstractmethod
    def count_posts(self, filter: PostFilter | None = None) -> int:
        """Number of matching posts."""

    @abc.abstractmethod
    def count_by_bucket(self, filter: PostFilter, start: datetime, end: datetime, size: timedelta) -> list[Bucket]:
        """Counts per bucket ``[start + k*size, start + (k+1)*size)`` up to ``end``, zeros included."""

    def share(self, part: PostFilter, whole: PostFilter) -> Share:
        """How many of the ``whole`` posts also match ``part`` (e.g. negative within a brand)."""
        return Share(part=self.count_posts(_intersect(part, whole)), whole=self.count_posts(whole))

    @abc.abstractmethod
    def count_by_field(self, field: str, filter: PostFilter | None = None, limit: int = 50) -> list[TermCount]:
        """Counts per value of ``source``, ``language``, ``sentiment``, ``emotion``, ``category``,
        ``watchlist`` or ``topic_id``, largest first (posts without a value count as ``none``)."""

    @abc.abstractmethod
    def top_terms(self, filter: PostFilter, limit: int = 20) -> list[TermCount]:
        """Most frequent terms (see ``crisiswatch.core.text.extract_terms``) in matching posts."""

    @abc.abstractmethod
    def top_posts(self, filter: PostFilter, order: PostOrder = "engagement", limit: int = 10) -> list[Post]:
        """Matching posts ordered by engagement total, author reach or time (newest first
        for ``-created_at``); ties broken by id."""

    def first_post_time(self, watchlist: str | None, until: datetime) -> datetime | None:
        """Creation time of the earliest post (of ``watchlist``, any when None) before ``until``."""
        first = self.first_posts(PostFilter(watchlists=(watchlist,) if watchlist else None, until=until), limit=1)
        return first[0].created_at if first else None

    def count_by_bucket_per_watchlist(self, watchlists: Sequence[str], start: datetime, end: datetime,
                                      size: timedelta) -> dict[str, list[Bucket]]:
        """``count_by_bucket`` for each watchlist (stores may answer it in one grouped query)."""
        return {w: self.count_by_bucket(PostFilter(watchlists=(w,)), start, end, size) for w in watchlists}

    def first_posts(self, filter: PostFilter, limit: int = 5) -> list[Post]:
        """The earliest matching posts: where a story started."""
        return self.top_posts(filter, order="created_at", limit=limit)

    def search(self, filter: PostFilter, limit: int = 50) -> list[Post]:
        """Matching posts, newest first."""
        return self.top_posts(filter, order="-created_at", limit=limit)

    @abc.abstractmethod
    def iter_posts(self, filter: PostFilter | None = None, batch_size: int = 1000) -> Iterator[Post]:
        """Every matching post, oldest first (for export and backtests)."""

    @abc.abstractmethod
    def delete_posts(self, filter: PostFilter) -> int:
        """Delete matching posts and their enrichments (retention); returns how many."""

    # ---- crawl state ---------------------------------------------------------------
    @abc.abstractmethod
    def get_cursor(self, source: str, key: str = "") -> str | None:
        """The source's saved position (since id, timestamp, page token) for ``key``."""

    @abc.abstractmethod
    def set_cursor(self, source: str, value: str, key: str = "") -> None:
        """Save the source's position; called only after the posts before it are stored."""

    @abc.abstractmethod
    def record_crawl(self, health: CrawlHealth) -> None:
        """Append one crawl's outcome."""

    @abc.abstractmethod
    def crawl_history(self, source: str | None = None, limit: int = 20) -> list[CrawlHealth]:
        """Latest crawl outcomes, newest first."""

    # ---- incidents -----------------------------------------------------------------
    @abc.abstractmethod
    def save_incident(self, incident: Incident) -> None:
        """Write an incident (with its timeline and notification records) as a compare-and-set.

        ``incident.revision`` None creates it (IncidentConflict if the id exists); otherwise the
        write happens only if the stored revision is still that one (else IncidentConflict), so
        a stale copy never overwrites an acknowledgement or an event written meanwhile. At most
        one incident per fingerprint is open: opening (or reopening) a second raises
        FingerprintTaken naming the open one. On success ``incident.revision`` is the new one."""

    @abc.abstractmethod
    def get_incident(self, incident_id: str) -> Incident | None:
        """One incident by id (or unique id prefix); an ambiguous prefix raises StoreError naming
        the incidents it matches."""

    @abc.abstractmethod
    def find_incident(self, fingerprint: str, include_resolved: bool = False) -> Incident | None:
        """The newest incident with this fingerprint, by default only if not resolved."""

    @abc.abstractmethod
    def list_incidents(self, states: Iterable[str] | None = None, since: datetime | None = None,
                       limit: int = 100) -> list[Incident]:
        """Incidents, most recently updated first."""

    # ---- key/value state (detector baselines, silences, schedules) ------------------
    @abc.abstractmethod
    def get_state(self, key: str) -> str | None:
        """A small piece of component state saved by ``set_state``."""

    @abc.abstractmethod
    def set_state(self, key: str, value: str | None) -> None:
        """Save (or with None, delete) a small piece of component state."""

    @abc.abstractmethod
    def update_state(self, key: str, change: Callable[[str | None], str | None]) -> str | None:
        """Replace the state under ``key`` by ``change(current)`` (None deletes) as one atomic
        read-modify-write across processes (a transaction, or a compare-and-set retried on
        conflict, so ``change`` may run more than once and must have no side effects); returns
        what was written. Two processes adding a user or counting a rate limit never lose
        each other's update, where ``get_state`` then ``set_state`` would."""

    # ---- the team's labels (nlp learns from them) -----------------------------------
    def save_labels(self, labels: Iterable[TeamLabel]) -> int:
        """Store labels (a newer label for the same post and task replaces the older); returns how many."""
        raise NotImplementedError(f"{type(self).__name__} does not keep team labels")

    def get_labels(self, task: str | None = None) -> list[TeamLabel]:
        """The team's labels, of one task or all, ordered by post id then task."""
        raise NotImplementedError(f"{type(self).__name__} does not keep team labels")


def _intersect(a: PostFilter, b: PostFilter) -> PostFilter:
    """Posts matching both filters: list fields intersect (an empty tuple matches nothing)
    and bounds tighten."""
    merged: dict[str, object] = {}
    for name in PostFilter.model_fields:
        x, y = getattr(a, name), getattr(b, name)
        if x is None or y is None:
            merged[name] = x if y is None else y
        elif name == "text":
            if x != y:
                raise ValueError("cannot intersect two different text queries; put the text in one filter")
            merged[name] = x
        elif name == "since":
            merged[name] = max(x, y)
        elif name in ("until",):
            merged[name] = min(x, y)
        elif name == "min_followers":
            merged[name] = max(x, y)
        else:
            merged[name] = tuple(v for v in x if v in y)
    return PostFilter(**merged)
