"""Mastodon: hashtag, public/local and account timelines of one or more instances.

The spider (``spider``), the replay handler (``replay``) and the recorded responses (``fixtures/``)
live beside this module; only the spec and the targets model are loaded when a config is validated.
"""

from __future__ import annotations

from crawlers.targets import Targets
from crisiswatch.core.extensions import PlatformSpec


class MastodonTargets(Targets):
    instances: list[str] = []
    """Host names or URLs of the instances to read (default: the source's ``base_url``)."""
    hashtags: list[str] = []
    """Hashtags, with or without '#'."""
    timelines: list[str] = []
    """``public`` and/or ``local``."""
    accounts: list[str] = []
    """``name`` or ``name@other.host``: their statuses."""


PLATFORM = PlatformSpec(
    name="mastodon",
    spider=f"{__name__}.spider:MastodonSpider",
    targets=MastodonTargets,
    replay=f"{__name__}.replay",
    description="Mastodon: hashtag, public/local and account timelines of one or more instances",
    stream=f"{__name__}.stream:follow_stream",
)
