"""Weibo real-time search and user timelines through the mobile site's API.

The spider (``spider``), the replay handler (``replay``) and the recorded responses (``fixtures/``)
live beside this module; only the spec and the targets model are loaded when a config is validated.
"""

from __future__ import annotations

from crawlers.targets import Targets
from crisiswatch.core.extensions import PlatformSpec


class WeiboTargets(Targets):
    keywords: list[str] = []
    """Real-time search terms."""
    users: list[str] = []
    """Numeric user ids: their timelines."""


PLATFORM = PlatformSpec(
    name="weibo",
    spider=f"{__name__}.spider:WeiboSpider",
    targets=WeiboTargets,
    replay=f"{__name__}.replay",
    description="Weibo real-time search and user timelines through the mobile site's API",
)
