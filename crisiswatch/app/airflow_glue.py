"""What the Airflow DAG files share, and the only module of the project that imports Airflow.

The DAG files in ``dags/`` stay thin: they declare schedules and call the pipeline steps
through ``steps`` (``crisiswatch.app.steps``, the functions ``crisiswatch run`` calls) and
``operations`` (source health, operations alerts), re-exported here so that a DAG file
imports this one module. What is Airflow's own lives here, so that a data engineer reads it
once: where the config comes from (Variable), secrets from Airflow connections, which Asset a
step updates, which pool rate-limits a platform, how a task retries, and the failure callback
(which tells operations through the same sender as incidents).

``python -m crisiswatch.app.airflow_glue pools|login`` prepares an Airflow home (``make airflow``).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import sys
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from airflow.sdk import Asset, Connection, Param, Variable

from crisiswatch.app import operations, steps
from crisiswatch.app.airflow_cluster import QUEUE_ENV
from crisiswatch.core.config import DEFAULT_CONFIG_ENV, SECRET_PATTERN, Config, ConfigError, SourceConfig, load_config
from crisiswatch.core.schedule import parse_duration, schedule_value
from crisiswatch.core.store import open_store

log = logging.getLogger(__name__)

CONFIG_VARIABLE = "crisiswatch_config"
"""Airflow Variable holding the config file path (wins over $CRISISWATCH_CONFIG)."""

RAW_POSTS = Asset(name="crisiswatch_raw_posts", uri="crisiswatch://posts/raw", group="crisiswatch")
"""Updated by a crawl that stored new posts; schedules the ``enrich`` DAG."""
ENRICHED_POSTS = Asset(name="crisiswatch_enriched_posts", uri="crisiswatch://posts/enriched", group="crisiswatch")
"""Updated by an enrichment run that enriched posts; schedules the ``alerts`` DAG."""

START_DATE = datetime(2024, 1, 1, tzinfo=timezone.utc)
"""Fixed and in the past: with ``catchup=False`` only the latest interval runs."""
ENRICH_POOL = "crisiswatch_enrich"
ELASTICSEARCH_CONNECTION = "crisiswatch_elasticsearch"

# ``steps``, ``operations``, ``open_store``, ``Config``, ``SourceConfig`` and ``parse_duration`` are
# imported above for the DAG files, which reach everything through this module.


# ---- configuration -----------------------------------------------------------------------
def config_path() -> str | None:
    """The config file: Airflow Variable ``crisiswatch_config``, else $CRISISWATCH_CONFIG, else
    None (``load_config`` then reads ./crisiswatch.yaml). Made absolute so that tasks find it
    whatever their working directory."""
    path = _variable(CONFIG_VARIABLE) or os.environ.get(DEFAULT_CONFIG_ENV)
    return str(Path(path).expanduser().resolve()) if path else None


def _variable(key: str) -> str | None:
    try:
        return Variable.get(key, default=None)
    except Exception as exc:  # no metadata database at hand (plain python, CLI): env only
        log.debug("Airflow Variable %s unavailable: %s", key, exc)
        return None


def dag_config() -> Config:
    """The config as DAG files see it while being parsed.

    A broken file raises ``ConfigError`` whose message lists every ``FILE:LINE: key: reason``;
    Airflow shows it as the DAG file's import error, which is where a data engineer looks.
    """
    try:
        return load_config(config_path())
    except ConfigError as exc:
        raise ConfigError(["crisiswatch config is invalid:", *exc.problems]) from None


def task_config() -> Config:
    """The config inside a running task, with secrets from Airflow connections made available."""
    config = load_config(config_path())
    export_connection_secrets(config)
    return config


def export_connection_secrets(config: Config, environ: dict[str, str] | None = None) -> list[str]:
    """Fill ``${CRISISWATCH_X}`` secrets that the environment lacks from Airflow connections.

    The secret named ``CRISISWATCH_SLACK_TOKEN`` is read from the password of the connection
    ``crisiswatch_slack_token`` (Airflow's UI, its secrets backend or
    ``AIRFLOW_CONN_CRISISWATCH_SLACK_TOKEN``). The Elasticsearch URL and API key come from
    the connection ``crisiswatch_elasticsearch`` when $CRISISWATCH_ELASTICSEARCH_URL is unset.
    Values are registered with Airflow's log masker. Returns the names that were filled.
    """
    env = os.environ if environ is None else environ
    wanted = set(SECRET_PATTERN.findall(json.dumps(config.model_dump(mode="json"))))
    filled = []
    for name in sorted(wanted - set(env)):
        connection = _connection(name.lower())
        if connection is not None and connection.password:
            env[name] = _masked(connection.password)
            filled.append(name)
    if "CRISISWATCH_ELASTICSEARCH_URL" not in env:
        connection = _connection(ELASTICSEARCH_CONNECTION)
        if connection is not None and connection.host:
            env["CRISISWATCH_ELASTICSEARCH_URL"] = elasticsearch_url(connection)
            filled.append("CRISISWATCH_ELASTICSEARCH_URL")
            if connection.password and "CRISISWATCH_ELASTICSEARCH_API_KEY" not in env:
                env["CRISISWATCH_ELASTICSEARCH_API_KEY"] = _masked(connection.password)
                filled.append("CRISISWATCH_ELASTICSEARCH_API_KEY")
    return filled


def elasticsearch_url(connection: Any) -> str:
    """The server URL of an Elasticsearch connection: ``host`` may be a full URL (as the
    Elasticsearch provider's UI writes it) or a bare host with ``schema`` (default https) and port."""
    host = connection.host if "://" in connection.host else f"{connection.schema or 'https'}://{connection.host}"
    return f"{host}:{connection.port}" if connection.port else host


def _connection(conn_id: str) -> Any | None:
    """Airflow's own lookup (``Connection.get``): UI, secrets backend or ``AIRFLOW_CONN_*``."""
    try:
        return Connection.get(conn_id)
    except Exception:  # not defined, or no Airflow context: the environment is the only source
        return None


def _masked(value: str) -> str:
    try:
        from airflow.sdk.log import mask_secret

        mask_secret(value)
    except Exception:  # pragma: no cover - masking is best effort outside a task
        pass
    return value


# ---- schedules, pools, retries ----------------------------------------------------------
def schedule(expression: str) -> str | timedelta:
    """A config schedule for Airflow: ``15m`` becomes a timedelta, anything else is cron."""
    return schedule_value(expression)


def pool_name(platform: str) -> str:
    """The pool every crawl of ``platform`` runs in: shared API, shared rate limit."""
    return f"crisiswatch_{platform}"


def pools(config: Config) -> dict[str, dict[str, Any]]:
    """Pools the DAGs use, in ``airflow pools import`` format."""
    result: dict[str, dict[str, Any]] = {}
    for platform in sorted({source.platform for source in config.sources}):
        result[pool_name(platform)] = {
            "slots": config.airflow.pool_slots.get(platform, 1),
            "description": f"crisiswatch: concurrent {platform} crawls (platform rate limit)",
            "include_deferred": False,
        }
    result[ENRICH_POOL] = {"slots": config.airflow.enrich_slots,
                           "description": "crisiswatch: concurrent enrichment batches (model memory)",
                           "include_deferred": False}
    return result


def queue_args(kind: str, config: Config) -> dict[str, str]:
    """``queue=`` for the tasks of one kind (``crawl``, ``nlp``, ``alerts``) under the Celery executor.

    ``airflow.enrich_queue``, when the config sets it, places the enrichment batches; otherwise
    ``$CRISISWATCH_<KIND>_QUEUE`` does. Without either the task stays on Airflow's default queue
    (``[operators] default_queue``), which is what LocalExecutor and ``dag.test()`` use and what a
    plain ``airflow celery worker`` serves.
    """
    if kind not in QUEUE_ENV:
        raise ValueError(f"unknown task kind '{kind}' (one of {', '.join(QUEUE_ENV)})")
    if kind == "nlp" and "enrich_queue" in config.airflow.model_fields_set:
        return {"queue": config.airflow.enrich_queue}
    queue = os.environ.get(QUEUE_ENV[kind], "").strip()
    return {"queue": queue} if queue else {}


def task_defaults(config: Config) -> dict[str, Any]:
    """``default_args`` of every crisiswatch DAG: retries with exponential backoff and a
    failure callback to the operations channels."""
    return {
        "owner": "crisiswatch",
        "retries": config.airflow.retries,
        "retry_delay": parse_duration(config.airflow.retry_delay),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": parse_duration(config.airflow.max_retry_delay),
        "on_failure_callback": notify_operations,
    }


# ---- the failure callback ------------------------------------------------------------------
def notify_operations(context: Mapping[str, Any]) -> None:
    """Task failure callback: tell the operations channels which task failed for good, why,
    and where its log is (``operations.task_failed``). Never raises: a broken channel must not
    hide the task's own error."""
    try:
        ti = context["ti"]
        operations.task_failed(task_config(), ti.dag_id, ti.task_id, ti.run_id,
                               map_index=getattr(ti, "map_index", -1), try_number=ti.try_number,
                               max_tries=getattr(ti, "max_tries", 0), error=context.get("exception"),
                               log_url=_log_url(ti))
    except Exception:  # noqa: BLE001 - a callback must never mask the failure it reports
        log.exception("could not notify the operations channels")


def _log_url(ti: Any) -> str:
    try:
        return str(ti.log_url)
    except Exception:  # noqa: BLE001
        return "(Airflow UI)"


# ---- small helpers the DAGs share -------------------------------------------------------
ISO_TIME = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$"


def time_param(description: str) -> Param:
    """An optional ISO 8601 time for a manual run (the pattern makes the trigger form reject
    'last tuesday' before the run starts)."""
    return Param(None, type=["null", "string"], pattern=ISO_TIME, description=description)


def parse_time(value: str | datetime | None) -> datetime | None:
    """A Param time (ISO 8601, naive = UTC) or an Airflow context time as a plain aware UTC
    datetime (Airflow hands out pendulum subclasses whose arithmetic differs); None stays None."""
    if value in (None, ""):
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    moment = (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)
    return datetime(moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second,
                    moment.microsecond, tzinfo=timezone.utc)


def run_time(context: Mapping[str, Any]) -> datetime:
    """The moment a run is about: the end of its data interval for a scheduled run, when it
    was triggered for a manual run (which has no data interval in Airflow 3)."""
    dag_run = context.get("dag_run")
    moment = context.get("data_interval_end") or getattr(dag_run, "run_after", None) or datetime.now(timezone.utc)
    return parse_time(moment)


# ---- preparing an Airflow home (make airflow) ---------------------------------------------
def _write_pools(out: Path) -> None:
    out.write_text(json.dumps(pools(dag_config()), indent=2) + "\n", encoding="utf-8")
    print(f"pools written to {out}")


def _ensure_login(airflow_home: Path, user: str = "admin") -> None:
    """Airflow's simple auth manager keeps generated passwords in this file; creating it first
    lets ``make airflow`` print the login before the server starts."""
    file = airflow_home / "simple_auth_manager_passwords.json.generated"
    passwords = json.loads(file.read_text(encoding="utf-8")) if file.exists() else {}
    if user not in passwords:
        passwords[user] = secrets.token_urlsafe(12)
        file.write_text(json.dumps(passwords) + "\n", encoding="utf-8")
        file.chmod(0o600)
    print(f"login: {user} / {passwords[user]}   (stored in {file})")


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "pools":
        _write_pools(Path(argv[1]))
        return 0
    if len(argv) == 2 and argv[0] == "login":
        _ensure_login(Path(argv[1]))
        return 0
    print("usage: python -m crisiswatch.app.airflow_glue pools FILE | login AIRFLOW_HOME", file=sys.stderr)
    return 2


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        sys.exit(2)
