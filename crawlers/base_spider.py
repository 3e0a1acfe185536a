"""What every platform spider shares: its source config, walks with cursors, error counting.

A *walk* is one paging sequence for one target (a hashtag, an account, a feed): it starts
from the target's saved cursor, pages newest-first until it reaches posts it already has
(or ``max_pages``), and when its last request and every extra lookup it caused are done
it yields a ``CursorUpdate`` with the newest position it saw. A walk that lost a page
never moves its cursor, so the next crawl fetches that stretch again (the store's upsert
makes that harmless).

Every callback runs through ``_dispatch``: a page is parsed completely before any of its
posts is yielded, so a body that breaks half-way stores nothing from that page; one
malformed post inside a good page is skipped, logged and counted (``post_or_none``).

Every post a page holds goes through ``post_or_none``, so ``_dispatch`` can tally a page's
items against the ones that could not be read (``crawlers.parse_report``): a page whose
every item failed is a *parse failure* (the platform changed its format), not "nothing
new", and a page that lost more than a small share says which field broke, with a sample.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import scrapy
from pydantic import ValidationError
from scrapy.http import Response, TextResponse

from crawlers.items import CursorUpdate
from crawlers.normalise import TextKind, format_cursor_time
from crawlers.parse_report import PageTally, broken_field
from crisiswatch.core.config import DEFAULT_CONFIG_ENV, Config, ConfigError, SourceConfig, load_config, resolve_secrets
from crisiswatch.core.model import Author, Engagement, Post

log = logging.getLogger(__name__)
MAX_ERROR_MESSAGES = 5


class PageError(ValueError):
    """A response that cannot be read as the platform's format (the whole page is skipped)."""


@dataclass
class Walk:
    """Paging state of one target during one crawl (see the module docstring)."""

    key: str
    since: str | None
    numeric: bool = False
    """Cursor values are integers (ids, epoch seconds) compared as numbers; else fixed-width UTC times."""
    inclusive: bool | None = None
    """Take posts at the cursor again (times: same-second posts are not lost); default: times yes, ids no."""
    newest: str | None = None
    pages: int = 0
    pending: int = 0
    failed: bool = False
    finished: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def _order(self, value: str) -> Any:
        return int(value) if self.numeric else value

    def is_new(self, value: str) -> bool:
        if self.since is None:
            return True
        inclusive = (not self.numeric) if self.inclusive is None else self.inclusive
        new, since = self._order(value), self._order(self.since)
        return new >= since if inclusive else new > since

    def offer(self, value: str) -> None:
        if self.newest is None or self._order(value) > self._order(self.newest):
            self.newest = value


def time_cursor(when: datetime) -> str:
    return format_cursor_time(when)


class CrisisSpider(scrapy.Spider):
    """Base of the platform spiders; ``name`` is the platform, ``-a source=`` picks the source.

    The source's ``targets`` were validated by the platform's targets model when the config
    was loaded, so ``targets(kind)`` reads only keys the platform declares.
    """

    default_base_url: str = ""
    text_kind: TextKind = "html"
    """What the platform's post text holds (see ``crawlers.normalise.TextKind``): declare it."""
    title_kind: TextKind = "plain"

    def __init__(self, source: str | None = None, config: str | None = None, base_url: str | None = None,
                 **kwargs: Any):
        """``base_url`` (``-a base_url=``) replaces the source's for this run: the probe points a
        configured source at a recorded copy of the platform with it."""
        super().__init__(**kwargs)
        try:
            self.config: Config = load_config(config or os.environ.get(DEFAULT_CONFIG_ENV))
        except ConfigError as exc:
            raise ValueError(f"cannot start the {self.name} spider: invalid config:\n{exc}") from None
        self.source_config = self._pick_source(source)
        if base_url:
            self.source_config = self.source_config.model_copy(update={"base_url": base_url})
        self.source = self.source_config.name
        self.base_url = (self.source_config.base_url or self.default_base_url).rstrip("/")
        self.errors: list[str] = []
        self.parse_reports: list[str] = []
        """Pages that lost more than a small share of their items: which field, how many, a sample."""
        self._page: PageTally | None = None
        self.posts_yielded = 0
        self.followers: dict[str, int | None] = {}
        """Author id -> follower count, for platforms whose listings lack it (one look-up per crawl)."""

    def _pick_source(self, name: str | None) -> SourceConfig:
        if name:
            try:
                chosen = self.config.source(name)
            except KeyError as exc:
                raise ValueError(str(exc).strip("'\"")) from None
            if chosen.platform != self.name:
                raise ValueError(f"source '{name}' is a {chosen.platform} source, not {self.name}: "
                                 f"run `scrapy crawl {chosen.platform} -a source={name}`")
            return chosen
        candidates = [s for s in self.config.sources if s.platform == self.name]
        if len(candidates) != 1:
            raise ValueError(f"name the source with -a source=NAME ({len(candidates)} {self.name} sources configured)")
        return candidates[0]

    @classmethod
    def from_crawler(cls, crawler, *args: Any, **kwargs: Any):  # noqa: ANN001, ANN206
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider._apply_source_settings(crawler.settings)
        return spider

    def _apply_source_settings(self, settings) -> None:  # noqa: ANN001
        """Per-source politeness; values given on the command line (-s) still win."""
        source = self.source_config
        values = {
            "CONCURRENT_REQUESTS_PER_DOMAIN": source.concurrency,
            "DOWNLOAD_DELAY": source.download_delay_s,
            "AUTOTHROTTLE_START_DELAY": max(source.download_delay_s, 0.1),
            "USER_AGENT": f"crisiswatch/0.1 (+{self.config.contact_url})",
        }
        if "timeout_s" in source.options:
            values["DOWNLOAD_TIMEOUT"] = float(source.options["timeout_s"])
        if "retries" in source.options:
            values["RETRY_TIMES"] = int(source.options["retries"])
        for key, value in values.items():
            settings.set(key, value, priority="spider")

    # ---- cursors and requests ----------------------------------------------------------
    def load_cursors(self) -> dict[str, str]:
        """Saved cursors of this source, read once at start (keys are walk keys)."""
        from crisiswatch.core.store import open_store

        cursors: dict[str, str] = {}
        with open_store(self.config) as store:
            for key in self.walk_keys():
                value = store.get_cursor(self.source, key)
                if value is not None:
                    cursors[key] = value
        return cursors

    async def start(self):  # noqa: ANN201
        """Read the saved cursors, then issue each target's first request."""
        try:
            backfill_pages = self.settings.getint("CRISISWATCH_BACKFILL_PAGES", 0)
            if backfill_pages > 0:  # walk back from the newest post again, ignoring saved cursors
                self.source_config = self.source_config.model_copy(update={"max_pages": backfill_pages})
            cursors = {} if backfill_pages > 0 else self.load_cursors()
            requests = list(self.start_walks(cursors))
        except Exception as exc:  # noqa: BLE001 - missing secrets, unreachable store: one clear error
            self.count_error(f"cannot start: {exc}")
            return
        for request in requests:
            yield request

    def start_walks(self, cursors: dict[str, str]) -> Iterable[scrapy.Request]:
        raise NotImplementedError

    def walk_keys(self) -> list[str]:
        """Cursor keys this crawl will use (override when targets define them)."""
        return []

    def new_walk(self, key: str, cursors: dict[str, str], numeric: bool = False,
                 inclusive: bool | None = None) -> Walk:
        return Walk(key=key, since=cursors.get(key), numeric=numeric, inclusive=inclusive)

    def url(self, path: str, **params: Any) -> str:
        """``base_url + path`` with the query parameters that are not None."""
        return self.url_at(self.base_url, path, **params)

    @staticmethod
    def url_at(base: str, path: str, **params: Any) -> str:
        query = urlencode([(k, v) for k, v in params.items() if v is not None], doseq=True)
        return f"{base.rstrip('/')}{path}" + (f"?{query}" if query else "")

    def request(self, url: str, walk: Walk, handler: Callable[..., Iterable[Any]], *, method: str = "GET",
                headers: dict[str, str] | None = None, body: bytes | str | None = None,
                fallback: Callable[..., Iterable[Any]] | None = None, **context: Any) -> scrapy.Request:
        """A request whose response goes to ``handler(response, walk, **context)``.

        When it fails for good, ``fallback(walk, **context)`` runs if given (the failure is
        then only logged: the caller has a way on), else the failure is counted and the
        walk keeps its cursor.
        """
        walk.pending += 1
        return scrapy.Request(url, method=method, headers=headers, body=body, callback=self._dispatch,
                              errback=self._failed, dont_filter=True,
                              cb_kwargs={"handler": handler, "walk": walk, "context": context},
                              meta={"walk": walk.key, "fallback": fallback})

    def _dispatch(self, response: Response, handler: Callable[..., Iterable[Any]], walk: Walk,
                  context: dict[str, Any]) -> Iterator[Any]:
        self._page = tally = PageTally(response.url)
        try:
            outputs = list(handler(response, walk, **context))
        except Exception as exc:  # noqa: BLE001 - any parse failure skips the page, never the crawl
            walk.failed = True
            self.count_error(f"{response.url}: {type(exc).__name__}: {exc}")
            outputs = []
        else:
            self.inc_stat("crisiswatch/pages")
        finally:
            self._page = None
        self._judge_page(tally)
        walk.pending -= 1
        # Requests first: the next page downloads while this page's posts go through the pipelines.
        yield from (o for o in outputs if isinstance(o, scrapy.Request))
        yield from self._counted(o for o in outputs if not isinstance(o, scrapy.Request))
        yield from self._finish_if_done(walk)

    def _counted(self, outputs: Iterable[Any]) -> Iterator[Any]:
        for output in outputs:
            if isinstance(output, Post):
                self.posts_yielded += 1
            yield output

    def _failed(self, failure) -> Iterator[Any]:  # noqa: ANN001
        request = failure.request
        walk: Walk = request.cb_kwargs["walk"]
        walk.pending -= 1
        reason = failure.getErrorMessage() or failure.type.__name__
        response = getattr(failure.value, "response", None)
        if response is not None:
            reason = f"HTTP {response.status}"
        fallback = request.meta.get("fallback")
        if fallback is not None:
            log.warning("%s: %s failed (%s); carrying on without it", self.source, request.url, reason)
            yield from self._counted(fallback(walk, **request.cb_kwargs["context"]))
        else:
            walk.failed = True
            self.count_error(f"{request.url}: {failure.type.__name__}: {reason}")
        yield from self._finish_if_done(walk)

    def _finish_if_done(self, walk: Walk) -> Iterator[CursorUpdate]:
        if walk.pending or walk.finished:
            return
        walk.finished = True
        if walk.failed:
            log.warning("%s: cursor '%s' kept at %s because a page failed", self.source, walk.key, walk.since)
        elif walk.newest is not None and walk.newest != walk.since:
            yield CursorUpdate(key=walk.key, value=walk.newest, after=self.posts_yielded)

    def inc_stat(self, key: str, count: int = 1) -> None:
        if getattr(self, "crawler", None) is not None:  # parsers also run outside a crawl, in unit tests
            self.crawler.stats.inc_value(key, count)

    def _judge_page(self, tally: PageTally) -> None:
        """Count a page's unreadable items; report the page when it lost more than a small share."""
        if not tally.failed:
            return
        self.inc_stat("crisiswatch/parse_failures", tally.failed)
        if tally.unreadable:
            self.inc_stat("crisiswatch/unreadable_pages")
        report = tally.report()
        if report is not None:
            if len(self.parse_reports) < MAX_ERROR_MESSAGES:
                self.parse_reports.append(report)
            log.error("%s: %s", self.source, report)

    def count_error(self, message: str) -> None:
        if getattr(self, "crawler", None) is not None:  # parsers also run outside a crawl, in unit tests
            self.crawler.stats.inc_value("crisiswatch/errors")
        if len(self.errors) < MAX_ERROR_MESSAGES:
            self.errors.append(message)
        log.error("%s: %s", self.source, message)

    # ---- parsing helpers -------------------------------------------------------------
    def json_body(self, response: Response) -> Any:
        """The JSON document of a response; invalid UTF-8 is counted and replaced, broken JSON raises."""
        raw = response.body
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            self.count_error(f"{response.url}: invalid UTF-8 at byte {exc.start}; bad bytes replaced")
            text = raw.decode("utf-8", errors="replace")
        if not text.strip():
            raise PageError("empty body")
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise PageError(f"malformed JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); "
                            f"{len(raw)} bytes") from None

    def text_body(self, response: Response) -> str:
        """The page as text; invalid bytes in the declared encoding are counted and replaced."""
        encoding = response.encoding if isinstance(response, TextResponse) else "utf-8"
        try:
            return response.body.decode(encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            self.count_error(f"{response.url}: invalid {encoding} text ({exc}); bad bytes replaced")
            return response.body.decode("utf-8", errors="replace")

    def fill(self, post: Post) -> Post:
        """The post with its author's follower count from this crawl's look-ups, if one was found."""
        count = self.followers.get(post.author.id or "")
        if count is None:
            return post
        return post.model_copy(update={"author": post.author.model_copy(update={"followers": count})})

    def post_or_none(self, build: Callable[[], Post | None], where: str, item: Any = None) -> Post | None:
        """Build one post; a missing or malformed field skips (and counts) that post only.

        Every item of a page should come through here (give ``item``, the platform's own
        record, for the sample a parse report shows), so the page's tally is complete."""
        tally = self._page
        if tally is not None:
            tally.items += 1
        try:
            return build()
        except (KeyError, TypeError, ValueError, IndexError, AttributeError, ValidationError) as exc:
            field_name, detail = broken_field(exc)
            if tally is not None:
                tally.fail(field_name, detail, item)
            self.count_error(f"{where}: skipped a malformed post (field {field_name}: {detail})")
            return None

    def make_post(self, native_id: str | int, created_at: datetime, text: str, *, url: str | None = None,
                  title: str | None = None, language: str | None = None, author: Author | None = None,
                  engagement: Engagement | None = None, parent: str | None = None, thread: str | None = None,
                  raw: dict[str, Any] | None = None, rating: int | None = None) -> Post:
        native = str(native_id).strip()
        if not native:
            raise ValueError("empty native id")
        return Post(
            id=f"{self.source}:{native}", source=self.source, url=url, text=text or "", title=title or None,
            language=language or None, created_at=created_at, author=author or Author(),
            engagement=engagement or Engagement(), rating=rating,
            parent_id=f"{self.source}:{parent}" if parent else None,
            thread_id=f"{self.source}:{thread}" if thread else None,
            raw=raw if self.source_config.keep_raw else None,
        )

    def secret(self, key: str, required: bool = True) -> str | None:
        """A credential of the source, resolved from the environment (never logged)."""
        placeholder = self.source_config.credentials.get(key)
        if placeholder is None:
            if required:
                raise ValueError(f"source '{self.source}' needs credentials.{key} "
                                 f"(a ${{CRISISWATCH_...}} placeholder) for this request")
            return None
        return resolve_secrets(placeholder)

    def targets(self, kind: str) -> list[str]:
        return [t for t in self.source_config.targets.get(kind, []) if str(t).strip()]

    def option(self, key: str, default: Any) -> Any:
        return self.source_config.options.get(key, default)

    def accept_page(self, walk: Walk, items: Iterable[Any], build: Callable[[Any], Post], where: str,
                    cursor: Callable[[Any, Post], str] | None = None) -> tuple[list[Post], bool]:
        """The posts of one newest-first page that are new to the walk, and whether the page
        reached the walk's cursor (then no older page is needed). A malformed item is counted
        and skipped. ``cursor(item, post)`` gives an item's cursor value (default: post time)."""
        accepted, reached = [], False
        for item in items:
            post = self.post_or_none(lambda: build(item), where, item)
            if post is None:
                continue
            value = cursor(item, post) if cursor else time_cursor(post.created_at)
            if self.accept(walk, post, value):
                accepted.append(post)
            else:
                reached = True
        return accepted, reached

    def accept(self, walk: Walk, post: Post | None, cursor_value: str) -> bool:
        """Offer a parsed post to the walk: True when it is new (yield it); records the cursor."""
        if post is None:
            return False
        if not walk.is_new(cursor_value):
            return False
        walk.offer(cursor_value)
        return True
