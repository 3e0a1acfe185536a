"""One crawl DAG per enabled source of the config: ``crawl_<source name>``.

Each source is its own DAG so that a failing or slow source never blocks the others; its
schedule is the source's ``schedule``; its crawl task runs in the platform's pool, so that
sources sharing an API share its rate limit. The crawl itself is ``python -m scrapy crawl``
in a subprocess (Twisted's reactor cannot restart inside a long-lived worker), and it
records the crawl's health in the store. Posts are upserted by id and each source keeps a
cursor, so a rerun or a backfill never duplicates anything.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import Param, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowException, AirflowSkipException

from crisiswatch.app import airflow_glue as cw


def crawl_dag(source: cw.SourceConfig, config: cw.Config):
    timeout = cw.parse_duration(config.airflow.crawl_timeout)

    @dag(
        dag_id=f"crawl_{source.name}",
        description=f"Collect {source.platform} posts for source '{source.name}'",
        schedule=cw.schedule(source.schedule),
        start_date=cw.START_DATE,
        catchup=False,
        max_active_runs=1,
        default_args=cw.task_defaults(config),
        tags=["crisiswatch", "crawl", source.platform],
        params={
            "settings": Param({}, type="object",
                              description="Extra Scrapy settings for this run only, e.g. "
                                          '{"DOWNLOAD_DELAY": 5} to go easy on a struggling platform or '
                                          '{"CLOSESPIDER_PAGECOUNT": 3} for a short check.'),
            "backfill_pages": Param(0, type="integer", minimum=0,
                                    description="Backfill: ignore the saved cursors and read up to this many "
                                                "pages back from the newest post (0 = a normal incremental "
                                                "crawl). Re-reading is idempotent: posts are upserted by id."),
        },
        doc_md=__doc__,
    )
    def crawl():
        @task(pool=cw.pool_name(source.platform), execution_timeout=timeout + timedelta(minutes=1),
              **cw.queue_args("crawl", config))
        def collect() -> dict:
            """Run the spider; a crawl that stored nothing because the platform failed raises,
            so Airflow retries it with backoff and finally tells the operations channels."""
            params = get_current_context()["params"]
            settings = dict(params.get("settings") or {})
            if params.get("backfill_pages"):
                settings["CRISISWATCH_BACKFILL_PAGES"] = int(params["backfill_pages"])
            config_path = cw.config_path()
            cw.task_config()  # secrets from Airflow connections into the environment of the crawl
            health = cw.steps.crawl_source(source.name, config_path, settings=settings,
                                           timeout_s=timeout.total_seconds())
            summary = health.model_dump(mode="json")
            print(f"crawl of {source.name}: {health.status}, {health.items} posts, {health.pages} pages, "
                  f"{health.errors} errors {health.message}")
            if health.status == "failed":
                raise AirflowException(f"crawl of source '{source.name}' failed: {health.message or 'no detail'}")
            return summary

        @task(outlets=[cw.RAW_POSTS])
        def announce(health: dict) -> int:
            """Update the raw-posts Asset only when posts were stored, so that enrichment runs
            when there is something to enrich."""
            if not health.get("items"):
                raise AirflowSkipException(f"no new posts from {source.name}")
            get_current_context()["outlet_events"][cw.RAW_POSTS].extra = {
                "source": source.name, "items": health["items"], "newest_post_at": health.get("newest_post_at")}
            return health["items"]

        announce(collect())

    return crawl()


_config = cw.dag_config()
for _source in _config.sources:
    if _source.enabled:
        globals()[f"crawl_{_source.name}"] = crawl_dag(_source, _config)
