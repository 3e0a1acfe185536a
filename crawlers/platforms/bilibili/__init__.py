"""Bilibili video comments through the reply API.

The spider (``spider``), the replay handler (``replay``) and the recorded responses (``fixtures/``)
live beside this module; only the spec and the targets model are loaded when a config is validated.
"""

from __future__ import annotations

from crawlers.targets import Targets
from crisiswatch.core.extensions import PlatformSpec


class BilibiliTargets(Targets):
    videos: list[str] = []
    """BV ids (``BV1xx411c7mD``) or numeric aids (``av170001``)."""


PLATFORM = PlatformSpec(
    name="bilibili",
    spider=f"{__name__}.spider:BilibiliSpider",
    targets=BilibiliTargets,
    replay=f"{__name__}.replay",
    description="Bilibili video comments through the reply API",
)
