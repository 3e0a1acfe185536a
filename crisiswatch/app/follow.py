"""Continuous mode (``crisiswatch run --follow``): alerts within a minute of the posts.

The scheduled mode runs crawl -> enrich -> evaluate every few minutes, so a post waits for
the next crawl, then for its bucket to close. Here each source has its own crawl loop at a
short interval (a slow source does not hold the others), every crawl that stored posts
wakes the evaluator, which enriches what is new (one micro-batch: whatever arrived since
the last pass) and evaluates at once with the open bucket nowcast
(``alerts.series.nowcast_time``). Without new data the evaluator still runs every
``idle_every`` seconds: escalation timers and source silence need time, not posts.

A source with ``mode: stream`` also gets a streaming client (``crawlers.stream.run_stream``:
Mastodon streaming, Bluesky Jetstream) in its own thread; every batch it stores wakes the
evaluator too, so such a post waits for no crawl at all. Its polling loop keeps running at
``backfill_every_s`` (account timelines have no public stream, and a crawl is the safety net
for anything a stream and its resume could not give).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from crisiswatch.core.config import Config
from crisiswatch.core.model import utc_now

log = logging.getLogger(__name__)


@dataclass
class FollowStats:
    crawls: int = 0
    passes: int = 0
    enriched: int = 0
    streamed: int = 0
    """Posts stored by streaming clients."""
    errors: list[str] = field(default_factory=list)
    alerts: list[Any] = field(default_factory=list)
    """Every evaluation report (CycleReport) of the run."""


def crawl_loop(name: str, crawl_one: Callable[[str], Any], every_s: float, wake: threading.Event,
               stop: threading.Event, stats: FollowStats) -> None:
    """Crawl one source every ``every_s`` seconds; wake the evaluator when posts were stored."""
    while not stop.is_set():
        started = time.monotonic()
        try:
            health = crawl_one(name)
            stats.crawls += 1
            if getattr(health, "items", 1):
                wake.set()
        except Exception as exc:  # noqa: BLE001 - a failing source must not stop the others
            stats.errors.append(f"crawl {name}: {type(exc).__name__}: {exc}")
        stop.wait(max(0.0, every_s - (time.monotonic() - started)))


def stream_loop(name: str, stream_one: Callable[[str, threading.Event, Callable[[int], None]], Any],
                wake: threading.Event, stop: threading.Event, stats: FollowStats) -> None:
    """Run one source's streaming client until ``stop``; whatever it stores wakes the evaluator."""
    def stored(count: int) -> None:
        stats.streamed += count
        wake.set()

    while not stop.is_set():
        try:
            stream_one(name, stop, stored)  # returns when stop is set; reconnects by itself
        except Exception as exc:  # noqa: BLE001 - a client that cannot even start: say so, retry later
            stats.errors.append(f"stream {name}: {type(exc).__name__}: {exc}")
            log.exception("stream %s failed", name)
            stop.wait(30)


def follow(config: Config, sources: list[str], crawl_one: Callable[[str], Any], enrich: Callable[[], int],
           evaluate: Callable[[datetime], Any], crawl_every_s: float = 20.0, idle_every_s: float = 60.0,
           stop: threading.Event | None = None, duration_s: float | None = None,
           on_pass: Callable[[Any], None] | None = None, streams: list[str] | None = None,
           stream_one: Callable[[str, threading.Event, Callable[[int], None]], Any] | None = None,
           backfill_every_s: float = 300.0,
           next_due: Callable[[datetime], datetime | None] | None = None) -> FollowStats:
    """Run the per-source crawl loops (and streams) and the data-triggered evaluator until
    ``stop`` is set (or ``duration_s`` has passed). The step functions are passed in
    (crisiswatch.app.steps in production, fakes in tests). Sources in ``streams`` are
    followed by ``stream_one`` and crawled every ``backfill_every_s`` only. ``next_due(now)``
    is the next instant an evaluation sees more than at ``now`` without new posts (the open
    bucket becoming nowcastable, a bucket closing): the evaluator wakes then too."""
    stop = stop or threading.Event()
    wake = threading.Event()
    stats = FollowStats()
    streamed = [name for name in (streams or []) if stream_one is not None]
    threads = [threading.Thread(target=crawl_loop, args=(name, crawl_one,
                                                         backfill_every_s if name in streamed else crawl_every_s,
                                                         wake, stop, stats),
                                name=f"crawl-{name}", daemon=True) for name in sources]
    threads += [threading.Thread(target=stream_loop, args=(name, stream_one, wake, stop, stats),
                                 name=f"stream-{name}", daemon=True) for name in streamed]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + duration_s if duration_s is not None else None
    try:
        while not stop.is_set():
            timeout = idle_every_s if deadline is None else max(0.0, min(idle_every_s, deadline - time.monotonic()))
            due = next_due(utc_now()) if next_due is not None else None
            if due is not None:
                timeout = min(timeout, max(0.0, (due - utc_now()).total_seconds()) + 0.05)
            until = time.monotonic() + timeout
            while not wake.is_set() and not stop.is_set() and time.monotonic() < until:
                wake.wait(min(1.0, max(0.0, until - time.monotonic())))
            if stop.is_set():
                break
            wake.clear()
            try:
                stats.enriched += enrich()
                report = evaluate(utc_now())
                stats.passes += 1
                stats.alerts.append(report)
                if on_pass is not None:
                    on_pass(report)
            except Exception as exc:  # noqa: BLE001 - the next pass tries again
                stats.errors.append(f"evaluate: {type(exc).__name__}: {exc}")
                log.exception("follow pass failed")
            if deadline is not None and time.monotonic() >= deadline:
                break
    except KeyboardInterrupt:  # Ctrl-C (SIGINT): stop the loops and report what was done
        log.info("interrupted")
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=5)
    return stats


def follow_pipeline(store, config: Config, config_path: str | Path, crawl_every_s: float = 20.0,  # noqa: ANN001
                    idle_every_s: float = 60.0, duration_s: float | None = None,
                    on_pass: Callable[[Any], None] | None = None, stop: threading.Event | None = None,
                    backfill_every_s: float = 300.0) -> FollowStats:
    """``follow`` with the real steps: Scrapy crawls, the streaming clients of ``mode: stream``
    sources, the configured NLP models, nowcast evaluation."""
    from crisiswatch.app import steps

    from alerts.engine import evaluate_cycle

    lock = threading.Lock()  # one enrich/evaluate pass at a time on the store

    def enrich() -> int:
        with lock:
            done, errors = steps.enrich(store, config)
            for error in errors:
                log.warning(error)
            return done

    def evaluate(now: datetime) -> Any:
        with lock:
            return evaluate_cycle(store, config, now=now, nowcast=True)

    def next_due(now: datetime) -> datetime | None:
        """When the open bucket of the smallest rule bucket becomes nowcastable, else closes."""
        from alerts.series import floor_time, nowcast_from

        from crisiswatch.core.config import parse_duration

        buckets = [parse_duration(r.bucket) for r in config.rules if r.enabled]
        if not buckets:
            return None
        size = min(buckets)
        start = floor_time(now, size)
        ready = nowcast_from(start, size)
        return ready if now < ready else start + size

    def stream_one(name: str, stopping: threading.Event, stored: Callable[[int], None]) -> Any:
        from crawlers.stream import run_stream

        from crisiswatch.core.store import open_store

        with open_store(config) as own:  # one connection per thread
            return run_stream(name, str(Path(config_path).resolve()), own, stopping, on_stored=stored)

    sources = [s.name for s in config.sources if s.enabled]
    streams = [s.name for s in config.sources if s.enabled and s.mode == "stream"]
    return follow(config, sources, lambda name: steps.crawl_source(name, config_path), enrich, evaluate,
                  crawl_every_s, idle_every_s, stop, duration_s, on_pass, streams=streams,
                  stream_one=stream_one if streams else None, backfill_every_s=backfill_every_s, next_due=next_due)
