"""RSS 0.9x/1.0/2.0, Atom and JSON Feed: news sites, news search feeds, YouTube channel feeds.

The spider (``spider``), the replay handler (``replay``) and the recorded responses (``fixtures/``)
live beside this module; only the spec and the targets model are loaded when a config is validated.
"""

from __future__ import annotations

from crawlers.targets import Targets
from crisiswatch.core.extensions import PlatformSpec


class RssTargets(Targets):
    feeds: list[str] = []
    """Absolute URLs, or paths under the source's ``base_url``."""


PLATFORM = PlatformSpec(
    name="rss",
    spider=f"{__name__}.spider:RssSpider",
    targets=RssTargets,
    replay=f"{__name__}.replay",
    description="RSS 0.9x/1.0/2.0, Atom and JSON Feed: news sites, news search feeds, YouTube channel feeds",
)
