"""Bluesky: author feeds from the public AppView; post search when logged in.

The spider (``spider``), the replay handler (``replay``) and the recorded responses (``fixtures/``)
live beside this module; only the spec and the targets model are loaded when a config is validated.
"""

from __future__ import annotations

from crawlers.targets import Targets
from crisiswatch.core.extensions import PlatformSpec


class BlueskyTargets(Targets):
    accounts: list[str] = []
    """Handles or DIDs: their author feeds."""
    searches: list[str] = []
    """Post-search queries (need ``credentials.identifier`` and ``credentials.app_password``)."""


PLATFORM = PlatformSpec(
    name="bluesky",
    spider=f"{__name__}.spider:BlueskySpider",
    targets=BlueskyTargets,
    replay=f"{__name__}.replay",
    description="Bluesky: author feeds from the public AppView; post search when logged in",
    stream=f"{__name__}.stream:follow_stream",
)
