"""One real Airflow cluster for the cluster tests: PostgreSQL metadata (a fresh database, dropped
afterwards), CeleryExecutor on Redis (database 14, flushed before and after), API server,
scheduler, DAG processor and two Celery workers, all started and stopped here.

Skipped, with the reason, when PostgreSQL or Redis does not answer. Nothing here imports
Airflow: the tests drive the cluster through its REST API and read the crisiswatch store.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from crisiswatch.app.airflow_cluster import Cluster, ClusterSettings, drop_database, services_answer

BROKER = os.environ.get("CRISISWATCH_TEST_AIRFLOW_BROKER", "redis://127.0.0.1:6379/14")
"""Redis database 14 is used by nothing else of the project; it is flushed before and after."""
FAST_FAILURE_DETECTION = {
    # a killed worker's task is declared dead after 20 s of silence instead of 5 minutes
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "3",
    "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "3",
    # a scheduler killed between queueing a task and handing it to Celery: the new scheduler adopts
    # it after the orphan check (300 s by default) and queues it again once it has been "queued"
    # for task_queued_timeout (600 s); a fresh-clone CI run hit exactly that and waited past 300 s
    "AIRFLOW__SCHEDULER__ORPHANED_TASKS_CHECK_INTERVAL": "15",
    "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "300",
    "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT_CHECK_INTERVAL": "15",
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _flush_broker() -> None:
    if BROKER.startswith("redis://"):
        import redis

        redis.Redis.from_url(BROKER, socket_timeout=5).flushdb()


@pytest.fixture(scope="session")
def cluster_home() -> Iterator[Path]:
    home = Path(tempfile.mkdtemp(prefix="crisiswatch-cluster-"))
    yield home
    if os.environ.get("CRISISWATCH_KEEP_CLUSTER_HOME"):  # the services' logs, for a post-mortem
        print(f"cluster home kept: {home}")
    else:
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def cluster_settings(cluster_home: Path) -> ClusterSettings:
    settings = ClusterSettings(home=cluster_home / "airflow", database=f"crisiswatch_test_{uuid.uuid4().hex[:10]}",
                               broker=BROKER, api_port=free_port(), extra_env=dict(FAST_FAILURE_DETECTION))
    problem = services_answer(settings)
    if problem:
        pytest.skip(f"no Airflow cluster test here: {problem}")
    return settings


def start_cluster(settings: ClusterSettings, config_path: Path) -> Iterator[Cluster]:
    """Start the cluster over ``config_path``; stop every process and drop the database after,
    also when the start or a test failed."""
    settings.config_path = str(config_path)
    settings.extra_env.setdefault("AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION", "True")
    _flush_broker()
    try:
        with Cluster(settings) as cluster:
            yield cluster
    finally:
        drop_database(settings.postgres, settings.database)
        _flush_broker()
