"""The enrich DAG with tiny transformer models, run for real with dag.test()."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from crisiswatch.core.config import load_config
from crisiswatch.core.model import Enrichment, Post
from crisiswatch.core.store.base import PostFilter
from crisiswatch.core.store import open_store

from alerts.series import SeriesCache

from .helpers import load_dagbag

pytestmark = pytest.mark.usefixtures("airflow_db")
T0 = datetime(2025, 3, 1, 8, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory) -> dict:
    from nlp.tiny import make_tiny_models

    return make_tiny_models(tmp_path_factory.mktemp("tiny-models")).model_dump(mode="json")


def write_config(tmp_path: Path, models: dict, batch_size: int) -> Path:
    import yaml

    config = {"data_dir": str(tmp_path / "data"), "store": {"sqlite_path": str(tmp_path / "store.db")},
              "models": {**models, "topics": False},
              "airflow": {"retries": 0, "enrich_batch_size": batch_size}}
    path = tmp_path / "crisiswatch.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def raw_event_count(dag_id: str) -> int:
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session

    with create_session() as session:
        return session.query(AssetEvent).filter(AssetEvent.source_dag_id == dag_id).count()


def test_enrich_maps_batches_is_idempotent_and_re_enriches_a_time_range(tmp_path, tiny_models, monkeypatch):
    config_file = write_config(tmp_path, tiny_models, batch_size=4)
    texts = ["Acme recall: my kettle leaked", "艾克美 的水壶漏水了，太失望", "Great service from acme today",
             "acme refund still not here after 3 weeks", "Acme kettle leaked again", "普通的一天", "", "acme?",
             "acme customer service never answers", "acme acme acme"]
    posts = [Post(id=f"masto:{k}", source="masto", text=text, created_at=T0 + timedelta(minutes=k))
             for k, text in enumerate(texts)]
    with open_store(load_config(config_file)) as store:
        store.upsert_posts(posts)
    events_before = raw_event_count("enrich")
    dag = load_dagbag(config_file, monkeypatch).dags["enrich"]

    run = dag.test()

    assert run.state == "success"
    batches = [ti for ti in run.get_task_instances() if ti.task_id == "enrich_batch"]
    assert sorted(ti.map_index for ti in batches) == [0, 1, 2]  # 10 posts in batches of 4
    assert all(ti.state == "success" for ti in batches)
    with open_store(load_config(config_file)) as store:
        enrichments = store.get_enrichments([post.id for post in posts])
        assert set(enrichments) == {post.id for post in posts}
        assert enrichments["masto:6"].skipped_reason  # empty text: recorded, not lost
        assert enrichments["masto:0"].sentiment is not None and enrichments["masto:0"].models
        first = {post_id: e.enriched_at for post_id, e in enrichments.items()}
    assert raw_event_count("enrich") == events_before + 1  # the enriched-posts Asset was updated

    run = dag.test(run_conf={"since": None, "until": None, "sources": []})  # nothing new: no work, no event
    assert run.state == "success"
    assert {ti.task_id: ti.state for ti in run.get_task_instances() if ti.task_id != "enrich_batch"} == {
        "plan": "success", "publish": "skipped"}
    assert raw_event_count("enrich") == events_before + 1

    since, until = T0 + timedelta(minutes=2), T0 + timedelta(minutes=5)
    # the range was labelled by an "old head" (all negative), and an alert cycle cached those counts
    negative, hour = PostFilter(sentiments=("negative",)), timedelta(hours=1)
    with open_store(load_config(config_file)) as store:
        store.update_enrichments([Enrichment(post_id=f"masto:{k}", sentiment="negative", models={"sentiment": "old@1"})
                                  for k in (2, 3, 4)])
        old = SeriesCache(store).counts(negative, T0, T0 + 2 * hour, hour, timedelta(0))
    run = dag.test(run_conf={"since": since.isoformat(), "until": until.isoformat(), "sources": []})
    assert run.state == "success"
    with open_store(load_config(config_file)) as store:
        again = {post_id: e.enriched_at for post_id, e in store.get_enrichments(first).items()}
        now = SeriesCache(store).counts(negative, T0, T0 + 2 * hour, hour, timedelta(0))
        direct = [b.count for b in store.count_by_bucket(negative, T0, T0 + 2 * hour, hour)]
    redone = {post_id for post_id in first if again[post_id] != first[post_id]}
    assert redone == {"masto:2", "masto:3", "masto:4"}
    assert list(now) == direct != list(old)  # the alert baselines count the range's new labels
