"""Airflow's production shape on one machine: PostgreSQL metadata, CeleryExecutor, separate services.

``make airflow-cluster`` (``python -m crisiswatch.app.airflow_cluster``), the cluster tests and
``bench/airflow_cluster.py`` all start it through ``Cluster``: one API server, one scheduler,
one DAG processor and Celery workers, each an ``airflow`` CLI process in its own session with
its log in ``<home>/logs/<name>.log``. Connection settings come from the environment with
defaults that work with the services on this machine:

- ``CRISISWATCH_AIRFLOW_POSTGRES`` (``postgresql://postgres@127.0.0.1:5432``): the PostgreSQL server;
  the metadata database ``CRISISWATCH_AIRFLOW_DATABASE`` (``crisiswatch_airflow``) is created on it
  when missing;
- ``CRISISWATCH_AIRFLOW_BROKER`` (``redis://127.0.0.1:6379/1``): the Celery broker; RabbitMQ works
  the same way (``amqp://guest:guest@127.0.0.1:5672//``).

Queues: crawl tasks go to ``crawl``, enrichment to ``nlp`` (the queue a GPU worker serves), alert
evaluation to ``alerts``, everything else to ``default`` (``airflow_glue.queue_args``). The two
default workers both serve ``crawl``, ``nlp`` and ``default``, so a lost worker's tasks are
retried on the other; only the second serves ``alerts``.

This module starts processes and never imports Airflow (only ``airflow_glue`` does). Secrets
(the JWT signing key the services share) are made per start and passed in the environment
only, never written to a file.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DAGS_FOLDER = PROJECT_ROOT / "dags"
POSTGRES_ENV = "CRISISWATCH_AIRFLOW_POSTGRES"
DATABASE_ENV = "CRISISWATCH_AIRFLOW_DATABASE"
BROKER_ENV = "CRISISWATCH_AIRFLOW_BROKER"
WORKER_NAME_ENV = "CRISISWATCH_WORKER_NAME"
PASSWORDS_FILE = "simple_auth_manager_passwords.json.generated"
QUEUE_ENV = {"crawl": "CRISISWATCH_CRAWL_QUEUE", "nlp": "CRISISWATCH_NLP_QUEUE", "alerts": "CRISISWATCH_ALERTS_QUEUE"}
"""Read by ``airflow_glue.queue_args`` when the DAG files are parsed: the cluster sets each to its kind."""


@dataclass(frozen=True)
class Worker:
    name: str
    queues: tuple[str, ...]
    concurrency: int = 2


DEFAULT_WORKERS = (Worker("worker-1", ("crawl", "nlp", "default")),
                   Worker("worker-2", ("alerts", "crawl", "nlp", "default")))


@dataclass
class ClusterSettings:
    home: Path
    postgres: str = field(default_factory=lambda: os.environ.get(POSTGRES_ENV, "postgresql://postgres@127.0.0.1:5432"))
    database: str = field(default_factory=lambda: os.environ.get(DATABASE_ENV, "crisiswatch_airflow"))
    broker: str = field(default_factory=lambda: os.environ.get(BROKER_ENV, "redis://127.0.0.1:6379/1"))
    api_port: int = 8080
    workers: tuple[Worker, ...] = DEFAULT_WORKERS
    config_path: str | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    """Any other ``AIRFLOW__*`` settings (the tests shorten the heartbeat timeout)."""

    @property
    def sqlalchemy_url(self) -> str:
        return f"{self.postgres.replace('postgresql://', 'postgresql+psycopg2://', 1)}/{self.database}"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"


def worker_hostname() -> str:
    """``[core] hostname_callable`` of the cluster: each worker's task instances record its own
    name (two workers on one machine would otherwise share the machine's)."""
    return os.environ.get(WORKER_NAME_ENV) or socket.getfqdn()


# ---- the metadata database ------------------------------------------------------------------
def _admin_connection(postgres: str):
    import psycopg2

    connection = psycopg2.connect(f"{postgres}/postgres", connect_timeout=5)
    connection.autocommit = True  # CREATE/DROP DATABASE cannot run inside a transaction
    return connection


def ensure_database(postgres: str, name: str) -> bool:
    """Create the database unless it exists; True when this call created it. Safe when two
    processes race: the loser's CREATE fails on the unique name and it reports False."""
    import psycopg2
    from psycopg2 import sql

    connection = _admin_connection(postgres)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cursor.fetchone():
                return False
            try:
                cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            except (psycopg2.errors.DuplicateDatabase, psycopg2.errors.UniqueViolation):
                return False
            return True
    finally:
        connection.close()


def drop_database(postgres: str, name: str) -> None:
    from psycopg2 import sql

    connection = _admin_connection(postgres)
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    finally:
        connection.close()


def services_answer(settings: ClusterSettings, timeout_s: float = 2.0) -> str | None:
    """None when PostgreSQL and the broker answer, else why not (tests skip with it)."""
    try:
        _admin_connection(settings.postgres).close()
    except Exception as exc:  # noqa: BLE001 - any failure means: not usable here
        return f"PostgreSQL at {settings.postgres} does not answer: {exc}".strip()
    from kombu import Connection

    try:
        with Connection(settings.broker, connect_timeout=timeout_s) as broker:
            broker.ensure_connection(max_retries=1, timeout=timeout_s)
    except Exception as exc:  # noqa: BLE001
        return f"Celery broker at {settings.broker} does not answer: {exc}"
    return None


# ---- environment -----------------------------------------------------------------------------
def environment(settings: ClusterSettings, jwt_secret: str) -> dict[str, str]:
    """The environment every process of the cluster shares (on top of this process's own)."""
    env = dict(os.environ)
    env.update({
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        "AIRFLOW_HOME": str(settings.home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": "crisiswatch.app.airflow_cluster.worker_hostname",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{settings.api_url}/execution/",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": settings.sqlalchemy_url,
        "AIRFLOW__CELERY__BROKER_URL": settings.broker,
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{settings.sqlalchemy_url}",
        "AIRFLOW__API__PORT": str(settings.api_port),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__BASE_URL": settings.api_url,
        "AIRFLOW__API_AUTH__JWT_SECRET": jwt_secret,
        "PYTHONPATH": os.pathsep.join(p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH")) if p),
        **{variable: kind for kind, variable in QUEUE_ENV.items()},
    })
    if settings.config_path:
        env["CRISISWATCH_CONFIG"] = str(Path(settings.config_path).resolve())
    env.update(settings.extra_env)
    return env


# ---- processes ---------------------------------------------------------------------------------
class Cluster:
    """``with Cluster(settings) as cluster:`` prepares the database and starts every service;
    leaving the block stops every process it started (and their children), whatever happened."""

    def __init__(self, settings: ClusterSettings):
        self.settings = settings
        self.env = environment(settings, secrets.token_urlsafe(32))
        self.processes: dict[str, subprocess.Popen] = {}
        self.log_dir = settings.home / "logs"
        self.login = ""
        self._token: str | None = None

    # lifecycle
    def prepare(self) -> None:
        """Database, schema, pools, the admin login (idempotent: a second run changes nothing)."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        ensure_database(self.settings.postgres, self.settings.database)
        self.airflow("db", "migrate")
        pools = self.settings.home / "pools.json"
        self._run([sys.executable, "-m", "crisiswatch.app.airflow_glue", "pools", str(pools)])
        self.airflow("pools", "import", str(pools))
        self.login = self._run([sys.executable, "-m", "crisiswatch.app.airflow_glue", "login",
                                str(self.settings.home)]).strip()

    def start(self, wait_s: float = 420) -> "Cluster":
        self.prepare()
        for name in (*_SERVICE_ARGUMENTS, *(w.name for w in self.settings.workers)):
            self.start_service(name)
        self.wait_ready(wait_s)
        return self

    def __enter__(self) -> "Cluster":
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def spawn(self, name: str, arguments: list[str], env: Mapping[str, str] | None = None) -> subprocess.Popen:
        path = self.log_dir / f"{name}.log"
        if path.exists():  # a restart: keep the earlier life's log beside the new one
            path.rename(self.log_dir / f"{name}.{len(list(self.log_dir.glob(f'{name}.*.log'))) + 1}.log")
        log = open(path, "ab")  # noqa: SIM115 - the child keeps it
        process = subprocess.Popen([sys.executable, "-m", "airflow", *arguments], env=dict(env or self.env),
                                   stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   cwd=self.settings.home, start_new_session=True)
        log.close()
        self.processes[name] = process
        return process

    def start_service(self, name: str) -> subprocess.Popen:
        """Start ``api-server``, ``scheduler``, ``dag-processor`` or a worker by its name."""
        worker = next((w for w in self.settings.workers if w.name == name), None)
        if worker is not None:
            return self.start_worker(worker)
        return self.spawn(name, _SERVICE_ARGUMENTS[name](self.settings))

    def start_worker(self, worker: Worker) -> subprocess.Popen:
        return self.spawn(worker.name, ["celery", "worker", "--queues", ",".join(worker.queues),
                                        "--concurrency", str(worker.concurrency),
                                        "--celery-hostname", f"{worker.name}@%h", "--skip-serve-logs",
                                        "--without-gossip", "--without-mingle"],
                          env={**self.env, WORKER_NAME_ENV: worker.name})

    def wait_ready(self, timeout_s: float) -> None:
        """Until the API server answers and every worker says it is ready."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self._check_alive()
            if self._api_healthy() and all(self._worker_ready(w.name) for w in self.settings.workers):
                return
            time.sleep(1)
        raise TimeoutError(f"the cluster was not ready within {timeout_s:.0f} s; logs in {self.log_dir}")

    def _check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                tail = (self.log_dir / f"{name}.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{name} exited with {process.returncode}:\n{tail}")

    def _api_healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.settings.api_url}/api/v2/monitor/health", timeout=3) as answer:
                return answer.status == 200
        except OSError:
            return False

    def _worker_ready(self, name: str) -> bool:
        log = self.log_dir / f"{name}.log"
        return log.exists() and b" ready." in log.read_bytes()

    # the REST API (what the tests and the benchmark drive the cluster through)
    def api(self, method: str, path: str, body: dict | None = None) -> Any:
        import httpx

        if self._token is None:
            passwords = json.loads((self.settings.home / PASSWORDS_FILE).read_text(encoding="utf-8"))
            answer = httpx.post(f"{self.settings.api_url}/auth/token", timeout=30,
                                json={"username": "admin", "password": passwords["admin"]})
            answer.raise_for_status()
            self._token = answer.json()["access_token"]
        answer = httpx.request(method, f"{self.settings.api_url}/api/v2/{path}", json=body, timeout=60,
                               headers={"Authorization": f"Bearer {self._token}"})
        if answer.status_code >= 400:
            raise RuntimeError(f"{method} {path}: {answer.status_code} {answer.text[:500]}")
        return answer.json() if answer.content else None

    def wait_for_dags(self, *dag_ids: str, timeout_s: float = 300) -> None:
        """Until the DAG processor has parsed these DAGs (they exist in the metadata database)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self._check_alive()
            known = {dag["dag_id"] for dag in self.api("GET", "dags?limit=1000")["dags"]}
            if known >= set(dag_ids):
                return
            time.sleep(2)
        errors = self.api("GET", "importErrors")
        raise TimeoutError(f"DAGs {sorted(set(dag_ids) - known)} not parsed within {timeout_s:.0f} s; "
                           f"import errors: {errors}")

    def unpause(self, *dag_ids: str) -> None:
        for dag_id in dag_ids:
            self.api("PATCH", f"dags/{dag_id}", {"is_paused": False})

    def trigger(self, dag_id: str, conf: dict | None = None) -> str:
        run = self.api("POST", f"dags/{dag_id}/dagRuns", {"logical_date": None, "conf": conf or {}})
        return run["dag_run_id"]

    def dag_runs(self, dag_id: str) -> list[dict]:
        return self.api("GET", f"dags/{dag_id}/dagRuns?order_by=run_after&limit=100")["dag_runs"]

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        return self.api("GET", f"dags/{dag_id}/dagRuns/{run_id}/taskInstances?limit=500")["task_instances"]

    def kill(self, name: str) -> None:
        """SIGKILL a service and everything it started (task processes, crawls): a lost machine."""
        _signal_tree(self.processes.pop(name), signal.SIGKILL)

    def stop(self, grace_s: float = 30) -> None:
        processes, self.processes = list(self.processes.values()), {}
        trees = [(p, _tree(p)) for p in processes]
        for process, _ in trees:
            _signal_tree(process, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for _, members in trees:
            psutil.wait_procs(members, timeout=max(0.1, deadline - time.monotonic()))
        for process, members in trees:
            for member in members:
                _kill_quietly(member, signal.SIGKILL)
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass

    # airflow CLI
    def airflow(self, *arguments: str, timeout_s: float = 300) -> str:
        return self._run([sys.executable, "-m", "airflow", *arguments], timeout_s)

    def _run(self, command: list[str], timeout_s: float = 300) -> str:
        result = subprocess.run(command, env=self.env, cwd=self.settings.home, capture_output=True, text=True,
                                timeout=timeout_s)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(command[2:])} failed ({result.returncode}):\n{result.stderr[-3000:]}")
        return result.stdout


_SERVICE_ARGUMENTS = {
    "api-server": lambda s: ["api-server", "--port", str(s.api_port), "--host", "127.0.0.1"],
    "scheduler": lambda s: ["scheduler"],
    "dag-processor": lambda s: ["dag-processor"],
}


def _tree(process: subprocess.Popen) -> list[psutil.Process]:
    """The process and every descendant: Airflow runs each task in a process group of its own,
    so signalling the service's group alone would leave its tasks running."""
    try:
        root = psutil.Process(process.pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _signal_tree(process: subprocess.Popen, sig: int) -> None:
    for member in _tree(process):
        _kill_quietly(member, sig)


def _kill_quietly(member: psutil.Process, sig: int) -> None:
    try:
        member.send_signal(sig)
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        pass


def main(argv: list[str]) -> int:
    """``make airflow-cluster``: start everything, print where it is, run until Ctrl-C."""
    home = Path(argv[0] if argv else "data/airflow-cluster").resolve()
    settings = ClusterSettings(home=home, api_port=int(os.environ.get("AIRFLOW_PORT", "8080")),
                               config_path=os.environ.get("CRISISWATCH_CONFIG"))
    problem = services_answer(settings)
    if problem:
        print(f"cannot start the cluster: {problem}", file=sys.stderr)
        return 2
    cluster = Cluster(settings)
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    try:
        cluster.start()
        print(f"Airflow cluster up: {settings.api_url}  (metadata: {settings.database} on {settings.postgres}, "
              f"broker: {settings.broker})")
        for worker in settings.workers:
            print(f"  {worker.name}: queues {','.join(worker.queues)}, concurrency {worker.concurrency}")
        print(f"{cluster.login}\nlogs: {cluster.log_dir}; Ctrl-C stops every process")
        while not stop["now"]:
            cluster._check_alive()
            time.sleep(2)
    except KeyboardInterrupt:
        pass
    finally:
        print("stopping the cluster ...")
        cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
