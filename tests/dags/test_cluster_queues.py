"""Which executor queue each task lands on, as the DAG processor parses dags/: the cluster's
queues (``make airflow-cluster`` and the compose stack), Airflow's default queue without them
(LocalExecutor, dag.test()), and the config's ``airflow.enrich_queue`` over both. Every queue a
task can land on must be served by a worker of the local cluster and of the compose stack."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from crisiswatch.app.airflow_cluster import DEFAULT_WORKERS, QUEUE_ENV
from crisiswatch.core.config import SourceConfig

from .helpers import load_dagbag, write_config

COMPOSE = Path(__file__).resolve().parents[2] / "infra" / "docker-compose.yml"
KINDS = {"collect": "crawl", "enrich_batch": "nlp", "evaluate": "alerts", "deliver": "alerts"}


def _queues(bag) -> dict[tuple[str, str], str]:
    return {(dag_id.split("_")[0], task.task_id): task.queue for dag_id, dag in bag.dags.items() for task in dag.tasks}


@pytest.fixture
def config_file(tmp_path, receiver):
    sources = [SourceConfig(name="hn", platform="hackernews", targets={"queries": ["acme"]}, schedule="5m")]
    return lambda **sections: write_config(tmp_path, sources, {}, receiver, **sections)


def test_tasks_go_to_the_cluster_queues_when_the_cluster_names_them(config_file, monkeypatch):
    for kind, variable in QUEUE_ENV.items():
        monkeypatch.setenv(variable, kind)

    queues = _queues(load_dagbag(config_file(), monkeypatch))

    for (dag, task), queue in queues.items():
        assert queue == KINDS.get(task, "default"), (dag, task)
    assert {queues[("crawl", "collect")], queues[("enrich", "enrich_batch")], queues[("alerts", "evaluate")]} == {
        "crawl", "nlp", "alerts"}


def test_without_the_cluster_every_task_stays_on_the_default_queue(config_file, monkeypatch):
    for variable in QUEUE_ENV.values():
        monkeypatch.delenv(variable, raising=False)

    assert set(_queues(load_dagbag(config_file(), monkeypatch)).values()) == {"default"}


def test_the_configured_enrich_queue_wins_for_enrichment(config_file, monkeypatch):
    monkeypatch.setenv(QUEUE_ENV["nlp"], "nlp")

    queues = _queues(load_dagbag(config_file(airflow={"enrich_queue": "gpu"}), monkeypatch))

    assert queues[("enrich", "enrich_batch")] == "gpu"


def test_every_queue_has_a_worker_in_the_local_cluster_and_in_the_compose_stack():
    wanted = {*QUEUE_ENV, "default"}
    assert wanted <= {queue for worker in DEFAULT_WORKERS for queue in worker.queues}
    for kind in ("crawl", "nlp"):  # a lost local worker's crawl or enrichment is retried on the other
        assert all(kind in worker.queues for worker in DEFAULT_WORKERS)
    services = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["services"]
    served = {}
    for name, service in services.items():
        command = service.get("command") or []
        if command[:3] == ["airflow", "celery", "worker"]:
            for queue in command[command.index("--queues") + 1].split(","):
                served.setdefault(queue, []).append(name)
    assert wanted <= set(served)
    assert served["alerts"] == ["airflow-worker-alerts"]  # alerts never wait behind a crawl or a batch
    assert services["airflow-scheduler"]["environment"]["CRISISWATCH_NLP_QUEUE"] == "nlp"
