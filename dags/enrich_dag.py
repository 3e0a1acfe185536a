"""``enrich``: run the NLP models over posts not enriched yet, in parallel batches.

Scheduled on the raw-posts Asset that crawls update. ``plan`` cuts the un-enriched backlog
into batches of post ids; ``enrich_batch`` is mapped over them (dynamic task mapping), each
in the ``crisiswatch_enrich`` pool because each loads the models; ``publish`` updates the
enriched-posts Asset, which schedules ``alerts``. Enrichments replace earlier ones, so a
rerun is harmless; a manual run with ``since``/``until`` re-enriches a time range (after a
model change, say; ``steps.relabel_range``): the alert rules' cached count series are dropped
when the range is cleared and again by the ``publish`` of the run that enriches its last posts
(``steps.finish_relabel``; a range larger than ``enrich_max_batches`` batches is finished by
later runs), so the baselines count the new labels. The tasks call the pipeline steps ``crisiswatch run`` uses
(``steps.plan_enrichment``, ``steps.enrich_batch``), which import torch and transformers
only when they run: importing them at parse time would cost every DAG file seconds.
"""

from __future__ import annotations

from airflow.sdk import Param, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowSkipException

from crisiswatch.app import airflow_glue as cw

_config = cw.dag_config()


@dag(
    dag_id="enrich",
    description="Sentiment, emotion, category, topic and near-duplicates for new posts",
    schedule=[cw.RAW_POSTS],
    start_date=cw.START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=cw.task_defaults(_config),
    tags=["crisiswatch", "nlp"],
    params={
        "since": cw.time_param("Re-enrich posts created from this time (ISO 8601, UTC)."),
        "until": cw.time_param("Re-enrich posts created before this time (ISO 8601, UTC)."),
        "sources": Param([], type="array", items={"type": "string"},
                         description="Only these sources (empty = all)."),
    },
    doc_md=__doc__,
)
def enrich():
    @task
    def plan() -> list[list[str]]:
        """Ids of the posts to enrich, in batches (at most ``airflow.enrich_max_batches``;
        what is left waits for the next run)."""
        params = get_current_context()["params"]
        config = cw.task_config()
        since, until = cw.parse_time(params.get("since")), cw.parse_time(params.get("until"))
        with cw.open_store(config) as store:
            batches = cw.steps.plan_enrichment(store, config.airflow.enrich_batch_size,
                                               config.airflow.enrich_max_batches, since=since, until=until,
                                               sources=params.get("sources") or None)
        print(f"{sum(map(len, batches))} posts to enrich in {len(batches)} batches")
        return batches

    @task(pool=cw.ENRICH_POOL, **cw.queue_args("nlp", _config), map_index_template="{{ task.op_kwargs['post_ids'] | length }} posts")
    def enrich_batch(post_ids: list[str]) -> int:
        """Enrich one batch with the step ``crisiswatch run`` uses; posts enriched meanwhile
        (by a retry or a concurrent CLI run) are left as they are."""
        config = cw.task_config()
        with cw.open_store(config) as store:
            result = cw.steps.enrich_batch(store, config, post_ids)
        for failure in result.failed[:20]:
            print(f"not stored: {failure.id}: {failure.reason}")
        print(f"enriched {result.written} posts ({len(result.failed)} failed)")
        return result.written

    @task(outlets=[cw.ENRICHED_POSTS])
    def publish(counts: list[int]) -> int:
        """Update the enriched-posts Asset when anything was enriched, which runs ``alerts``."""
        total = sum(counts)
        if not total:
            raise AirflowSkipException("nothing was enriched")
        # a range enriched again (by this run or an earlier one) may be complete now
        with cw.open_store(cw.task_config()) as store:
            cw.steps.finish_relabel(store)
        get_current_context()["outlet_events"][cw.ENRICHED_POSTS].extra = {"posts": total}
        return total

    publish(enrich_batch.expand(post_ids=plan()))


enrich()
