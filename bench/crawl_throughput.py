"""Crawl throughput: 20,000 posts from the replay server through the full pipeline into SQLite.

Run from the repository root with the project venv::

    .venv/bin/python bench/crawl_throughput.py               # 20,000 posts
    .venv/bin/python bench/crawl_throughput.py --posts 4000

A synthetic scenario (``scenarios.replay.synthetic``) is served by the replay server on
127.0.0.1 with its clock at the end, split evenly over four paging platforms: Mastodon
(40 statuses a page, Link headers), Hacker News (100 hits a page, 1000-hit time slices),
Reddit (OAuth token, 100 things a page) and Bluesky (author feeds plus profile lookups).
Each platform is crawled by a real ``python -m scrapy crawl`` subprocess
(``crawlers.run.crawl_source``) with ``keep_all`` so that every post is normalised,
matched, de-duplicated and written to a fresh SQLite store.

Two configurations run in the same process, alternating per platform to share the
machine's noise:

* crisiswatch: the project's settings (robots.txt, AutoThrottle, backoff retries,
  per-source concurrency 8, no delay);
* baseline: Scrapy's default settings (no robots.txt, no AutoThrottle, Scrapy's own
  retry middleware, 8 per domain, 16 in all), same spiders and pipelines.

Rates use the crawl time each crawl records in its CrawlHealth (spider open to close,
so interpreter start-up is left out). The last line printed is::

    posts_per_s=… pages_per_s=… baseline_posts_per_s=… baseline_pages_per_s=…
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import yaml  # noqa: E402

from crawlers.run import crawl_source  # noqa: E402
from scenarios.replay import ReplayServer  # noqa: E402
from scenarios.replay.synthetic import WATCHLISTS, synthetic_scenario  # noqa: E402

PLATFORMS = ["mastodon", "hackernews", "reddit", "bluesky"]
SCRAPY_DEFAULTS = {
    "ROBOTSTXT_OBEY": "False", "AUTOTHROTTLE_ENABLED": "False", "CONCURRENT_REQUESTS": "16",
    "CONCURRENT_REQUESTS_PER_DOMAIN": "8", "DOWNLOAD_DELAY": "0", "DOWNLOAD_TIMEOUT": "180", "RETRY_TIMES": "2",
    "RETRY_HTTP_CODES": "500,502,503,504,522,524,408,429", "DOWNLOADER_MIDDLEWARES": "{}",
    "DOWNLOAD_MAXSIZE": str(1024 * 1024 * 1024), "DOWNLOAD_WARNSIZE": str(32 * 1024 * 1024),
    "USER_AGENT": "Scrapy (+https://scrapy.org)",
}


def write_config(path: Path, server: ReplayServer, db: Path) -> None:
    sources = []
    for source in server.source_configs(concurrency=8, download_delay_s=0.0, keep_all=True, max_pages=10_000):
        spec = source.model_dump(exclude_defaults=True)
        spec["name"] = source.platform
        if source.platform == "hackernews":
            spec["options"] = {"hits_per_page": 100}
        if source.platform in ("mastodon", "bluesky", "reddit"):
            spec["options"] = {"limit": 40 if source.platform == "mastodon" else 100}
        sources.append(spec)
    document = {"store": {"sqlite_path": str(db)}, "watchlists": WATCHLISTS, "sources": sources}
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=20_000, help="posts in the scenario (split over 4 platforms)")
    args = parser.parse_args()
    per_platform = args.posts // len(PLATFORMS)
    scenario = synthetic_scenario(per_platform, PLATFORMS)
    print(f"scenario: {len(scenario.posts)} posts, {per_platform} on each of {', '.join(PLATFORMS)}")
    totals = {"crisiswatch": [0, 0, 0.0], "baseline": [0, 0, 0.0]}
    with tempfile.TemporaryDirectory() as tmp, ReplayServer(scenario, speedup=0, clock_start=scenario.end) as server:
        configs = {}
        for mode in totals:
            configs[mode] = Path(tmp) / f"{mode}.yaml"
            write_config(configs[mode], server, Path(tmp) / f"{mode}.db")
        for platform in PLATFORMS:
            for mode in totals:
                settings = SCRAPY_DEFAULTS if mode == "baseline" else None
                started = time.monotonic()
                health = crawl_source(platform, str(configs[mode]), settings=settings, timeout_s=900)
                wall = time.monotonic() - started
                if health.status != "ok" or health.items != per_platform:
                    raise SystemExit(f"{mode} crawl of {platform} went wrong: {health.status}, "
                                     f"{health.items}/{per_platform} posts, {health.message[:500]}")
                totals[mode][0] += health.items
                totals[mode][1] += health.pages
                totals[mode][2] += health.duration_s
                print(f"{mode:>11} {platform:<10} {health.items:>6} posts {health.pages:>5} pages "
                      f"{health.duration_s:6.2f}s crawl {wall:6.2f}s wall "
                      f"{health.items / health.duration_s:8.0f} posts/s")
    rates = {mode: (posts / seconds, pages / seconds) for mode, (posts, pages, seconds) in totals.items()}
    ratio = rates["crisiswatch"][0] / rates["baseline"][0]
    print(f"crisiswatch settings reach {ratio:.2f}x the posts/s of Scrapy's defaults "
          f"(politeness: robots.txt, AutoThrottle, backoff retries)")
    print(f"posts_per_s={rates['crisiswatch'][0]:.0f} pages_per_s={rates['crisiswatch'][1]:.1f} "
          f"baseline_posts_per_s={rates['baseline'][0]:.0f} baseline_pages_per_s={rates['baseline'][1]:.1f}")


if __name__ == "__main__":
    main()
