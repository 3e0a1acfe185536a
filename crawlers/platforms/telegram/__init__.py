"""Telegram public channels through their web preview (t.me/s/<channel>).

The spider (``spider``), the replay handler (``replay``) and the recorded responses (``fixtures/``)
live beside this module; only the spec and the targets model are loaded when a config is validated.
"""

from __future__ import annotations

from crawlers.targets import Targets
from crisiswatch.core.extensions import PlatformSpec


class TelegramTargets(Targets):
    channels: list[str] = []
    """Channel user names, with or without '@'."""


PLATFORM = PlatformSpec(
    name="telegram",
    spider=f"{__name__}.spider:TelegramSpider",
    targets=TelegramTargets,
    replay=f"{__name__}.replay",
    description="Telegram public channels through their web preview (t.me/s/<channel>)",
)
