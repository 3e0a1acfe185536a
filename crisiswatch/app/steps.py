"""The pipeline as plain steps: crawl -> enrich -> evaluate alerts (and deliver) -> reports,
and the maintenance that keeps it going.

``crisiswatch run``, ``crisiswatch demo`` and the Airflow DAGs call these functions, so a
step behaves the same wherever it runs: a DAG task only adds what Airflow owns (params,
Assets, pools, retries). Nothing here imports Airflow. Each step reports what it did and what failed
instead of raising, so one broken source or a missing component never hides the others'
work: a cycle always ends with whatever could be collected, enriched and evaluated.
The components (``crawlers``, ``nlp``, ``alerts``) are imported inside the steps: they are
heavy, and a checkout without one of them still runs the rest.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from crisiswatch.core.config import Config
from crisiswatch.core.model import CrawlHealth, Incident, as_utc, utc_now
from crisiswatch.core.store.base import PostFilter, Store, WriteResult

log = logging.getLogger(__name__)


@dataclass
class CycleResult:
    """What one pass of the pipeline did at scenario or wall-clock time ``at``."""

    at: datetime
    crawls: list[CrawlHealth] = field(default_factory=list)
    enriched: int = 0
    alerts: Any | None = None
    """``alerts.engine.CycleReport`` when alerts were evaluated."""
    errors: list[str] = field(default_factory=list)

    @property
    def collected(self) -> int:
        return sum(h.items for h in self.crawls)

    def summary(self) -> str:
        parts = [f"{self.collected} posts from {len(self.crawls)} source(s)", f"{self.enriched} enriched"]
        if self.alerts is not None:
            parts.append(f"{len(self.alerts.fired)} rule(s) firing, {len(self.alerts.changes)} incident change(s), "
                         f"{self.alerts.delivered} notification(s) delivered")
        if self.errors:
            parts.append(f"{len(self.errors)} error(s)")
        return ", ".join(parts)


@dataclass
class Reports:
    briefing: Path
    incidents: list[Path]


def missing_component(name: str, exc: ImportError) -> str:
    return f"{name} is not installed in this checkout ({exc}); step skipped"


# ---- steps -------------------------------------------------------------------------------
def crawl_source(name: str, config_path: str | Path | None, settings: dict[str, Any] | None = None,
                 timeout_s: float | None = None) -> CrawlHealth:
    """Crawl one source (``python -m scrapy crawl`` in a subprocess) and record its health."""
    from crawlers.run import crawl_source as run_spider

    return run_spider(name, config_path=str(config_path) if config_path else None, settings=settings or None,
                      timeout_s=timeout_s)


def crawl(config: Config, config_path: str | Path, sources: Iterable[str] | None = None, parallel: int = 2,
          timeout_s: float | None = None) -> tuple[list[CrawlHealth], list[str]]:
    """Crawl the enabled sources (``python -m scrapy crawl`` subprocesses, ``parallel`` at a time)."""
    try:
        import crawlers.run  # noqa: F401 - present? (crawl_source imports it per source)
    except ImportError as exc:
        return [], [missing_component("crawlers.run (the crawlers)", exc)]
    names = list(sources) if sources is not None else [s.name for s in config.sources if s.enabled]
    if not names:
        return [], []

    def one(name: str) -> CrawlHealth | str:
        try:
            return crawl_source(name, config_path, timeout_s=timeout_s)
        except Exception as exc:  # noqa: BLE001 - one source failing must not stop the others
            log.debug("crawl of %s failed", name, exc_info=True)
            return f"crawl {name}: {type(exc).__name__}: {exc}"

    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        outcomes = list(pool.map(one, names))
    health = [o for o in outcomes if isinstance(o, CrawlHealth)]
    errors = [o for o in outcomes if isinstance(o, str)]
    errors += [f"crawl {h.source}: {h.status}: {h.message}" for h in health if h.status == "failed"]
    return health, errors


def enrich(store: Store, config: Config, progress: Callable[[int], None] | None = None) -> tuple[int, list[str]]:
    """Enrich every post that has no enrichment yet (the models load once per process)."""
    try:
        from nlp.enrich import enrich_store
    except ImportError as exc:
        return 0, [missing_component("nlp (enrichment)", exc)]
    done = 0

    def count(batch: int) -> None:  # batches are stored as they go: count them even if a later part fails
        nonlocal done
        done += batch
        if progress is not None:
            progress(batch)

    try:
        enrich_store(store, config, progress=count)
        finish_relabel(store)
    except Exception as exc:  # noqa: BLE001 - the alert step still runs on what is enriched
        log.debug("enrichment failed", exc_info=True)
        return done, [f"enrich: {type(exc).__name__}: {exc}"]
    return done, []


def plan_enrichment(store: Store, batch_size: int, max_batches: int, since: datetime | None = None,
                    until: datetime | None = None, sources: Iterable[str] | None = None) -> list[list[str]]:
    """Ids of posts to enrich, in at most ``max_batches`` batches (the rest waits for the next
    run). With ``since``/``until`` the posts created in that range are enriched again (after a
    model change, say): their enrichments are cleared first."""
    scope = PostFilter(since=since, until=until, sources=tuple(sources) if sources else None)
    if since or until:
        cleared = relabel_range(store, since, until, sources)
        log.info("cleared %d enrichments between %s and %s to enrich them again", cleared, since, until)
    batches: list[list[str]] = []
    planned: set[str] = set()
    for posts in store.unenriched_batches(batch_size=batch_size, filter=scope):
        ids = [post.id for post in posts if post.id not in planned]
        if not ids:  # the store hands the same posts again until they are enriched
            break
        planned.update(ids)
        batches.append(ids)
        if len(batches) >= max_batches:
            break
    return batches


RELABEL_KEY = "enrich:relabel-pending"
"""Time ranges whose enrichments were cleared to be enriched again and are not all done yet."""


def relabel_range(store: Store, since: datetime | None, until: datetime | None,
                  sources: Iterable[str] | None = None) -> int:
    """Clear the enrichments of the posts created in ``[since, until)`` (``until`` defaults to
    now) so that enrichment labels them again, after a model change; returns how many.

    The alert rules' cached count series hold the old labels' counts as their baselines'
    history (``alerts.series``): they are forgotten now, and again by ``finish_relabel`` once
    every post of the range has its new enrichment, because cycles in between cache
    half-relabelled counts. The range is noted in the store until then, so whichever run
    enriches its last posts (a later scheduled run, another worker) finishes it."""
    until = until or utc_now()
    scope = PostFilter(since=since, until=until, sources=tuple(sources) if sources else None)
    cleared = store.clear_enrichments(scope)
    if cleared:
        noted = scope.model_dump(mode="json", include={"since", "until", "sources"})
        store.update_state(RELABEL_KEY, lambda raw: json.dumps((json.loads(raw) if raw else []) + [noted]))
        forget_alert_series(store)
    return cleared


def finish_relabel(store: Store) -> bool:
    """When no post of a noted range (``relabel_range``) is left without its enrichment: forget
    the alert series once more and drop the note. True when that happened."""
    raw = store.get_state(RELABEL_KEY)
    if not raw:
        return False
    ranges = json.loads(raw)
    for noted in ranges:
        if next(iter(store.unenriched_batches(batch_size=1, filter=PostFilter(**noted))), []):
            return False  # not done yet: a later run finishes it
    forget_alert_series(store)

    def without_done(now: str | None) -> str | None:  # a range noted meanwhile stays noted
        rest = [noted for noted in (json.loads(now) if now else []) if noted not in ranges]
        return json.dumps(rest) if rest else None

    store.update_state(RELABEL_KEY, without_done)
    return True


def forget_alert_series(store: Store) -> int:
    """Drop the alert rules' cached count series, so the next cycle reads them from the posts."""
    from alerts.series import forget

    return forget(store)


def enrich_batch(store: Store, config: Config, post_ids: Iterable[str]) -> WriteResult:
    """Enrich the posts ``post_ids`` that are not enriched yet (a retry, or a concurrent run,
    may have done some meanwhile) with the one batch step of ``nlp``."""
    from nlp.enrich import enrich_batch as enrich_and_store

    ids = list(post_ids)
    done = store.get_enrichments(ids)
    posts = [post for post in store.get_posts(ids) if post.id not in done]
    return enrich_and_store(store, posts, config) if posts else WriteResult()


def evaluate(store: Store, config: Config, now: datetime | None = None) -> tuple[Any | None, list[str]]:
    """One alert cycle at ``now``: detectors, incidents, escalation, delivery (and the outbox)."""
    try:
        from alerts.engine import evaluate_cycle
    except ImportError as exc:
        return None, [missing_component("alerts (the alert engine)", exc)]
    try:
        report = evaluate_cycle(store, config, now=now)
    except Exception as exc:  # noqa: BLE001
        log.debug("alert evaluation failed", exc_info=True)
        return None, [f"alerts: {type(exc).__name__}: {exc}"]
    return report, list(report.errors)


def deliver(store: Store, config: Config, now: datetime | None = None) -> int:
    """Send the incident notifications still due (queued, or failed and past their backoff)."""
    from alerts.notify import deliver_pending

    return deliver_pending(store, config, now=now)


def retention(store: Store, config: Config, at: datetime, dry_run: bool = False) -> tuple[int, datetime]:
    """Delete posts created more than ``store.retention`` before ``at`` (or count them, dry);
    returns (posts, cutoff). Counted from a fixed ``at``, a rerun deletes the same, empty range."""
    from crisiswatch.core.config import parse_duration

    cutoff = as_utc(at) - parse_duration(config.store.retention)
    expired = PostFilter(until=cutoff)
    return (store.count_posts(expired) if dry_run else store.delete_posts(expired)), cutoff


def refresh_topics(store: Store, config: Config) -> dict[str, Any]:
    """Refit the topic model on recent posts so new stories get their own topics ({} when off)."""
    if not config.models.topics:
        return {}
    from nlp.topics import refresh

    result = refresh(store, config)
    return result if isinstance(result, dict) else {"result": str(result)}


def run_cycle(store: Store, config: Config, config_path: str | Path, now: datetime | None = None,
              parallel: int = 2, crawl_timeout_s: float | None = None,
              progress: Callable[[int], None] | None = None) -> CycleResult:
    """crawl -> enrich -> evaluate, at ``now`` (default: the wall clock)."""
    result = CycleResult(at=as_utc(now) if now else utc_now())
    result.crawls, errors = crawl(config, config_path, parallel=parallel, timeout_s=crawl_timeout_s)
    result.errors += errors
    result.enriched, errors = enrich(store, config, progress)
    result.errors += errors
    result.alerts, errors = evaluate(store, config, now)
    result.errors += errors
    return result


def write_reports(store: Store, config: Config, start: datetime, end: datetime, out_dir: str | Path,
                  incidents: Iterable[Incident] | None = None) -> Reports:
    """An incident report for each incident of the period, then the briefing that links them."""
    from crisiswatch.reports.briefing import incidents_in_period, write_briefing
    from crisiswatch.reports.incident import write_incident_report

    chosen = list(incidents) if incidents is not None else incidents_in_period(store, start, end)
    paths = [write_incident_report(store, config, incident.id, out_dir) for incident in chosen]
    return Reports(briefing=write_briefing(store, config, start, end, out_dir), incidents=paths)


def write_briefing(store: Store, config: Config, start: datetime, end: datetime, out_dir: str | Path) -> Path:
    """The situation briefing for ``start`` .. ``end`` as one HTML file in ``out_dir``."""
    from crisiswatch.reports.briefing import write_briefing as write

    return write(store, config, start, end, out_dir)


def send_briefing(config: Config, path: Path, start: datetime, end: datetime,
                  channels: Iterable[str] | None = None, *, store: Store | None = None, resend: bool = False,
                  title: str | None = None) -> dict[str, bool]:
    """Send the briefing (HTML body, the file attached) to ``airflow.briefing_channels``;
    channel -> delivered.

    It goes through the incidents' sender (outbox, masking, idempotency key, retries). The key
    is the period, so a channel that already received this period's briefing is not sent it
    again (a rerun, a retried task, the command run twice) unless ``resend``. Without a
    ``store`` the configured one is opened to look that up.
    """
    names = list(channels) if channels is not None else list(config.airflow.briefing_channels)
    if not names:
        return {}
    from alerts.notify import send_message
    from alerts.render import Message

    start, end = as_utc(start), as_utc(end)
    message = Message(title=title or f"crisiswatch briefing {start:%Y-%m-%d %H:%M} - {end:%Y-%m-%d %H:%M} UTC",
                      body=path.read_text(encoding="utf-8"), format="html", attachments=[str(path)])
    key = f"briefing:{start:%Y%m%dT%H%M}-{end:%Y%m%dT%H%M}"
    if store is not None:
        return send_message(config, names, message, key, kind="briefing", store=store, resend=resend)
    from crisiswatch.core.store import open_store

    with open_store(config) as opened:
        return send_message(config, names, message, key, kind="briefing", store=opened, resend=resend)


def reports_period(end: datetime, hours: float = 24) -> tuple[datetime, datetime]:
    end = as_utc(end)
    return end - timedelta(hours=hours), end
