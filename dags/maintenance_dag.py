"""``maintenance``: retention, topic-model refresh and the source-health summary.

Three independent tasks, so that one failing does not stop the others. Retention deletes
posts older than ``store.retention`` counted from the run's scheduled time (a rerun deletes
the same range again, which is then empty). The source-health summary goes to the log and,
when a source is failing, stale or never crawled, to ``airflow.operations_channels``; a
source is stale by the one rule ``source_silence`` also uses (``SourceConfig.stale_after()``).
The work is ``steps.retention``, ``steps.refresh_topics`` and ``operations.source_health``:
the same functions without Airflow.
"""

from __future__ import annotations

from airflow.sdk import CronTriggerTimetable, Param, dag, get_current_context, task

from crisiswatch.app import airflow_glue as cw

_config = cw.dag_config()


@dag(
    dag_id="maintenance",
    description="Retention, topic-model refresh, source-health summary",
    schedule=CronTriggerTimetable(_config.airflow.maintenance_schedule, timezone="UTC"),
    start_date=cw.START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=cw.task_defaults(_config),
    tags=["crisiswatch", "maintenance"],
    params={
        "dry_run": Param(False, type="boolean", description="Count what retention would delete, delete nothing."),
    },
    doc_md=__doc__,
)
def maintenance():
    @task
    def retention() -> int:
        context = get_current_context()
        config = cw.task_config()
        dry_run = bool(context["params"].get("dry_run"))
        with cw.open_store(config) as store:
            count, cutoff = cw.steps.retention(store, config, cw.run_time(context), dry_run=dry_run)
        print(f"dry run: {count} posts created before {cutoff} would be deleted" if dry_run else
              f"deleted {count} posts created before {cutoff} (retention {config.store.retention})")
        return count

    @task
    def refresh_topics() -> dict:
        """Refit the topic model on recent posts so new stories get their own topics."""
        config = cw.task_config()
        if not config.models.topics:
            print("topics are switched off (models.topics: false)")
            return {}
        with cw.open_store(config) as store:
            result = cw.steps.refresh_topics(store, config)
        print(f"topic model refreshed: {result}")
        return result

    @task
    def source_health() -> list[dict]:
        context = get_current_context()
        config = cw.task_config()
        at = cw.run_time(context)
        with cw.open_store(config) as store:
            health = cw.operations.source_health(store, config, at)
            print("\n".join(["source health:", *(row.line() for row in health)]) if health
                  else "no sources configured")
            cw.operations.alert_unhealthy_sources(store, config, health, at)
        return cw.operations.as_rows(health)

    retention()
    refresh_topics()
    source_health()


maintenance()
