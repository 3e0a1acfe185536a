"""Crisis replays written for this project: ordinary traffic, then a crisis with a labelled onset.

``load(name, seed)`` builds a ``crisiswatch.core.scenario.Scenario`` deterministically; the replay
server serves its posts on a scenario clock, the demo and the detection benchmark read its
labels (onset, expected alerts, ``post_labels``).

Conventions of the posts, for whoever renders them in a platform's format:

- ``source`` is the platform name and ``id`` is ``<platform>:<native id>`` with a native id
  shaped like the platform's own (Weibo mid, Bilibili rpid, Mastodon snowflake, Bluesky
  ``at://`` URI, Reddit ``t3_`` fullname, Hacker News item id, App Store review id, RSS guid).
- ``thread_id`` names the thread root (the Bilibili video ``bilibili:BV...``, the Hacker News
  story, the Reddit submission) and ``parent_id`` the post replied to.
- ``raw`` carries what a platform needs that ``Post`` has no field for: Bilibili ``bvid``,
  ``oid`` and ``video_title``; App Store ``rating``, ``version``, ``app_id``; Reddit
  ``subreddit``; Hacker News ``type`` (story/comment); RSS ``feed`` and ``feed_url``.
"""

from __future__ import annotations

import functools
import importlib

from crisiswatch.core.scenario import Scenario

_MODULES = {"food_safety_zh": "scenarios.food_safety_zh", "airline_outage_en": "scenarios.airline_outage_en"}
DEFAULT = "food_safety_zh"


def names() -> list[str]:
    """Names of the scenarios that ship with crisiswatch, the demo's default first."""
    return list(_MODULES)


@functools.lru_cache(maxsize=8)
def _build(name: str, seed: int) -> Scenario:
    return importlib.import_module(_MODULES[name]).build(seed)


def load(name: str, seed: int = 0) -> Scenario:
    """The scenario ``name`` generated with ``seed`` (same inputs, same posts, every time)."""
    if name not in _MODULES:
        raise KeyError(f"unknown scenario '{name}'; choose one of: {', '.join(_MODULES)}")
    return _build(name, seed).model_copy(deep=True)
