"""Scrapy settings shared by every crisiswatch spider.

Per-source politeness (concurrency, delay, timeout) is applied by the spider from the
source's config (``CrisisSpider.from_crawler``); these are the defaults and the wiring.
"""

BOT_NAME = "crisiswatch"
# Spiders are found by platform name through the registry (crawlers/spider_loader.py),
# so a platform that a third-party package registers is crawled like our own.
SPIDER_LOADER_CLASS = "crawlers.spider_loader.PlatformSpiderLoader"
SPIDER_MODULES: list[str] = []

# Politeness: obey robots.txt, adapt to the server's latency, back off on 429/5xx.
ROBOTSTXT_OBEY = True
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 60.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 2
DOWNLOAD_DELAY = 1.0
DOWNLOAD_TIMEOUT = 30
# Pages of several MB are normal for some feeds; beyond 32 MB something is wrong.
DOWNLOAD_WARNSIZE = 8 * 1024 * 1024
DOWNLOAD_MAXSIZE = 32 * 1024 * 1024
DOWNLOAD_FAIL_ON_DATALOSS = True
COOKIES_ENABLED = True
TELNETCONSOLE_ENABLED = False
USER_AGENT = "crisiswatch/0.1 (+https://github.com/crisiswatch/crisiswatch)"

RETRY_ENABLED = True
RETRY_TIMES = 4
RETRY_HTTP_CODES = [408, 429, 500, 502, 503, 504, 522, 524]
CRISISWATCH_BACKOFF_BASE_S = 1.0
"""First retry waits this long (doubling each time) when the server sends no Retry-After."""
CRISISWATCH_BACKOFF_MAX_S = 120.0
"""Longest wait between two attempts, Retry-After included."""

DOWNLOADER_MIDDLEWARES = {
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "crawlers.middlewares.BackoffRetryMiddleware": 550,
}

ITEM_PIPELINES = {
    "crawlers.pipelines.NormalisePipeline": 100,
    "crawlers.pipelines.WatchlistPipeline": 200,
    "crawlers.pipelines.DeduplicatePipeline": 300,
    "crawlers.pipelines.StorePipeline": 900,
}
CRISISWATCH_BATCH_SIZE = 200
"""Posts written to the store per batch (also flushed before every cursor update)."""

LOG_LEVEL = "INFO"
FEED_EXPORT_ENCODING = "utf-8"
# Posts that match no watchlist are dropped by design: not worth a warning each.
DEFAULT_DROPITEM_LOG_LEVEL = "DEBUG"
