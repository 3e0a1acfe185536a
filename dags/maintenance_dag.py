"""``maintenance``: retention, topic-model refresh and the source-health summary.

Three independent tasks, so that one failing does not stop the others. Retention deletes
posts older than ``store.retention`` counted from the run's scheduled time (a rerun deletes
the same range again, which is then empty). The source-health summary goes to the log and,
when a source is failing, stale or never crawled, to ``airflow.operations_channels``.
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
        from crisiswatch.core.config import parse_duration
        from crisiswatch.core.store import PostFilter, open_store

        context = get_current_context()
        config = cw.task_config()
        cutoff = cw.run_time(context) - parse_duration(config.store.retention)
        expired = PostFilter(until=cutoff)
        with open_store(config) as store:
            if context["params"].get("dry_run"):
                count = store.count_posts(expired)
                print(f"dry run: {count} posts created before {cutoff} would be deleted")
                return count
            deleted = store.delete_posts(expired)
        print(f"deleted {deleted} posts created before {cutoff} (retention {config.store.retention})")
        return deleted

    @task
    def refresh_topics() -> dict:
        """Refit the topic model on recent posts so new stories get their own topics."""
        config = cw.task_config()
        if not config.models.topics:
            print("topics are switched off (models.topics: false)")
            return {}
        import nlp.topics
        from crisiswatch.core.store import open_store

        with open_store(config) as store:
            result = nlp.topics.refresh(store, config)
        print(f"topic model refreshed: {result}")
        return result if isinstance(result, dict) else {"result": str(result)}

    @task
    def source_health() -> list[dict]:
        from crisiswatch.core.store import open_store

        context = get_current_context()
        config = cw.task_config()
        with open_store(config) as store:
            rows = cw.source_health(store, config, cw.run_time(context))
        lines = [f"{row['source']:<24} {row['status']:<14} last crawl {row['last_crawl_at'] or '-'}, "
                 f"newest post {row['newest_post_at'] or '-'} {row['detail']}" for row in rows]
        print("\n".join(["source health:", *lines]) if lines else "no sources configured")
        unhealthy = [line for row, line in zip(rows, lines) if row["status"] != "ok"]
        if unhealthy and config.airflow.operations_channels:
            cw.send(config, config.airflow.operations_channels,
                    f"crisiswatch: {len(unhealthy)} of {len(rows)} sources need attention", "\n".join(unhealthy))
        return rows

    retention()
    refresh_topics()
    source_health()


maintenance()
