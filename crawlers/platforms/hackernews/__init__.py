"""Hacker News stories and comments through the Algolia search API.

The spider (``spider``), the replay handler (``replay``) and the recorded responses (``fixtures/``)
live beside this module; only the spec and the targets model are loaded when a config is validated.
"""

from __future__ import annotations

from crawlers.targets import Targets
from crisiswatch.core.extensions import PlatformSpec


class HackerNewsTargets(Targets):
    queries: list[str] = []
    """Search queries; an empty query means everything."""
    keywords: list[str] = []
    """Same as ``queries`` (both are read)."""


PLATFORM = PlatformSpec(
    name="hackernews",
    spider=f"{__name__}.spider:HackerNewsSpider",
    targets=HackerNewsTargets,
    replay=f"{__name__}.replay",
    description="Hacker News stories and comments through the Algolia search API",
)
