"""``crisiswatch sources probe``: one page per target through the real spider, nothing stored.

When a platform changes its format, a data engineer needs to see what the spider makes of
one real page, field by field, and what it could not read, without touching the store or
the source's cursors. The probe runs the same ``python -m scrapy crawl`` as a crawl (so the
same requests, logins, parsing and normalisation), with a backfill of one page (saved
cursors ignored and left alone) and an item pipeline chain that ends in ``ProbePipeline``
instead of the watchlist filter and the store: every post the spider yields, matched or
not, is written to a JSON file the caller reads back. ``base_url`` points the source at
another host for this run (a recorded copy of the platform, a staging API).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crisiswatch.core.config import DEFAULT_CONFIG_ENV, load_config

OUTPUT_SETTING = "CRISISWATCH_PROBE_OUTPUT"
FIELDS = ("id", "created_at", "url", "title", "text", "language", "author.id", "author.handle", "author.name",
          "author.followers", "engagement.likes", "engagement.shares", "engagement.replies", "engagement.views",
          "parent_id", "thread_id")
"""The Post fields a probe reports on, in the order it prints them."""


class ProbePipeline:
    """Collects every post (after normalisation) and the spider's errors; writes them at close."""

    def __init__(self, crawler):  # noqa: ANN001
        self.crawler = crawler
        self.posts: list[dict[str, Any]] = []

    @classmethod
    def from_crawler(cls, crawler):  # noqa: ANN001, ANN206
        from scrapy import signals

        pipeline = cls(crawler)
        crawler.signals.connect(pipeline.spider_closed, signal=signals.spider_closed)
        return pipeline

    def process_item(self, item):  # noqa: ANN001, ANN201
        from crisiswatch.core.model import Post

        if isinstance(item, Post):
            self.posts.append(item.model_dump(mode="json", exclude={"raw", "collected_at", "watchlists"}))
        return item

    def spider_closed(self, spider, reason: str) -> None:  # noqa: ANN001
        stats = self.crawler.stats
        document = {
            "reason": reason, "posts": self.posts, "errors": list(getattr(spider, "errors", [])),
            "parse_reports": list(getattr(spider, "parse_reports", [])),
            "pages": stats.get_value("crisiswatch/pages", 0),
            "error_count": stats.get_value("crisiswatch/errors", 0),
            "parse_failures": stats.get_value("crisiswatch/parse_failures", 0),
            "unreadable_pages": stats.get_value("crisiswatch/unreadable_pages", 0),
            "base_url": getattr(spider, "base_url", None),
        }
        Path(self.crawler.settings.get(OUTPUT_SETTING)).write_text(json.dumps(document, ensure_ascii=False),
                                                                   encoding="utf-8")


@dataclass
class ProbeResult:
    source: str
    platform: str
    base_url: str | None = None
    posts: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    parse_reports: list[str] = field(default_factory=list)
    pages: int = 0
    error_count: int = 0
    parse_failures: int = 0
    unreadable_pages: int = 0
    finished: bool = True
    output_tail: str = ""

    def value(self, post: dict[str, Any], name: str) -> Any:
        found: Any = post
        for part in name.split("."):
            found = found.get(part) if isinstance(found, dict) else None
        return found

    def coverage(self) -> list[tuple[str, int]]:
        """(field, how many of the posts have it), in ``FIELDS`` order: a field no post has is
        one the spider could not read from this page (or that the platform does not give)."""
        return [(name, sum(self.value(p, name) not in (None, "") for p in self.posts)) for name in FIELDS]

    @property
    def ok(self) -> bool:
        return self.finished and self.pages > 0 and not self.unreadable_pages


def probe_source(source: str, config_path: str | None = None, base_url: str | None = None,
                 timeout_s: float = 120) -> ProbeResult:
    """Fetch one page per target of ``source`` through its spider and report what it read."""
    from crawlers.run import crawl_command, crawl_environment

    path = config_path or os.environ.get(DEFAULT_CONFIG_ENV) or "crisiswatch.yaml"
    path = str(Path(path).resolve())
    platform = load_config(path).source(source).platform
    with tempfile.TemporaryDirectory(prefix="crisiswatch-probe-") as folder:
        output = Path(folder) / "probe.json"
        settings = {"CRISISWATCH_BACKFILL_PAGES": 1, OUTPUT_SETTING: str(output),
                    "ITEM_PIPELINES": {"crawlers.pipelines.NormalisePipeline": 100,
                                       "crawlers.probe.ProbePipeline": 900}}
        command = crawl_command(platform, source, path, settings, arguments={"base_url": base_url})
        try:
            done = subprocess.run(command, env=crawl_environment(path), capture_output=True, text=True,
                                  errors="replace", timeout=timeout_s)
            tail, finished = (done.stdout + done.stderr)[-3000:], True
        except subprocess.TimeoutExpired as exc:
            tail, finished = str(exc.output or "")[-3000:], False
        result = ProbeResult(source=source, platform=platform, finished=finished, output_tail=tail)
        if output.exists():
            document = json.loads(output.read_text(encoding="utf-8"))
            for key in ("posts", "errors", "parse_reports", "pages", "error_count", "parse_failures",
                        "unreadable_pages", "base_url"):
                setattr(result, key, document.get(key, getattr(result, key)))
        else:
            result.finished = False
        return result
