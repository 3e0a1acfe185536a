"""Scrapy finds each platform's spider through the registry of platforms.

Scrapy's own loader imports every module under ``SPIDER_MODULES`` to find spiders by name;
ours asks the registry (``crisiswatch.platforms`` entry points) for the platform of that name
and imports only its spider, so ``python -m scrapy crawl <platform>`` (how ``crawlers.run``
starts every crawl) works for a platform a third-party package registers, and a crawl imports
one spider, not all of them. Spiders in ``SPIDER_MODULES``, if a project lists any, still
load as Scrapy's loader would, and win over a platform of the same name.
"""

from __future__ import annotations

from scrapy import Request, Spider
from scrapy.spiderloader import SpiderLoader

from crisiswatch.core import registry


class PlatformSpiderLoader(SpiderLoader):
    """``SPIDER_LOADER_CLASS``: the ``SpiderLoaderProtocol`` over the registry of platforms."""

    def load(self, spider_name: str) -> type[Spider]:
        if spider_name in self._spiders:
            return self._spiders[spider_name]
        try:
            spec = registry.get("platforms", spider_name)
        except registry.ExtensionError as exc:
            raise KeyError(f"Spider not found: {spider_name} ({exc})") from None
        spider_class = spec.spider_class()
        if getattr(spider_class, "name", None) != spider_name:
            raise KeyError(f"Spider not found: {spider_name} (the platform's spider {spec.spider} "
                           f"is named '{getattr(spider_class, 'name', None)}')")
        self._spiders[spider_name] = spider_class
        return spider_class

    def list(self) -> list[str]:
        return sorted(set(self._spiders) | set(registry.names("platforms")))

    def find_by_request(self, request: Request) -> list[str]:
        """Platforms whose spider handles the request (loads every spider: ``scrapy fetch`` only)."""
        found = []
        for name in self.list():
            try:
                spider_class = self.load(name)
            except KeyError:
                continue
            if spider_class.handles_request(request):
                found.append(name)
        return found
