"""Retries that respect the server: wait what ``Retry-After`` asks, else back off exponentially.

Scrapy's own RetryMiddleware re-queues a failed request at once, which turns a 429 into a
storm of 429s. This subclass keeps its bookkeeping (``max_retry_times``, retry stats,
give-up logging) and only adds the wait: the retried request carries the earliest time it
may go out, and ``process_request`` sleeps until then without holding a download slot.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import time
from datetime import datetime, timezone

from scrapy.downloadermiddlewares import cookies as _scrapy_cookies
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.http import Request, Response
from scrapy.utils.response import response_status_message
from tldextract import TLDExtract

log = logging.getLogger(__name__)

# Scrapy's cookie middleware asks tldextract whether a cookie domain is a public suffix;
# by default tldextract downloads the suffix list at the first cookie of every crawl
# (slow, and noisy where the crawler has no general internet access). The snapshot that
# ships with tldextract answers the same question offline.
_scrapy_cookies._split_domain = TLDExtract(suffix_list_urls=(), include_psl_private_domains=True)

NOT_BEFORE = "crisiswatch_not_before"


def retry_after_seconds(value: bytes | str | None, now: datetime | None = None) -> float | None:
    """Seconds asked by a ``Retry-After`` header (delta-seconds or an HTTP date); None if absent/invalid."""
    if not value:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


class BackoffRetryMiddleware(RetryMiddleware):
    def __init__(self, settings):  # noqa: ANN001
        super().__init__(settings)
        self.base_s = settings.getfloat("CRISISWATCH_BACKOFF_BASE_S", 1.0)
        self.max_s = settings.getfloat("CRISISWATCH_BACKOFF_MAX_S", 120.0)

    def _delay(self, request: Request, response: Response | None) -> float:
        asked = retry_after_seconds(response.headers.get("Retry-After")) if response is not None else None
        if asked is not None:
            return min(asked, self.max_s)
        attempt = request.meta.get("retry_times", 0)
        return min(self.base_s * (2 ** attempt) * random.uniform(0.8, 1.2), self.max_s)

    def _schedule(self, request: Request, retry: Request | None, delay: float, reason: str) -> Request | None:
        if retry is not None:
            retry.meta[NOT_BEFORE] = time.monotonic() + delay
            log.info("retrying %s in %.1fs (%s)", request.url, delay, reason)
            self.crawler.stats.inc_value("crisiswatch/backoff_s", delay)
        return retry

    async def process_request(self, request: Request) -> None:
        wait = request.meta.get(NOT_BEFORE, 0) - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        return None

    def process_response(self, request: Request, response: Response) -> Request | Response:
        if request.meta.get("dont_retry", False) or response.status not in self.retry_http_codes:
            return response
        reason = response_status_message(response.status)
        retry = self._retry(request, reason)
        return self._schedule(request, retry, self._delay(request, response), reason) or response

    def process_exception(self, request: Request, exception: Exception) -> Request | Response | None:
        if request.meta.get("dont_retry", False) or not isinstance(exception, self.exceptions_to_retry):
            return None
        retry = self._retry(request, exception)
        return self._schedule(request, retry, self._delay(request, None), type(exception).__name__)
