"""``enrich``: run the NLP models over posts not enriched yet, in parallel batches.

Scheduled on the raw-posts Asset that crawls update. ``plan`` cuts the un-enriched backlog
into batches of post ids; ``enrich_batch`` is mapped over them (dynamic task mapping), each
in the ``crisiswatch_enrich`` pool because each loads the models; ``publish`` updates the
enriched-posts Asset, which schedules ``alerts``. Enrichments replace earlier ones, so a
rerun is harmless; a manual run with ``since``/``until`` re-enriches a time range (after a
model change, say). torch and transformers are imported inside the tasks only: importing
them at parse time would cost every DAG file seconds.
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
        from crisiswatch.core.store import PostFilter, open_store

        params = get_current_context()["params"]
        config = cw.task_config()
        since, until = cw.parse_time(params.get("since")), cw.parse_time(params.get("until"))
        scope = PostFilter(since=since, until=until, sources=tuple(params["sources"]) if params.get("sources") else None)
        size, limit = config.airflow.enrich_batch_size, config.airflow.enrich_max_batches
        with open_store(config) as store:
            if since or until:
                cleared = store.clear_enrichments(scope)
                print(f"cleared {cleared} enrichments between {since} and {until} to enrich them again")
            batches: list[list[str]] = []
            planned: set[str] = set()
            for posts in store.unenriched_batches(batch_size=size, filter=scope):
                ids = [post.id for post in posts if post.id not in planned]
                if not ids:  # the store hands the same posts again until they are enriched
                    break
                planned.update(ids)
                batches.append(ids)
                if len(batches) >= limit:
                    break
        print(f"{len(planned)} posts to enrich in {len(batches)} batches")
        return batches

    @task(pool=cw.ENRICH_POOL, queue=_config.airflow.enrich_queue, map_index_template="{{ task.op_kwargs['post_ids'] | length }} posts")
    def enrich_batch(post_ids: list[str]) -> int:
        """Enrich one batch and store the results; posts enriched meanwhile (by a retry or a
        concurrent CLI run) are left as they are."""
        from nlp.pipeline import enrich as enrich_posts

        from crisiswatch.core.store import open_store

        config = cw.task_config()
        with open_store(config) as store:
            done = store.get_enrichments(post_ids)
            posts = [post for post in store.get_posts(post_ids) if post.id not in done]
            if not posts:
                return 0
            regrouped: dict[str, str] = {}  # earlier posts that this batch turned into near-duplicates
            result = store.update_enrichments(enrich_posts(posts, config, duplicate_updates=regrouped))
            cw.apply_duplicate_groups(store, regrouped)
        for failure in result.failed[:20]:
            print(f"not stored: {failure.id}: {failure.reason}")
        print(f"enriched {result.written} of {len(posts)} posts ({len(result.failed)} failed)")
        return result.written

    @task(outlets=[cw.ENRICHED_POSTS])
    def publish(counts: list[int]) -> int:
        """Update the enriched-posts Asset when anything was enriched, which runs ``alerts``."""
        total = sum(counts)
        if not total:
            raise AirflowSkipException("nothing was enriched")
        get_current_context()["outlet_events"][cw.ENRICHED_POSTS].extra = {"posts": total}
        return total

    publish(enrich_batch.expand(post_ids=plan()))


enrich()
