"""App Store customer reviews per country and app.

The spider (``spider``), the replay handler (``replay``) and the recorded responses (``fixtures/``)
live beside this module; only the spec and the targets model are loaded when a config is validated.
"""

from __future__ import annotations

from crawlers.targets import Targets
from crisiswatch.core.extensions import PlatformSpec


class AppStoreTargets(Targets):
    apps: list[str] = []
    """Numeric app ids (``id`` prefix allowed); countries come from ``options.countries``."""


PLATFORM = PlatformSpec(
    name="appstore",
    spider=f"{__name__}.spider:AppStoreSpider",
    targets=AppStoreTargets,
    replay=f"{__name__}.replay",
    description="App Store customer reviews per country and app",
)
