"""Building blocks shared by the scenarios: a seeded timeline of posts with realistic shape.

A scenario is ordinary traffic with a daily (and weekly) cycle, then a crisis whose rate
rises, peaks and fades. Everything draws from one ``random.Random`` seeded with the
scenario name and seed, so the same (name, seed) always gives the same posts, ids and
numbers on every machine (string seeds hash with SHA-512, not with Python's salted hash).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from crisiswatch.core.model import Author, Engagement, Post
from scenarios.platforms import hook

# Relative posting activity per local hour (0-23): quiet at night, a lunch bump, an evening peak.
DAILY_PROFILE = (0.35, 0.2, 0.12, 0.08, 0.07, 0.1, 0.25, 0.55, 0.85, 1.0, 1.05, 1.1,
                 1.3, 1.2, 1.0, 1.0, 1.05, 1.1, 1.2, 1.4, 1.55, 1.6, 1.3, 0.8)
WEEKDAY_FACTOR = (1.0, 0.97, 1.0, 1.02, 1.08, 1.2, 1.15)  # Monday .. Sunday


def hour_weight(local: datetime) -> float:
    """Relative activity at a local time, interpolated between hours so there are no steps."""
    hour = local.hour + local.minute / 60
    low = int(hour) % 24
    high = (low + 1) % 24
    frac = hour - int(hour)
    daily = DAILY_PROFILE[low] * (1 - frac) + DAILY_PROFILE[high] * frac
    return daily * WEEKDAY_FACTOR[local.weekday()]


_PROFILE_MEAN = sum(DAILY_PROFILE) / 24


@dataclass
class PostLabel:
    """What the scenario author meant a post to be: the ground truth for checks and benchmarks."""

    phase: str
    """background, precursor, crisis or response (after the brand answered)."""
    sentiment: str
    """negative, neutral or positive as written."""
    kind: str = "ordinary"
    """ordinary, noise (unrelated), other_brand, influencer, official, news, campaign, first."""

    def as_dict(self) -> dict[str, str]:
        return {"phase": self.phase, "sentiment": self.sentiment, "kind": self.kind}


@dataclass
class AuthorPool:
    """Accounts of one platform: many small ones, a few large ones (a Pareto-like reach)."""

    platform: str
    handles: list[str]
    names: list[str]
    followers: list[int | None]
    ids: list[str]

    def pick(self, rng: random.Random) -> Author:
        index = rng.randrange(len(self.handles))
        return self.author(index)

    def author(self, index: int) -> Author:
        return Author(id=self.ids[index], handle=self.handles[index], name=self.names[index],
                      followers=self.followers[index])


@dataclass
class Timeline:
    """Posts being written for one scenario, with their labels, drawn from one generator."""

    name: str
    seed: int
    tz: timezone
    rng: random.Random = field(init=False)
    posts: list[Post] = field(default_factory=list)
    labels: dict[str, dict[str, str]] = field(default_factory=dict)
    _fixed: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.rng = random.Random(f"{self.name}:{self.seed}")

    # ---- times ---------------------------------------------------------------------
    def poisson(self, lam: float) -> int:
        """A Poisson count (Knuth's method is fine for the small rates of one minute)."""
        if lam <= 0:
            return 0
        if lam > 30:
            return max(0, round(self.rng.gauss(lam, math.sqrt(lam))))
        limit, k, p = math.exp(-lam), 0, 1.0
        while True:
            p *= self.rng.random()
            if p <= limit:
                return k
            k += 1

    def times(self, start: datetime, end: datetime, per_hour: Callable[[datetime], float]) -> list[datetime]:
        """Arrival times of a Poisson process whose hourly rate may change minute by minute."""
        out: list[datetime] = []
        minute = start
        while minute < end:
            for _ in range(self.poisson(per_hour(minute) / 60)):
                out.append(minute + timedelta(seconds=self.rng.uniform(0, 60)))
            minute += timedelta(minutes=1)
        return sorted(t for t in out if t < end)

    def daily_cycle(self, per_day: float, day_noise: float = 0.15) -> Callable[[datetime], float]:
        """An hourly rate with the local daily/weekly cycle and a random level per day."""
        day_factor: dict[Any, float] = {}

        def rate(moment: datetime) -> float:
            local = moment.astimezone(self.tz)
            day = local.date()
            if day not in day_factor:
                day_factor[day] = max(0.5, self.rng.gauss(1.0, day_noise))
            return per_day / 24 * hour_weight(local) / _PROFILE_MEAN * day_factor[day]

        return rate

    # ---- ids and accounts ----------------------------------------------------------
    def _final_ids(self) -> dict[str, str]:
        """Native ids in creation order per platform, shaped like the platform's own.

        Ids are given only once every post exists, so that they grow with time as real
        ones do: spiders page and keep cursors by them (Mastodon ``min_id``, Weibo ``since_id``).
        The platform's replay module shapes them (``native_id``); without one, the counter.
        """
        mapping: dict[str, str] = {}
        counters: dict[str, int] = {}
        for post in sorted(self.posts, key=lambda p: (p.created_at, p.id)):
            if post.id in self._fixed:
                continue
            platform = post.source
            counter = counters[platform] = counters.get(platform, 0) + 1
            shape = hook(platform, "native_id")
            native = shape(counter, post, self.rng) if shape is not None else str(counter)
            mapping[post.id] = f"{platform}:{native}"
        return mapping

    def authors(self, platform: str, count: int, handle: Callable[[random.Random, int], str],
                name: Callable[[random.Random, int], str] | None = None,
                followers: tuple[float, float] | None = (5.0, 1.6)) -> AuthorPool:
        """``count`` accounts; followers drawn log-normally (median e**mu) or None if unknown."""
        handles, names, reach, ids = [], [], [], []
        for index in range(count):
            value = handle(self.rng, index)
            handles.append(value)
            names.append(name(self.rng, index) if name else value)
            reach.append(None if followers is None else int(self.rng.lognormvariate(*followers)))
            ids.append(str(10_000_000 + index * 37 + self.rng.randint(0, 36)))
        return AuthorPool(platform, handles, names, reach, ids)

    def engagement(self, platform: str, followers: int | None, virality: float = 1.0) -> Engagement:
        """Interaction counts that grow with reach and with how much the post strikes a nerve."""
        base = (followers or 200) ** 0.5 * virality * self.rng.lognormvariate(0, 0.8) * 0.4
        likes = int(base)
        shares = int(base * self.rng.uniform(0.05, 0.4))
        replies = int(base * self.rng.uniform(0.05, 0.3))
        shape = hook(platform, "engagement")  # what the platform counts (views only, no shares ...)
        if shape is not None:
            return shape(likes, shares, replies, base)
        return Engagement(likes=likes, shares=shares, replies=replies)

    # ---- posts ---------------------------------------------------------------------
    def add(self, platform: str, created_at: datetime, text: str, label: PostLabel, *,
            author: Author | None = None, title: str | None = None, language: str | None = None,
            engagement: Engagement | None = None, url: str | None = None, parent_id: str | None = None,
            thread_id: str | None = None, raw: dict[str, Any] | None = None, virality: float = 1.0,
            native_id: str | None = None) -> Post:
        author = author or Author()
        if native_id is not None:
            self._fixed.add(f"{platform}:{native_id}")
        post = Post(
            id=f"{platform}:{native_id or f'pending{len(self.posts)}'}", source=platform, url=url,
            text=text, title=title, language=language, created_at=created_at,
            collected_at=created_at, author=author,
            engagement=engagement or self.engagement(platform, author.followers, virality),
            parent_id=parent_id, thread_id=thread_id, raw=raw)
        self.posts.append(post)
        self.labels[post.id] = label.as_dict()
        return post

    def choice(self, items: Sequence[Any]) -> Any:
        return items[self.rng.randrange(len(items))]

    def fill(self, template: str, slots: dict[str, Sequence[str]]) -> str:
        """Fill ``{slot}`` placeholders with random choices; each slot drawn once per text."""
        values = {key: self.choice(options) for key, options in slots.items() if "{" + key + "}" in template}
        return template.format(**values)

    def finish(self) -> tuple[list[Post], dict[str, dict[str, str]]]:
        """The posts in time order with their final ids (references rewritten) and labels."""
        mapping = self._final_ids()
        posts, labels = [], {}
        for post in sorted(self.posts, key=lambda p: p.created_at):
            new_id = mapping.get(post.id, post.id)
            native = new_id.partition(":")[2]
            posts.append(post.model_copy(update={
                "id": new_id,
                "url": post.url or _default_url(post.source, native, post.author),
                "parent_id": mapping.get(post.parent_id, post.parent_id) if post.parent_id else None,
                "thread_id": mapping.get(post.thread_id, post.thread_id) if post.thread_id else None,
            }))
            labels[new_id] = self.labels[post.id]
        return posts, labels


def _default_url(platform: str, native: str, author: Author) -> str | None:
    """The post's address as the platform's replay module writes it (None: it has none)."""
    shape = hook(platform, "default_url")
    return shape(native, author) if shape is not None else None
