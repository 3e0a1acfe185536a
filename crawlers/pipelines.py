"""From a spider's Post to a stored one: normalise, match watchlists, de-duplicate, store.

Items pass through these in order (see ``ITEM_PIPELINES``). A post that is not to be
stored becomes a ``Skipped`` item rather than being dropped, and ``CursorUpdate`` items pass
untouched: everything reaches ``StorePipeline``, which can therefore tell when all posts
before a cursor have been written (see ``CursorUpdate``).
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from crawlers.items import CursorUpdate, Skipped
from crawlers.normalise import TextKind, canonical_url, clean_text
from crisiswatch.core.model import CrawlHealth, Post
from crisiswatch.core.watchlist import WatchlistMatcher

log = logging.getLogger(__name__)


class NormalisePipeline:
    """Plain text, tidy whitespace, canonical links; times are UTC by the model.

    How a text is cleaned depends on what the platform's field holds (``TextKind``), which
    the spider declares (``text_kind``, ``title_kind``): a guess from the text itself once
    stripped a traceback's ``<module>`` from a Reddit post. Built without a crawler (tests),
    it takes the kinds as arguments.
    """

    def __init__(self, text_kind: TextKind = "html", title_kind: TextKind = "plain"):
        self.text_kind, self.title_kind = text_kind, title_kind

    @classmethod
    def from_crawler(cls, crawler):  # noqa: ANN001, ANN206
        spider = crawler.spidercls
        return cls(getattr(spider, "text_kind", "html"), getattr(spider, "title_kind", "plain"))

    @classmethod
    def for_spider(cls, spider) -> "NormalisePipeline":  # noqa: ANN001
        return cls(spider.text_kind, spider.title_kind)

    def process_item(self, item):  # noqa: ANN001, ANN201
        if not isinstance(item, Post):
            return item
        title = clean_text(item.title, self.title_kind) if item.title is not None else None
        return item.model_copy(update={"text": clean_text(item.text, self.text_kind), "title": title or None,
                                       "url": canonical_url(item.url)})


class WatchlistPipeline:
    """Tag posts with the watchlists they mention; drop the rest unless the source keeps all."""

    def __init__(self, crawler):  # noqa: ANN001
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):  # noqa: ANN001, ANN206
        return cls(crawler)

    def open_spider(self) -> None:
        spider = self.crawler.spider
        self.matcher = WatchlistMatcher(spider.config.watchlists)
        self.keep_all = spider.source_config.keep_all

    def process_item(self, item):  # noqa: ANN001, ANN201
        if not isinstance(item, Post):
            return item
        names = self.matcher.match(item.text, item.title)
        if not names and not self.keep_all:
            self.crawler.stats.inc_value("crisiswatch/unmatched")
            return Skipped(item.id, "matches no watchlist")
        return item.model_copy(update={"watchlists": names})


class DeduplicatePipeline:
    """Drop a post already seen in this crawl (boundary posts, overlapping targets)."""

    def __init__(self, crawler):  # noqa: ANN001
        self.crawler = crawler
        self.seen: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler):  # noqa: ANN001, ANN206
        return cls(crawler)

    def process_item(self, item):  # noqa: ANN001, ANN201
        if not isinstance(item, Post):
            return item
        if item.id in self.seen:
            self.crawler.stats.inc_value("crisiswatch/duplicates")
            return Skipped(item.id, "already collected in this crawl")
        self.seen.add(item.id)
        return item


class StorePipeline:
    """Batch writes, cursor saves after their posts, and the crawl's health record."""

    def __init__(self, crawler):  # noqa: ANN001
        self.crawler = crawler
        self.batch_size = crawler.settings.getint("CRISISWATCH_BATCH_SIZE", 200)
        self.pending: list[Post] = []
        self.arrived = 0
        """Posts (stored or skipped) that reached this pipeline."""
        self.cursors: list[CursorUpdate] = []
        """Cursor updates waiting for the posts before them."""
        self.written = 0
        self.write_failures = 0
        self.newest: datetime | None = None
        self.started_at = datetime.now(timezone.utc)

    @classmethod
    def from_crawler(cls, crawler):  # noqa: ANN001, ANN206
        from scrapy import signals

        pipeline = cls(crawler)
        crawler.signals.connect(pipeline.spider_closed, signal=signals.spider_closed)
        return pipeline

    def open_spider(self) -> None:
        from crisiswatch.core.store import open_store

        spider = self.crawler.spider
        self.started_at = datetime.now(timezone.utc)
        self.store = open_store(spider.config)

    def process_item(self, item):  # noqa: ANN001, ANN201
        if isinstance(item, CursorUpdate):
            self.cursors.append(item)
            self.cursors.sort(key=lambda c: c.after)
        else:
            self.arrived += 1
            if isinstance(item, Post):
                self.pending.append(item)
                if len(self.pending) >= self.batch_size:
                    self.flush()
        if self.cursors and self.cursors[0].after <= self.arrived:
            self.save_cursors()
        return item

    def save_cursors(self) -> None:
        """Write pending posts, then save every cursor whose posts have all arrived."""
        self.flush()
        spider = self.crawler.spider
        while self.cursors and self.cursors[0].after <= self.arrived:
            cursor = self.cursors.pop(0)
            if self.write_failures:
                log.warning("%s: cursor '%s' not saved: %d posts failed to store in this crawl",
                            spider.source, cursor.key, self.write_failures)
            else:
                self.store.set_cursor(spider.source, cursor.value, key=cursor.key)

    def flush(self) -> None:
        if not self.pending:
            return
        batch, self.pending = self.pending, []
        spider = self.crawler.spider
        try:
            result = self.store.upsert_posts(batch)
        except Exception as exc:  # noqa: BLE001 - a failed batch is counted; its cursor is not saved
            self.write_failures += len(batch)
            spider.count_error(f"store write of {len(batch)} posts failed: {exc}")
            return
        self.written += result.written
        for failure in result.failed:
            self.write_failures += 1
            spider.count_error(f"store refused {failure.id}: {failure.reason}")
        failed = {f.id for f in result.failed}
        for post in batch:
            if post.id not in failed and (self.newest is None or post.created_at > self.newest):
                self.newest = post.created_at
        self.crawler.stats.set_value("crisiswatch/stored", self.written)

    def close_spider(self) -> None:
        if hasattr(self, "store"):
            self.save_cursors()
            for cursor in self.cursors:  # a post before it never arrived (a pipeline failed on it)
                log.warning("%s: cursor '%s' not saved: %d of its %d posts did not reach the store",
                            self.crawler.spider.source, cursor.key, cursor.after - self.arrived, cursor.after)

    def spider_closed(self, spider, reason: str) -> None:  # noqa: ANN001
        """Record the crawl's health once Scrapy says why it ended (after the last flush)."""
        if not hasattr(self, "store"):
            return  # the store never opened: crawl_source records the failure with the error output
        try:
            self.store.record_crawl(self.health(spider, reason))
        finally:
            self.store.close()

    def health(self, spider, reason: str = "finished") -> CrawlHealth:  # noqa: ANN001
        stats = self.crawler.stats
        pages = stats.get_value("crisiswatch/pages", 0)
        errors = stats.get_value("crisiswatch/errors", 0)
        unreadable = stats.get_value("crisiswatch/unreadable_pages", 0)
        stopped = reason != "finished"  # shutdown (Ctrl-C, a time limit), closespider_* ...
        status = "ok" if not errors and not stopped else ("failed" if pages == 0 else "partial")
        if unreadable and status != "failed":
            status = "parse_failed"  # fetched, but not one item of a page could be read: not "nothing new"
        message = "; ".join([*getattr(spider, "parse_reports", []), *spider.errors])
        if stopped:
            message = f"stopped before the end ({reason}); {message}".rstrip("; ")
        return CrawlHealth(source=spider.source, started_at=self.started_at, finished_at=datetime.now(timezone.utc),
                           pages=pages, items=self.written, errors=errors, newest_post_at=self.newest,
                           status=status, message=message[:2000],
                           parse_failures=stats.get_value("crisiswatch/parse_failures", 0),
                           unreadable_pages=unreadable)
