"""`make console` serves the demo's store and config once `make run` wrote them, and `make run`
says how to open it."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest
import yaml

from crisiswatch.app.users import Users
from crisiswatch.core.store.sqlite import SqliteStore

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "demo-password-123"


def wait_until_serving(proc: subprocess.Popen, base: str, deadline: float, what: str) -> None:
    """Wait until the console started as ``proc`` (its own session, output piped) answers
    ``/login``; fail with its output when it exits or ``deadline`` (a ``time.time()``) passes."""
    while True:
        try:
            if httpx.get(base + "/login", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.time() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, 15)  # before reading its output, which ends only when it does
            pytest.fail(f"{what} did not serve at {base}:\n" + proc.communicate(timeout=20)[0].decode())
        time.sleep(0.3)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_make_run_ends_by_saying_how_to_open_the_console():
    out = subprocess.run(["make", "-n", "run"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert "make console" in out and "http://127.0.0.1:8000/" in out
    assert "users add" in out and "data/demo/crisiswatch.yaml" in out


@pytest.mark.skipif(not (REPO / ".venv" / ".installed").exists(), reason="make install has not run here")
def test_make_console_serves_the_demo_store(tmp_path):
    demo = tmp_path / "demo"
    demo.mkdir()
    db = demo / "crisiswatch.db"
    (demo / "crisiswatch.yaml").write_text(yaml.safe_dump({
        "data_dir": str(demo), "store": {"sqlite_path": str(db)},
        "watchlists": [{"name": "dairyfarm-demo", "terms": ["dairy"]}]}), encoding="utf-8")
    store = SqliteStore(db)
    store.setup()
    Users(store).add("demo", "admin", PASSWORD)
    store.close()
    port = _free_port()
    env = {**os.environ, "CRISISWATCH_SECRET_KEY": "test-only-signing-key-0123456789"}
    env.pop("CRISISWATCH_CONFIG", None)
    # -o: the venv counts as installed even when pyproject.toml is newer (another change in the
    # tree): this test is about serving, and a reinstall would take minutes
    proc = subprocess.Popen(["make", "-o", ".venv/.installed", "console", f"DEMO_DIR={demo}", f"CONSOLE_PORT={port}"],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_serving(proc, base, time.time() + 60, "make console")
        with httpx.Client(base_url=base, timeout=10) as client:
            form = client.get("/login").text
            csrf = form.split('name="csrf" value="', 1)[1].split('"', 1)[0]
            assert client.post("/login", data={"username": "demo", "password": PASSWORD, "csrf": csrf,
                                               "next": "/"}).status_code == 303
            assert "dairyfarm-demo" in client.get("/").text  # the demo config's watchlist
    finally:
        with contextlib.suppress(ProcessLookupError):  # gone already when the start failed
            os.killpg(proc.pid, 15)
        proc.wait(timeout=20)
