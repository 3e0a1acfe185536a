"""Helpers of the DAG and cluster tests: parsing dags/ with a given config, the test config, a
loopback HTTP receiver."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from scenarios.webhook import WebhookReceiver

DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"


def load_dagbag(config_file: Path, monkeypatch: pytest.MonkeyPatch):
    """Parse dags/ exactly as Airflow's DAG processor does, with this config file."""
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("CRISISWATCH_CONFIG", str(config_file))
    return DagBag(str(DAGS_FOLDER))


def write_config(tmp_path: Path, sources: list, models: dict, receiver: "Receiver", **sections: object) -> Path:
    """The pipeline's test config: one keyword-burst rule on "recall" for the watchlist ``acme``,
    notifications to ``receiver`` (``pr-team`` and ``ops``); ``sections`` replace top-level keys
    (other watchlists, the ``airflow`` section)."""
    config = {
        "data_dir": str(tmp_path / "data"),
        "store": {"sqlite_path": str(tmp_path / "data" / "crisiswatch.db")},
        "models": {**models, "topics": False},
        "watchlists": [{"name": "acme", "terms": ["Acme", "艾克美"]}],
        "crisis_lexicon": ["recall", "召回"],
        "sources": [source.model_dump(mode="json", exclude_defaults=True) for source in sources],
        "rules": [{"name": "crisis-terms", "detector": "keyword_burst", "bucket": "15m", "window": "1h",
                   "min_count": 5, "params": {"negative_only": False}}],
        "channels": [{"name": "pr-team", "url": receiver.url("pr-team"), "format": "text"},
                     {"name": "ops", "url": receiver.url("ops"), "format": "text"}],
        "routes": [{"name": "everything", "channels": ["pr-team"]}],
        "alerting": {"outbox_dir": str(tmp_path / "data" / "outbox")},
        "airflow": {"retries": 0, "operations_channels": ["ops"]},
        **sections,
    }
    path = tmp_path / "crisiswatch.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


class Receiver(WebhookReceiver):
    """The loopback webhook (an Apprise ``json://`` channel points here), read by path name:
    ``on("ops")`` gives the JSON bodies posted to ``/ops``."""

    def url(self, path: str = "ops") -> str:
        return super().url(f"/{path}")

    def on(self, path: str) -> list[dict]:  # type: ignore[override]
        return [r.body for r in super().on(f"/{path}")]

    def close(self) -> None:
        self.stop()


