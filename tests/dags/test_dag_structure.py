"""The DAG files parse as Airflow parses them, and declare what the operators rely on:
one crawl DAG per source with its schedule and platform pool, Asset-driven enrichment and
alerting, retries with backoff, failure callbacks, params for manual runs."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from .helpers import load_dagbag

CONFIG = """\
watchlists:
  - name: acme
    terms: [acme, 艾克美]
sources:
  - name: masto-acme
    platform: mastodon
    targets: {hashtags: [acme]}
    schedule: 15m
  - name: masto-news
    platform: mastodon
    targets: {accounts: [news]}
    schedule: "*/5 * * * *"
  - name: acme-blog
    platform: rss
    targets: {feeds: ["https://example.org/feed.xml"]}
    schedule: 1h
  - name: old-forum
    platform: rss
    enabled: false
channels:
  - name: ops
    url: json://127.0.0.1:9/ops
alerting:
  evaluate_every: 2m
airflow:
  retries: 4
  retry_delay: 30s
  max_retry_delay: 10m
  pool_slots: {mastodon: 3}
  enrich_queue: gpu
  operations_channels: [ops]
  briefing_schedule: "0 6 * * *"
"""


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "crisiswatch.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


@pytest.fixture
def bag(config_file: Path, monkeypatch: pytest.MonkeyPatch):
    return load_dagbag(config_file, monkeypatch)


def test_every_dag_file_loads_without_import_errors(bag):
    assert bag.import_errors == {}
    assert set(bag.dag_ids) == {"crawl_masto-acme", "crawl_masto-news", "crawl_acme-blog", "enrich", "alerts",
                                "daily_briefing", "maintenance"}


def test_crawl_dags_follow_each_sources_schedule(bag):
    assert bag.dags["crawl_masto-acme"].timetable.delta == timedelta(minutes=15)
    assert bag.dags["crawl_acme-blog"].timetable.delta == timedelta(hours=1)
    assert bag.dags["crawl_masto-news"].timetable.expression == "*/5 * * * *"
    for dag_id in ("crawl_masto-acme", "crawl_masto-news", "crawl_acme-blog"):
        dag = bag.dags[dag_id]
        assert dag.catchup is False and dag.max_active_runs == 1


def test_crawls_of_one_platform_share_its_pool_and_announce_raw_posts(bag):
    from crisiswatch.app import airflow_glue as cw

    pools = {dag_id: bag.dags[dag_id].get_task("collect").pool
             for dag_id in ("crawl_masto-acme", "crawl_masto-news", "crawl_acme-blog")}
    assert pools == {"crawl_masto-acme": "crisiswatch_mastodon", "crawl_masto-news": "crisiswatch_mastodon",
                     "crawl_acme-blog": "crisiswatch_rss"}
    announce = bag.dags["crawl_masto-acme"].get_task("announce")
    assert [asset.uri for asset in announce.outlets] == [cw.RAW_POSTS.uri]
    assert announce.upstream_task_ids == {"collect"}


def test_pool_definitions_cover_every_platform_with_configured_slots(config_file, monkeypatch):
    from crisiswatch.app import airflow_glue as cw

    monkeypatch.setenv("CRISISWATCH_CONFIG", str(config_file))
    pools = cw.pools(cw.dag_config())
    assert {name: pool["slots"] for name, pool in pools.items()} == {
        "crisiswatch_mastodon": 3, "crisiswatch_rss": 1, "crisiswatch_enrich": 1}


def test_enrich_runs_on_raw_posts_and_maps_batches_in_the_enrich_pool(bag):
    from crisiswatch.app import airflow_glue as cw

    dag = bag.dags["enrich"]
    assert dag.timetable.asset_condition.objects == (cw.RAW_POSTS,)
    batch = dag.get_task("enrich_batch")
    assert (batch.pool, batch.queue) == (cw.ENRICH_POOL, "gpu")
    assert batch.is_mapped  # one task instance per batch that plan returns
    assert batch.op_kwargs_expand_input.value["post_ids"].operator.task_id == "plan"
    assert [asset.uri for asset in dag.get_task("publish").outlets] == [cw.ENRICHED_POSTS.uri]
    assert set(dag.params.keys()) == {"since", "until", "sources"}


def test_alerts_run_on_enriched_posts_and_on_a_short_schedule(bag):
    from airflow.sdk import AssetOrTimeSchedule

    from crisiswatch.app import airflow_glue as cw

    dag = bag.dags["alerts"]
    assert isinstance(dag.timetable, AssetOrTimeSchedule)
    assert dag.timetable.asset_condition.objects == (cw.ENRICHED_POSTS,)
    assert dag.timetable.timetable.delta == timedelta(minutes=2)
    assert dag.get_task("evaluate").upstream_task_ids == {"deliver"}  # the run's outcome is the evaluation's
    assert dag.get_task("evaluate").trigger_rule == "all_done"  # even when a channel is down
    assert "now" in dag.params


def test_briefing_and_maintenance_schedules_come_from_the_config(bag):
    briefing = bag.dags["daily_briefing"].timetable
    assert (briefing.expression, briefing.interval) == ("0 6 * * *", timedelta(days=1))
    assert bag.dags["maintenance"].timetable.expression == "30 3 * * *"
    assert set(bag.dags["maintenance"].task_ids) == {"retention", "refresh_topics", "source_health"}
    assert set(bag.dags["daily_briefing"].params.keys()) == {"start", "end", "resend"}


def test_every_task_retries_with_backoff_and_reports_final_failure(bag):
    from crisiswatch.app import airflow_glue as cw

    for dag in bag.dags.values():
        for task in dag.tasks:
            expected = 1 if (dag.dag_id, task.task_id) == ("alerts", "evaluate") else 4
            assert task.retries == expected, (dag.dag_id, task.task_id)
            assert task.retry_delay == timedelta(seconds=30)
            assert task.retry_exponential_backoff == 2.0
            assert task.max_retry_delay == timedelta(minutes=10)
            callbacks = task.on_failure_callback
            assert cw.notify_operations in (callbacks if isinstance(callbacks, list) else [callbacks])


def test_manual_run_params_validate_their_input(bag):
    from airflow.sdk.exceptions import ParamValidationError

    crawl = bag.dags["crawl_masto-acme"].params
    assert set(crawl.keys()) == {"settings", "backfill_pages"}
    crawl["settings"] = {"DOWNLOAD_DELAY": 5}
    crawl["backfill_pages"] = 30
    crawl.validate()
    with pytest.raises(ParamValidationError):
        crawl["backfill_pages"] = -1
        crawl.validate()
    crawl["backfill_pages"] = 0
    enrich = bag.dags["enrich"].params
    enrich["since"] = "2025-03-01T08:00:00+00:00"
    enrich.validate()
    with pytest.raises(ParamValidationError):
        enrich["since"] = "last tuesday"
        enrich.validate()
    with pytest.raises(ParamValidationError):
        crawl["settings"] = "DOWNLOAD_DELAY=5"
        crawl.validate()


def test_a_broken_config_is_shown_as_an_import_error_naming_file_and_line(tmp_path, monkeypatch):
    broken = tmp_path / "broken.yaml"
    broken.write_text("sources:\n  - name: Bad Name\n    platform: myspace\n", encoding="utf-8")
    bag = load_dagbag(broken, monkeypatch)
    assert bag.dags == {}
    messages = "\n".join(bag.import_errors.values())
    assert f"{broken}:2: sources[0].name" in messages
    assert f"{broken}:3: sources[0].platform" in messages
    assert set(Path(path).name for path in bag.import_errors) == {
        "crawl_dag.py", "enrich_dag.py", "alerts_dag.py", "daily_briefing_dag.py", "maintenance_dag.py"}


def test_config_path_prefers_the_airflow_variable(tmp_path, monkeypatch):
    from crisiswatch.app import airflow_glue as cw

    monkeypatch.setenv("CRISISWATCH_CONFIG", str(tmp_path / "from-env.yaml"))
    assert cw.config_path() == str(tmp_path / "from-env.yaml")
    monkeypatch.setenv("AIRFLOW_VAR_CRISISWATCH_CONFIG", str(tmp_path / "from-variable.yaml"))
    assert cw.config_path() == str(tmp_path / "from-variable.yaml")


def test_channel_secrets_come_from_airflow_connections_when_not_in_the_environment(monkeypatch):
    from crisiswatch.app import airflow_glue as cw
    from crisiswatch.core.config import parse_config

    config = parse_config("channels:\n  - name: team\n    url: json://hooks.example.org/${CRISISWATCH_HOOK_TOKEN}\n"
                          "  - name: other\n    url: json://hooks.example.org/${CRISISWATCH_OTHER_TOKEN}\n")
    monkeypatch.setenv("AIRFLOW_CONN_CRISISWATCH_HOOK_TOKEN", '{"conn_type": "generic", "password": "s3cr3t"}')
    environ = {"CRISISWATCH_OTHER_TOKEN": "from-env"}
    assert cw.export_connection_secrets(config, environ) == ["CRISISWATCH_HOOK_TOKEN"]
    assert environ == {"CRISISWATCH_OTHER_TOKEN": "from-env", "CRISISWATCH_HOOK_TOKEN": "s3cr3t"}


def test_no_dag_file_shadows_a_package_its_tasks_import():
    """Airflow puts dags/ first on sys.path in task processes: a DAG file called alerts.py
    would be imported instead of the alerts package and every alerts task would fail."""
    import importlib.util

    from .helpers import DAGS_FOLDER

    for dag_file in DAGS_FOLDER.glob("*.py"):
        spec = importlib.util.find_spec(dag_file.stem)
        assert spec is None or Path(spec.origin).parent == DAGS_FOLDER, (dag_file.name, spec.origin)
