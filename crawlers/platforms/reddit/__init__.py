"""Reddit posts and comments through its OAuth API.

The spider (``spider``), the replay handler (``replay``) and the recorded responses (``fixtures/``)
live beside this module; only the spec and the targets model are loaded when a config is validated.
"""

from __future__ import annotations

from crawlers.targets import Targets
from crisiswatch.core.extensions import PlatformSpec


class RedditTargets(Targets):
    subreddits: list[str] = []
    """Subreddit names: their new posts (and new comments unless ``options.comments: false``)."""
    searches: list[str] = []
    """Site-wide searches, newest first."""


PLATFORM = PlatformSpec(
    name="reddit",
    spider=f"{__name__}.spider:RedditSpider",
    targets=RedditTargets,
    replay=f"{__name__}.replay",
    description="Reddit posts and comments through its OAuth API",
)
