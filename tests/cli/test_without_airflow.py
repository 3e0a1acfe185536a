"""``crisiswatch run``, ``report briefing --send`` and ``demo`` work where Airflow is not
installed: Airflow is the DAGs' business, never the CLI's.

Each command runs in a subprocess whose ``sitecustomize`` makes every ``import airflow...``
fail exactly as on a machine without it (spider subprocesses inherit the block through
PYTHONPATH). Briefings go to a real HTTP receiver on 127.0.0.1.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.alerts.helpers import WebhookReceiver

REPO = Path(__file__).resolve().parents[2]
BLOCK_AIRFLOW = '''
import sys


class _NoAirflow:
    """Airflow is not installed here."""

    def find_spec(self, name, path=None, target=None):
        if name == "airflow" or name.startswith("airflow."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, _NoAirflow())
'''
END = datetime(2026, 4, 7, 7, 0, tzinfo=timezone.utc)


@pytest.fixture
def no_airflow(tmp_path: Path) -> dict[str, str]:
    """The environment of a subprocess that cannot import airflow."""
    blocker = tmp_path / "no-airflow"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(BLOCK_AIRFLOW, encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AIRFLOW", "CRISISWATCH_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(blocker), str(REPO)])
    probe = subprocess.run([sys.executable, "-c", "import airflow"], env=env, capture_output=True, text=True)
    assert probe.returncode == 1 and "No module named 'airflow'" in probe.stderr  # the block holds
    return env


@pytest.fixture
def receiver():
    server = WebhookReceiver()
    yield server
    server.stop()


def crisiswatch(env: dict[str, str], cwd: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "from crisiswatch.app.cli import main; main()", *args], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=timeout)


def write_config(tmp_path: Path, receiver: WebhookReceiver) -> Path:
    path = tmp_path / "crisiswatch.yaml"
    path.write_text(f"""\
data_dir: {tmp_path / 'data'}
store: {{sqlite_path: {tmp_path / 'data' / 'store.db'}}}
watchlists: [{{name: acme, terms: [acme]}}]
sources:
  - {{name: feed, platform: rss, targets: {{feeds: ["http://127.0.0.1:{receiver.port}/feed.xml"]}}, schedule: 15m}}
channels:
  - {{name: management, url: "{receiver.url('/management')}", format: html}}
alerting: {{outbox_dir: {tmp_path / 'data' / 'outbox'}}}
airflow: {{briefing_channels: [management]}}
""", encoding="utf-8")
    return path


def test_report_briefing_send_and_run_work_without_airflow(tmp_path, no_airflow, receiver):
    config = write_config(tmp_path, receiver)
    period = ["--from", (END - timedelta(days=1)).isoformat(), "--to", END.isoformat()]

    for _ in range(2):  # the same period twice: delivered once
        done = crisiswatch(no_airflow, tmp_path, "report", "briefing", "--config", str(config), *period, "--send")
        assert done.returncode == 0, done.stdout + done.stderr
        assert "sent to management" in done.stdout
    [briefing] = receiver.received
    assert briefing.body["title"] == "crisiswatch briefing 2026-04-06 07:00 - 2026-04-07 07:00 UTC"
    assert briefing.headers["x-crisiswatch-idempotency-key"] == "briefing:20260406T0700-20260407T0700:management"
    assert (tmp_path / "data" / "outbox" / "briefing_20260406T0700-20260407T0700_management.json").exists()

    done = crisiswatch(no_airflow, tmp_path, "run", "--config", str(config), "--briefing")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "problem: crawl feed" in done.stdout  # the receiver answers GET with 501: reported, the cycle goes on
    assert "briefing:" in done.stdout and "(sent to management)" in done.stdout
    assert len(receiver.received) == 2 and "crisiswatch briefing" in receiver.received[1].body["title"]
    assert "airflow" not in (done.stdout + done.stderr).lower()


def test_demo_works_without_airflow(tmp_path, no_airflow):
    done = crisiswatch(no_airflow, tmp_path, "demo", "--data-dir", str(tmp_path / "demo"), "--tiny-models",
                       "--no-topics", "--step", "1h", "--follow", "1h", timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    outbox = tmp_path / "demo" / "outbox"
    assert any(outbox.glob("briefing_*.json"))  # the demo's briefing left through the one sender
    assert "ModuleNotFoundError" not in done.stdout + done.stderr
