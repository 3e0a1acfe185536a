"""A crisis replay: posts on a timeline with a labelled onset and the alerts expected.

Scenarios (``scenarios/``) produce this; the replay server (``scenarios/replay``) serves its
posts in each platform's format on a scenario clock through the platforms' replay modules
(``crisiswatch/core/replay.py``), the demo and the detection benchmark read the labels. Kept
in the core so that scenarios, crawlers, alerts and the app share one definition.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from crisiswatch.core.model import Level, Post, UtcDatetime


class ExpectedAlert(BaseModel):
    """An alert the scenario must raise: at least ``min_level`` no later than ``latest_at``."""

    model_config = ConfigDict(extra="forbid")

    watchlist: str
    min_level: Level
    latest_at: UtcDatetime
    rule: str | None = None
    """Rule name expected to fire; None = any rule for that watchlist."""
    description: str = ""


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    title: str
    description: str = ""
    start: UtcDatetime
    """First post time; ordinary background traffic starts here."""
    onset: UtcDatetime
    """Labelled start of the crisis."""
    end: UtcDatetime
    posts: list[Post]
    """Every post, each ``source`` being the platform name (mastodon, weibo, ...)."""
    expected_alerts: list[ExpectedAlert] = Field(default_factory=list)
    config: dict[str, Any] = Field(default_factory=dict)
    """Config sections (watchlists, crisis_lexicon, rules ...) that suit this scenario."""
    post_labels: dict[str, dict[str, str]] = Field(default_factory=dict)
    """Ground truth per post id as the scenario's author meant it: ``phase`` (background,
    precursor, crisis, response), ``sentiment`` (negative/neutral/positive) and ``kind``
    (ordinary, noise, other_brand, first, influencer, official, news, campaign, repost).
    For checks and benchmarks only; never served to crawlers."""
