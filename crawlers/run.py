"""Run one source's crawl in a subprocess and return the health it recorded.

Scrapy's Twisted reactor cannot be restarted inside one process, so every crawl is
``python -m scrapy crawl <platform> -a source=<name>``: Airflow tasks, the CLI and tests
all go through ``crawl_source``. The subprocess runs in the caller's working directory
(relative paths in the config, such as the SQLite file, mean the same thing in both) and
finds the Scrapy project through ``SCRAPY_SETTINGS_MODULE``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from crisiswatch.core.config import DEFAULT_CONFIG_ENV, load_config
from crisiswatch.core.model import CrawlHealth

PROJECT_ROOT = Path(__file__).resolve().parent.parent
OUTPUT_TAIL = 1500
GRACE_S = 20
"""After its time limit a crawl gets this long to finish the requests in flight and record its health."""


def crawl_command(platform: str, source: str, config_path: str, settings: dict[str, Any] | None = None,
                  arguments: dict[str, str | None] | None = None) -> list[str]:
    """The crawl's command line; ``arguments`` are extra spider arguments (``-a``), None ones left out."""
    command = [sys.executable, "-m", "scrapy", "crawl", platform, "-a", f"source={source}", "-a", f"config={config_path}"]
    for key, value in (arguments or {}).items():
        if value is not None:
            command += ["-a", f"{key}={value}"]
    for key, value in (settings or {}).items():
        text = value if isinstance(value, str) else json.dumps(value)
        command += ["-s", f"{key}={text}"]
    return command


def crawl_environment(config_path: str) -> dict[str, str]:
    env = dict(os.environ)
    env[DEFAULT_CONFIG_ENV] = config_path
    env["SCRAPY_SETTINGS_MODULE"] = "crawlers.settings"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH")) if p)
    return env


def crawl_source(source: str, config_path: str | None = None, settings: dict | None = None,
                 timeout_s: float | None = None) -> CrawlHealth:
    """Crawl one configured source to completion (or ``timeout_s``) and return its CrawlHealth.

    A process that dies without recording its health (killed, crashed before the store
    opened, timed out and unable to stop cleanly) gets a ``failed`` record written here,
    with the end of its output, so a broken source is never silent.
    """
    path = config_path or os.environ.get(DEFAULT_CONFIG_ENV)
    if path is None and Path("crisiswatch.yaml").exists():
        path = "crisiswatch.yaml"
    if path is None:
        raise ValueError("no config: pass config_path or set CRISISWATCH_CONFIG")
    path = str(Path(path).resolve())
    config = load_config(path)
    platform = config.source(source).platform
    started = datetime.now(timezone.utc)
    process = subprocess.Popen(crawl_command(platform, source, path, settings), env=crawl_environment(path),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
    timed_out = False
    try:
        output, _ = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        timed_out = True
        process.send_signal(signal.SIGINT)  # Scrapy stops gracefully: flushes posts, records health
        try:
            output, _ = process.communicate(timeout=GRACE_S)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
    from crisiswatch.core.store import open_store

    with open_store(config) as store:
        history = store.crawl_history(source, limit=1)
        if history and history[0].started_at >= started - timedelta(seconds=1):
            return history[0]
        reason = f"timed out after {timeout_s}s" if timed_out else f"crawl process exited with code {process.returncode}"
        health = CrawlHealth(source=source, started_at=started, finished_at=datetime.now(timezone.utc),
                             errors=1, status="failed", message=f"{reason}: {(output or '')[-OUTPUT_TAIL:]}")
        store.record_crawl(health)
        return health
