"""Domain model shared by every component: posts, enrichments, incidents.

Every time is timezone-aware UTC: naive datetimes are read as UTC and others are
converted, so that a bucket boundary means the same thing in every store and detector.
All models round-trip through JSON (``model_dump_json`` / ``model_validate_json``).
"""

from __future__ import annotations

import enum
from datetime import datetime, timezone
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator


def as_utc(value: datetime) -> datetime:
    """Read a naive datetime as UTC and convert an aware one to UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


UtcDatetime = Annotated[datetime, AfterValidator(as_utc)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, use_attribute_docstrings=True)


class Author(_Model):
    """Who wrote a post, with the reach the platform reports."""

    id: str | None = None
    """The platform's own id of the account."""
    handle: str | None = None
    """The @-name or screen name, without a leading '@'."""
    name: str | None = None
    """Display name."""
    followers: int | None = Field(default=None, ge=0)
    """Follower / subscriber count when the platform gives it; None when unknown."""
    verified: bool = False
    """The platform marks the account as verified or official."""


class Engagement(_Model):
    """Interaction counts at collection time; None means the platform does not report it."""

    likes: int | None = Field(default=None, ge=0)
    """Likes, favourites, upvotes (score), hearts."""
    shares: int | None = Field(default=None, ge=0)
    """Reposts, reblogs, retweets, forwards."""
    replies: int | None = Field(default=None, ge=0)
    """Replies or comments."""
    views: int | None = Field(default=None, ge=0)
    """Views or plays."""

    @property
    def total(self) -> int:
        """Likes + shares + replies: the interaction count detectors rank by."""
        return (self.likes or 0) + (self.shares or 0) + (self.replies or 0)


class Post(_Model):
    """One public post, comment, review or article as collected from a source."""

    id: str
    """Stable id ``<source>:<native id>``: re-collecting the same post yields the same id."""
    source: str
    """Name of the configured source (or platform) the post came from, e.g. ``mastodon``."""
    url: str | None = None
    """Canonical public link to the post."""
    text: str = ""
    """Plain text of the post (HTML removed, whitespace normalised)."""
    title: str | None = None
    """Title for articles, videos and reviews; None for ordinary posts."""
    language: str | None = None
    """Language as given by the platform (BCP-47-ish, e.g. ``en``, ``zh``); None if not given."""
    created_at: UtcDatetime
    """When the author published it (UTC)."""
    collected_at: UtcDatetime = Field(default_factory=utc_now)
    """When crisiswatch collected it (UTC)."""
    author: Author = Field(default_factory=Author)
    """The author and their reach."""
    engagement: Engagement = Field(default_factory=Engagement)
    """Likes, shares, replies and views at collection time."""
    rating: int | None = Field(default=None, ge=1, le=5)
    """Stars (1-5) a review gives (app store reviews); None for posts that rate nothing. A
    wave of one-star reviews is a crisis signal of its own, so rules can filter on it."""
    parent_id: str | None = None
    """Post id (same ``<source>:<native id>`` form) this one replies to, if any."""
    thread_id: str | None = None
    """Post id of the thread root / the video or story commented on, if any."""
    watchlists: list[str] = Field(default_factory=list)
    """Names of the watchlists whose terms the post matched."""
    raw: dict[str, Any] | None = None
    """The platform's original payload, kept only when the source asks for it."""

    @field_validator("id")
    @classmethod
    def _id_has_source_prefix(cls, value: str) -> str:
        prefix, sep, native = value.partition(":")
        if not sep or not prefix or not native:
            raise ValueError("post id must look like '<source>:<native id>'")
        return value

    @property
    def reach(self) -> int:
        """Author followers, the potential audience of the post."""
        return self.author.followers or 0


class Sentiment(str, enum.Enum):
    negative = "negative"
    neutral = "neutral"
    positive = "positive"


class Enrichment(_Model):
    """What the NLP models concluded about one post; re-enriching replaces it whole."""

    post_id: str
    """The enriched post's id."""
    language: str = "und"
    """Detected language (ISO 639-1, ``zh`` for Chinese, ``und`` when it cannot tell)."""
    sentiment: Sentiment | None = None
    """Overall polarity; None when not computed."""
    sentiment_score: float | None = Field(default=None, ge=-1.0, le=1.0)
    """Polarity from -1 (most negative) to +1 (most positive)."""
    emotion: str | None = None
    """Most likely emotion label (anger, fear, sadness, joy, surprise, neutral, ...)."""
    emotion_scores: dict[str, float] = Field(default_factory=dict)
    """Probability per emotion label."""
    category: str | None = None
    """Complaint category label from the configured taxonomy."""
    category_score: float | None = Field(default=None, ge=0.0, le=1.0)
    """Confidence of the category."""
    topic_id: int | None = None
    """Topic cluster id (-1 for outliers); None when topics were not computed."""
    topic_keywords: list[str] = Field(default_factory=list)
    """Keywords describing the topic."""
    duplicate_group: str | None = None
    """Id shared by near-duplicate posts (copy-paste campaigns, reposts)."""
    models: dict[str, str] = Field(default_factory=dict)
    """Task -> ``model name@version`` that produced each result."""
    skipped_reason: str | None = None
    """Why the post was not (fully) enriched, e.g. ``empty text``; None when it was."""
    enriched_at: UtcDatetime = Field(default_factory=utc_now)
    """When this enrichment was computed."""


class Level(str, enum.Enum):
    """Early-warning levels, from watch to critical."""

    blue = "blue"
    yellow = "yellow"
    orange = "orange"
    red = "red"

    @property
    def rank(self) -> int:
        return _LEVEL_ORDER.index(self)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Level):
            return NotImplemented
        return self.rank < other.rank

    # The other comparisons must be defined too: as a ``str`` subclass, Level would otherwise
    # compare by name for >, <= and >= ("yellow" > "red"), and max() would pick yellow over red.
    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Level):
            return NotImplemented
        return self.rank > other.rank

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Level):
            return NotImplemented
        return self.rank <= other.rank

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Level):
            return NotImplemented
        return self.rank >= other.rank


_LEVEL_ORDER = [Level.blue, Level.yellow, Level.orange, Level.red]


class IncidentState(str, enum.Enum):
    open = "open"
    acknowledged = "acknowledged"
    resolved = "resolved"


class IncidentEvent(_Model):
    """One entry of an incident's timeline."""

    at: UtcDatetime = Field(default_factory=utc_now)
    """When it happened."""
    kind: str
    """fired, updated, level_changed, notified, notify_failed, acknowledged, assigned, note,
    escalated, silenced, resolved, reopened."""
    actor: str = "system"
    """Who did it: a person's name or ``system``."""
    message: str = ""
    """Human-readable description."""
    data: dict[str, Any] = Field(default_factory=dict)
    """Structured details (old/new level, observed value, channel, ...)."""


class NotificationRecord(_Model):
    """One delivery of one incident event to one channel."""

    idempotency_key: str
    """``<incident>:<event>:<channel>``: a key delivered once is never sent again."""
    channel: str
    """Configured channel name."""
    event_kind: str
    """The timeline event that caused the notification."""
    status: str = "pending"
    """pending, sent, failed (retried with capped backoff) or expired (still undelivered after
    ``alerting.delivery_max_age``: given up, and the operations channels were told)."""
    attempts: int = 0
    """How many delivery attempts were made."""
    last_error: str | None = None
    """The last delivery error, with secrets removed."""
    created_at: UtcDatetime = Field(default_factory=utc_now)
    """When the notification was queued."""
    sent_at: UtcDatetime | None = None
    """When it was delivered."""
    next_attempt_at: UtcDatetime | None = None
    """Earliest time of the next attempt after a failure (retry backoff); None = now."""
    claimed_by: str | None = None
    """The process sending it right now (``host:pid:nonce``); another process leaves it alone
    until ``lease_until``, so one delivery is sent by one process."""
    lease_until: UtcDatetime | None = None
    """Wall-clock end of that claim: a sender that died leaves a claim that runs out."""
    failover_from: str | None = None
    """For a copy sent to a route's fallback channel: the channel that could not deliver it."""


class Incident(_Model):
    """A tracked alert: fired by a rule, grouped by fingerprint, closed by a person or by calm."""

    id: str
    """Short stable id, derived from the fingerprint and the opening time."""
    fingerprint: str
    """``rule|watchlist|group key``: repeated firings with the same fingerprint update this incident."""
    rule: str
    """Name of the rule that opened it."""
    watchlist: str | None = None
    """Watchlist concerned, if the rule is scoped to one."""
    title: str
    """One-sentence summary of what happened."""
    level: Level
    """Current severity."""
    peak_level: Level
    """Highest severity reached."""
    state: IncidentState = IncidentState.open
    """Lifecycle state."""
    score: float = 0.0
    """Latest composite crisis score (0-100)."""
    opened_at: UtcDatetime
    """When it first fired."""
    updated_at: UtcDatetime
    """Last change of any kind."""
    acknowledged_at: UtcDatetime | None = None
    acknowledged_by: str | None = None
    assignee: str | None = None
    """Person who owns the response."""
    resolved_at: UtcDatetime | None = None
    last_fired_at: UtcDatetime | None = None
    """Last evaluation in which the rule still fired."""
    calm_buckets: int = 0
    """Consecutive evaluations without firing, for auto-resolution."""
    last_evaluated_at: UtcDatetime | None = None
    """End of the last bucket evaluated for this incident (a bucket is counted once, even when
    a cycle is repeated after a restart)."""
    escalation_step: int = 0
    """How many escalation steps were taken while unacknowledged."""
    evidence: dict[str, Any] = Field(default_factory=dict)
    """Latest evidence: observed value, baseline, spread, top posts and terms, chart path."""
    related: list[str] = Field(default_factory=list)
    """Fingerprints of other rules' alerts grouped into this incident."""
    events: list[IncidentEvent] = Field(default_factory=list)
    """Timeline, oldest first."""
    notifications: list[NotificationRecord] = Field(default_factory=list)
    """Delivery records, one per event and channel."""
    revision: str | None = Field(default=None, exclude=True)
    """The stored version this copy was read as (SQLite: the row's version; Elasticsearch:
    ``seq_no:primary_term``), set by the store on every read and successful save and never
    stored in the document. A save is a compare-and-set against it, so a writer holding a
    stale copy cannot overwrite what another wrote since (None = a new incident)."""

    @property
    def rules(self) -> list[str]:
        """Every rule whose signal joined this incident: the opening rule first, then in the
        order they joined."""
        return list(self.evidence.get("rule_names") or [self.rule])


class CrawlHealth(_Model):
    """Outcome of one crawl of one source."""

    source: str
    started_at: UtcDatetime
    finished_at: UtcDatetime
    pages: int = 0
    items: int = 0
    """Posts stored."""
    errors: int = 0
    """Responses or items that failed (logged and skipped)."""
    newest_post_at: UtcDatetime | None = None
    """Creation time of the newest post seen."""
    status: str = "ok"
    """ok, partial (some errors), failed (nothing could be fetched or read), or parse_failed
    (a page was fetched but none of its items could be read: the platform changed its format)."""
    message: str = ""
    parse_failures: int = 0
    """Items the spider fetched but could not read (also counted in ``errors``)."""
    unreadable_pages: int = 0
    """Pages with items of which not one could be read."""

    @property
    def duration_s(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()
