"""Enriching a time range again after a model change: the alert baselines follow the new labels,
also when the range is finished by later runs (the enrich DAG plans at most a few batches a run)."""

from __future__ import annotations

from datetime import timedelta

from alerts.series import SeriesCache
from crisiswatch.app import steps
from crisiswatch.core.config import Config
from crisiswatch.core.model import Enrichment
from crisiswatch.core.store.base import PostFilter
from crisiswatch.core.store.sqlite import SqliteStore
from tests.nlp.conftest import T0, make_posts

POSITIVE, HOUR = PostFilter(sentiments=("positive",)), timedelta(hours=1)  # the tiny head reads these positive


def cycle(store: SqliteStore) -> list[float]:
    """The positive counts an alert cycle reads (and caches) for the first three hours."""
    return list(SeriesCache(store).counts(POSITIVE, T0, T0 + 3 * HOUR, HOUR, timedelta(0)))


def test_a_range_finished_by_later_runs_leaves_the_baselines_on_the_new_labels(tmp_path, tiny_models):
    config = Config(data_dir=str(tmp_path / "data"), models=tiny_models.model_copy(update={"topics": False}))
    store = SqliteStore(tmp_path / "store.db")
    store.setup()
    posts = make_posts(["the refund never came", "great crew", "服务太差了", "ok"] * 30)  # 60 an hour for 2 h
    store.upsert_posts(posts)
    store.update_enrichments([Enrichment(post_id=p.id, sentiment="negative", models={"sentiment": "old@1"})
                              for p in posts])  # an earlier head read every post as negative
    assert cycle(store)[:2] == [0, 0]

    first_run = steps.plan_enrichment(store, batch_size=10, max_batches=2, since=T0, until=T0 + HOUR)
    assert sum(map(len, first_run)) == 20  # 60 cleared, 20 enriched by this run, 40 left for later runs
    for batch in first_run:
        steps.enrich_batch(store, config, batch)
    assert not steps.finish_relabel(store)  # not done: nothing to finish yet
    halfway = cycle(store)  # a cycle in between caches the half-relabelled hour

    for batch in steps.plan_enrichment(store, batch_size=10, max_batches=100):  # a later plain run
        steps.enrich_batch(store, config, batch)
    assert steps.finish_relabel(store)
    direct = [b.count for b in store.count_by_bucket(POSITIVE, T0, T0 + 3 * HOUR, HOUR)]
    assert halfway[0] == 20 and direct[0] == 60  # the whole hour relabelled ...
    assert cycle(store) == direct  # ... and the baselines read it, not the half cached in between
    assert direct[1] == 0  # outside the range: the old labels, untouched
    assert store.get_state(steps.RELABEL_KEY) is None and not steps.finish_relabel(store)
    store.close()


def test_a_range_noted_while_another_finishes_stays_noted(tmp_path, tiny_models):
    config = Config(data_dir=str(tmp_path / "data"), models=tiny_models.model_copy(update={"topics": False}))
    store = SqliteStore(tmp_path / "store.db")
    store.setup()
    posts = make_posts(["the refund never came", "great crew"] * 60)
    store.upsert_posts(posts)
    store.update_enrichments([Enrichment(post_id=p.id, sentiment="negative") for p in posts])
    steps.relabel_range(store, T0, T0 + HOUR)
    for batch in steps.plan_enrichment(store, batch_size=100, max_batches=10):
        steps.enrich_batch(store, config, batch)
    steps.relabel_range(store, T0 + HOUR, T0 + 2 * HOUR)  # the second range is cleared, not enriched yet
    assert not steps.finish_relabel(store)
    for batch in steps.plan_enrichment(store, batch_size=100, max_batches=10):
        steps.enrich_batch(store, config, batch)
    assert steps.finish_relabel(store) and store.get_state(steps.RELABEL_KEY) is None
    store.close()


def test_a_range_another_process_notes_while_one_run_finishes_stays_noted(tmp_path, tiny_models, monkeypatch):
    """The note of a range cleared by another process between a run's check and its removal of
    the finished ranges must survive that removal (else that range's final forget never comes)."""
    import json
    import subprocess
    import sys

    config = Config(data_dir=str(tmp_path / "data"), models=tiny_models.model_copy(update={"topics": False}))
    store = SqliteStore(tmp_path / "store.db")
    store.setup()
    posts = make_posts(["the refund never came", "great crew"] * 60)  # two hours
    store.upsert_posts(posts)
    store.update_enrichments([Enrichment(post_id=p.id, sentiment="negative") for p in posts])
    steps.relabel_range(store, T0, T0 + HOUR)
    for batch in steps.plan_enrichment(store, batch_size=100, max_batches=10):
        steps.enrich_batch(store, config, batch)
    other = ("import sys; from datetime import datetime; from crisiswatch.app import steps; "
             "from crisiswatch.core.store.sqlite import SqliteStore; store = SqliteStore(sys.argv[1]); "
             "print(steps.relabel_range(store, datetime.fromisoformat(sys.argv[2]), datetime.fromisoformat(sys.argv[3])))")
    forget = steps.forget_alert_series

    def forget_while_another_process_clears_the_next_hour(s):  # between finish_relabel's check and its update
        done = subprocess.run([sys.executable, "-c", other, str(tmp_path / "store.db"), (T0 + HOUR).isoformat(),
                               (T0 + 2 * HOUR).isoformat()], capture_output=True, text=True, check=True)
        assert int(done.stdout) == 60
        return forget(s)

    monkeypatch.setattr(steps, "forget_alert_series", forget_while_another_process_clears_the_next_hour)
    assert steps.finish_relabel(store)  # the first hour is done
    monkeypatch.undo()
    [noted] = json.loads(store.get_state(steps.RELABEL_KEY))
    assert noted["since"].startswith((T0 + HOUR).isoformat()[:19])  # the other process's hour, still noted
    assert not steps.finish_relabel(store)  # its posts wait for enrichment
    store.close()
