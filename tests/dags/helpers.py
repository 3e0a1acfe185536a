"""Helpers of the DAG tests: parsing dags/ with a given config, a loopback HTTP receiver."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"


def load_dagbag(config_file: Path, monkeypatch: pytest.MonkeyPatch):
    """Parse dags/ exactly as Airflow's DAG processor does, with this config file."""
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("CRISISWATCH_CONFIG", str(config_file))
    return DagBag(str(DAGS_FOLDER))


class Receiver:
    """A loopback HTTP endpoint that keeps every JSON body posted to it (an Apprise
    ``json://`` channel points here)."""

    def __init__(self) -> None:
        self.messages: list[dict] = []
        received = self.messages

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                received.append({"path": self.path, **json.loads(body or b"{}")})
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str = "ops") -> str:
        return f"json://127.0.0.1:{self.port}/{path}"

    def on(self, path: str) -> list[dict]:
        return [message for message in self.messages if message["path"] == f"/{path}"]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


