"""The pipeline as plain steps: crawl -> enrich -> evaluate alerts (and deliver) -> reports.

``crisiswatch run``, ``crisiswatch demo`` and the Airflow DAGs call these functions, so a
step behaves the same wherever it runs. Each step reports what it did and what failed
instead of raising, so one broken source or a missing component never hides the others'
work: a cycle always ends with whatever could be collected, enriched and evaluated.
The components (``crawlers``, ``nlp``, ``alerts``) are imported inside the steps: they are
heavy, and a checkout without one of them still runs the rest.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from crisiswatch.core.config import Config
from crisiswatch.core.model import CrawlHealth, Incident, as_utc, utc_now
from crisiswatch.core.store.base import Store

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
def crawl(config: Config, config_path: str | Path, sources: Iterable[str] | None = None, parallel: int = 2,
          timeout_s: float | None = None) -> tuple[list[CrawlHealth], list[str]]:
    """Crawl the enabled sources (``python -m scrapy crawl`` subprocesses, ``parallel`` at a time)."""
    try:
        from crawlers.run import crawl_source
    except ImportError as exc:
        return [], [missing_component("crawlers.run (the crawlers)", exc)]
    names = list(sources) if sources is not None else [s.name for s in config.sources if s.enabled]
    if not names:
        return [], []

    def one(name: str) -> CrawlHealth | str:
        try:
            return crawl_source(name, config_path=str(config_path), timeout_s=timeout_s)
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
        import nlp
    except ImportError as exc:
        return 0, [missing_component("nlp (enrichment)", exc)]
    done = 0

    def count(batch: int) -> None:  # batches are stored as they go: count them even if a later part fails
        nonlocal done
        done += batch
        if progress is not None:
            progress(batch)

    try:
        nlp.enrich_store(store, config, progress=count)
    except Exception as exc:  # noqa: BLE001 - the alert step still runs on what is enriched
        log.debug("enrichment failed", exc_info=True)
        return done, [f"enrich: {type(exc).__name__}: {exc}"]
    return done, []


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


def send_briefing(config: Config, path: Path, start: datetime, end: datetime,
                  channels: Iterable[str] | None = None) -> dict[str, bool]:
    """Send the briefing (HTML body, the file attached) to ``airflow.briefing_channels``."""
    names = list(channels) if channels is not None else list(config.airflow.briefing_channels)
    if not names:
        return {}
    from crisiswatch.app.airflow_glue import send

    title = f"crisiswatch briefing {start:%Y-%m-%d %H:%M} - {end:%Y-%m-%d %H:%M} UTC"
    return send(config, names, title, path.read_text(encoding="utf-8"), body_format="html", attach=[path])


def reports_period(end: datetime, hours: float = 24) -> tuple[datetime, datetime]:
    end = as_utc(end)
    return end - timedelta(hours=hours), end
