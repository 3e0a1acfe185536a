"""Two `crisiswatch serve` processes over one store (two workers behind one proxy): an API
token's rate limit and the login rate limit are one budget between them, not one each."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx
import pytest

from crisiswatch.app.api_tokens import Tokens
from crisiswatch.app.users import Users
from crisiswatch.core.store.sqlite import SqliteStore
from tests.alerts.test_cli import write_config
from tests.console.conftest import PASSWORD, SECRET
from tests.console.test_make_console import _free_port, wait_until_serving

CRISISWATCH = Path(sys.executable).with_name("crisiswatch")


@contextmanager
def consoles(config: str, count: int = 2):
    """``count`` real console processes on free loopback ports; yields their base URLs."""
    env = {**os.environ, "CRISISWATCH_SECRET_KEY": SECRET}
    ports = [_free_port() for _ in range(count)]
    procs = [subprocess.Popen([str(CRISISWATCH), "serve", "--port", str(port), "-c", config], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
             for port in ports]
    try:
        bases = [f"http://127.0.0.1:{port}" for port in ports]
        deadline = time.time() + 90
        for proc, base in zip(procs, bases):
            wait_until_serving(proc, base, deadline, "crisiswatch serve")
        yield bases
    finally:
        for proc in procs:
            with suppress(ProcessLookupError):  # one that failed to start is stopped already
                os.killpg(proc.pid, 15)
        for proc in procs:
            proc.wait(timeout=20)


@pytest.fixture
def two(tmp_path):
    if not CRISISWATCH.exists():
        pytest.skip(f"no {CRISISWATCH} (make install has not run here)")
    db = tmp_path / "store.db"
    store = SqliteStore(db)
    store.setup()
    Users(store).add("mei", "responder", PASSWORD)
    with consoles(write_config(tmp_path, db)) as bases:
        yield store, bases
    store.close()


def test_a_token_rate_limit_is_shared_by_two_console_processes_racing(two):
    store, bases = two
    token = Tokens(store).create("mei", rate_per_minute=20)
    headers = {"Authorization": f"Bearer {token}"}

    def call(i: int) -> int:
        return httpx.get(bases[i % 2] + "/api/v1/me", headers=headers, timeout=30).status_code

    with ThreadPoolExecutor(8) as pool:  # 60 requests at once, alternating between the processes
        answers = list(pool.map(call, range(60)))
    assert answers.count(200) == 20 and answers.count(429) == 40, answers


def test_failed_logins_on_one_process_block_the_name_on_the_other(two):
    _, (first, second) = two

    def attempt(base: str, password: str) -> int:
        with httpx.Client(base_url=base, timeout=30) as client:
            csrf = client.get("/login").text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
            return client.post("/login", data={"username": "mei", "password": password, "csrf": csrf,
                                               "next": "/"}).status_code

    assert [attempt(first if i % 2 else second, "wrong password") for i in range(5)] == [401] * 5
    assert attempt(first, PASSWORD) == 429 and attempt(second, PASSWORD) == 429  # even the right password waits
