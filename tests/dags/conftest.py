"""Airflow on its embedded defaults for the DAG tests: a throw-away AIRFLOW_HOME with a
SQLite metadata database, no examples, the project's dags/ folder.

Airflow reads its configuration when first imported, so the environment is set here, at
collection time, before any test module imports it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from .helpers import Receiver

DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"

_AIRFLOW_HOME = tempfile.mkdtemp(prefix="crisiswatch-airflow-")
os.environ["AIRFLOW_HOME"] = _AIRFLOW_HOME
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(DAGS_FOLDER)
os.environ.pop("AIRFLOW_VAR_CRISISWATCH_CONFIG", None)


@pytest.fixture(scope="session", autouse=True)
def _airflow_home() -> Iterator[str]:
    yield _AIRFLOW_HOME
    shutil.rmtree(_AIRFLOW_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """The metadata database dag.test() records runs in (created once, ~2 s)."""
    from airflow.utils import db

    db.initdb()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()
