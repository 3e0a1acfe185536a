"""One module per platform: ``handle(...)`` answers its API paths, ``source(...)`` says what a
crawler should target to collect every post of the scenario from it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from crawlers.replay.catalog import Catalog
from crawlers.replay.platforms import appstore, bilibili, bluesky, hackernews, mastodon, reddit, rss, telegram, weibo

_MODULES = {"mastodon": mastodon, "bluesky": bluesky, "hackernews": hackernews, "rss": rss, "reddit": reddit,
            "telegram": telegram, "appstore": appstore, "weibo": weibo, "bilibili": bilibili}
PLATFORM_HANDLERS = {name: module.handle for name, module in _MODULES.items()}


def default_sources(catalog: Catalog, base_url_for: Callable[[str], str]) -> list[dict[str, Any]]:
    """Source configs (as dicts) collecting every platform of the scenario from the server."""
    specs = []
    for platform in catalog.platforms():
        module = _MODULES.get(platform)
        if module is None:
            continue
        spec = {"name": f"replay-{platform}", "platform": platform, "base_url": base_url_for(platform),
                "concurrency": 4, "download_delay_s": 0.0, "max_pages": 1000, "schedule": "5m"}
        spec.update(module.source(catalog, base_url_for(platform)))
        specs.append(spec)
    return specs
