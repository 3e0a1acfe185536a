"""Running crisiswatch itself: is each source still collecting, and telling the people who
keep it running when it is not or when a job failed for good.

None of this needs Airflow: the maintenance DAG and the task-failure callback call it
through ``airflow_glue``, and a cron job or a person can call it without. Staleness is the
one rule of the whole product, ``SourceConfig.stale_after()``, so that this health check and
the ``source_silence`` detector never disagree about the same source. Every operations
alert leaves through ``alerts.notify.send_message``, the sender incidents use (masking,
outbox, idempotency key, timeout, retries).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from crisiswatch.core.config import Config, SourceConfig
from crisiswatch.core.model import as_utc
from crisiswatch.core.store.base import Store

log = logging.getLogger(__name__)


@dataclass
class SourceHealth:
    """One enabled source as the maintenance summary shows it."""

    source: str
    platform: str
    status: str
    """``ok``, ``failing`` (the last crawls failed), ``stale`` (quiet for longer than
    ``stale_after()``), ``parse failure`` (the last crawl fetched pages but could not read
    their items: the platform changed its format) or ``never crawled``."""
    last_crawl_at: str | None
    last_items: int | None
    failed_in_a_row: int
    newest_post_at: str | None
    detail: str

    def line(self) -> str:
        return (f"{self.source:<24} {self.status:<14} last crawl {self.last_crawl_at or '-'}, "
                f"newest post {self.newest_post_at or '-'} {self.detail}")


def is_stale(source: SourceConfig, last_crawl_at: datetime, now: datetime) -> bool:
    """Stale once the source has been quiet for as long as the one staleness rule allows: the
    same instant at which ``source_silence`` scores 1 (its blue threshold)."""
    return as_utc(now) - as_utc(last_crawl_at) >= source.stale_after()


def source_health(store: Store, config: Config, now: datetime) -> list[SourceHealth]:
    """The health of every enabled source at ``now``, from its recorded crawls."""
    rows = []
    for source in config.sources:
        if source.enabled:
            rows.append(_health(source, store.crawl_history(source.name, limit=10), now))
    return rows


def _health(source: SourceConfig, history: list[Any], now: datetime) -> SourceHealth:
    failures = next((k for k, crawl in enumerate(history) if crawl.status != "failed"), len(history))
    newest = max((crawl.newest_post_at for crawl in history if crawl.newest_post_at), default=None)
    row = SourceHealth(source=source.name, platform=source.platform, status="ok",
                       last_crawl_at=history[0].finished_at.isoformat() if history else None,
                       last_items=history[0].items if history else None, failed_in_a_row=failures,
                       newest_post_at=newest.isoformat() if newest else None,
                       detail=history[0].message if history else "")
    if not history:
        row.status = "never crawled"
    elif failures:
        row.status = "failing"
    elif is_stale(source, history[0].finished_at, now):
        row.status = "stale"
        row.detail = f"no crawl for {as_utc(now) - as_utc(history[0].finished_at)} (allowed: {source.stale_after()})"
    elif history[0].status == "parse_failed":
        row.status = "parse failure"
        row.detail = f"{history[0].parse_failures} items unreadable: {history[0].message}"
    return row


def as_rows(health: list[SourceHealth]) -> list[dict[str, Any]]:
    """Plain dicts (an Airflow task's return value, JSON output)."""
    return [asdict(row) for row in health]


def alert_operations(config: Config, title: str, body: str, key: str, *, store: Store | None = None,
                     severity: str = "failure") -> dict[str, bool]:
    """Tell ``airflow.operations_channels``; channel -> delivered ({} when none is configured).

    ``key`` identifies the event (a task that failed, a health summary of one run), so a
    receiver can drop a repeat, and with a ``store`` a channel is not told the same event twice.
    """
    names = list(config.airflow.operations_channels)
    if not names:
        log.warning("%s (no airflow.operations_channels configured to tell)", title)
        return {}
    from alerts.notify import send_message
    from alerts.render import Message

    return send_message(config, names, Message(title=title, body=body, format="text"), key,
                        kind="operations", store=store, notify_type=severity)


def alert_unhealthy_sources(store: Store, config: Config, health: list[SourceHealth], at: datetime) -> dict[str, bool]:
    """Send the summary of the sources that need attention, if any, once per check time ``at``."""
    unhealthy = [row for row in health if row.status != "ok"]
    if not unhealthy:
        return {}
    return alert_operations(config, f"crisiswatch: {len(unhealthy)} of {len(health)} sources need attention",
                            "\n".join(row.line() for row in unhealthy),
                            f"operations:source-health:{as_utc(at):%Y%m%dT%H%M%S}", store=store, severity="warning")


def task_failed(config: Config, dag_id: str, task_id: str, run_id: str, *, map_index: int = -1, try_number: int = 1,
                max_tries: int = 0, error: BaseException | None = None, log_url: str = "(Airflow UI)") -> dict[str, bool]:
    """A task that failed for good: which, why, and where its log is."""
    mapped = f" [batch {map_index}]" if map_index >= 0 else ""
    body = "\n".join([
        f"DAG {dag_id}, task {task_id}{mapped}, run {run_id}",
        f"Attempt {try_number} of {max_tries + 1}: gave up.",
        f"Error: {type(error).__name__}: {error}" if error else "Error: see the log",
        f"Log: {log_url}",
    ])
    return alert_operations(config, f"crisiswatch: {dag_id}.{task_id}{mapped} failed", body,
                            f"operations:task-failed:{dag_id}.{task_id}.{map_index}:{run_id}")
