"""The shared Store contract on SQLite, plus what only an embedded file store can get wrong:
the file itself (WAL, persistence, corruption, locks) and use from several threads."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from crisiswatch.core.store.base import PostFilter, StoreError
from crisiswatch.core.store.sqlite import SqliteStore
from tests.store.contract import StoreContract, post


class TestSqliteStore(StoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path):
        with SqliteStore(tmp_path / "crisiswatch.db") as store:
            store.setup()
            yield store


def test_creates_directories_uses_wal_and_persists(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "cw.db"
    with SqliteStore(path) as store:
        store.upsert_posts([post("1", "persisted 召回")])
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with SqliteStore(path) as again:
        assert again.count_posts(PostFilter(text="召回")) == 1


def test_corrupt_file_gives_store_error_naming_the_path(tmp_path: Path) -> None:
    path = tmp_path / "broken.db"
    path.write_bytes(b"this is not an SQLite database\n" * 200)
    with pytest.raises(StoreError, match=f"{path}.*not a usable crisiswatch SQLite database"):
        SqliteStore(path).count_posts()
    assert path.read_bytes().startswith(b"this is not")  # nothing was overwritten


def test_unreachable_location_gives_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="a-file"):
        SqliteStore(blocker / "cw.db").setup()


def test_locked_database_gives_clear_error_and_reads_still_work(tmp_path: Path) -> None:
    path = tmp_path / "cw.db"
    store = SqliteStore(path, busy_timeout_s=0.2)
    store.upsert_posts([post("1", "before the lock")])
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreError, match=f"{path}.*locked"):
            store.upsert_posts([post("2", "blocked")])
        assert store.count_posts() == 1
    finally:
        other.execute("ROLLBACK")
        other.close()
    store.upsert_posts([post("2", "after the lock")])
    assert store.count_posts() == 2
    store.close()


_OPEN_AT_ONCE = """
import sys, time
from crisiswatch.core.store.sqlite import SqliteStore
from tests.store.contract import post
start = float(sys.argv[2])
while time.time() < start:
    pass
with SqliteStore(sys.argv[1]) as store:
    store.upsert_posts([post(sys.argv[3], "written by one of several processes")])
"""


def test_processes_that_create_the_same_new_file_at_once_all_get_in(tmp_path: Path) -> None:
    # Crawls of several sources start together on a fresh machine; every one must store its posts.
    for round_no in range(4):
        path = tmp_path / f"fresh{round_no}.db"
        start = time.time() + 1.5
        workers = [subprocess.Popen([sys.executable, "-c", _OPEN_AT_ONCE, str(path), str(start), f"p{n}"],
                                    cwd=Path(__file__).parents[2], stderr=subprocess.PIPE, text=True)
                   for n in range(4)]
        errors = [w.communicate()[1] for w in workers]
        assert [w.returncode for w in workers] == [0, 0, 0, 0], errors
        with SqliteStore(path) as store:
            assert store.count_posts() == 4


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cw.db"
    SqliteStore(path).setup()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="newer crisiswatch"):
        SqliteStore(path).setup()


def test_concurrent_writers_and_readers_from_threads(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "cw.db")
    store.setup()
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            for chunk in range(5):
                store.upsert_posts([post(f"{worker}-{chunk}-{i}", f"thread {worker} 召回", minutes=i)
                                    for i in range(40)])
                store.count_posts(PostFilter(text="召回"))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert store.count_posts() == 800 == store.count_posts(PostFilter(text="召回"))
    store.close()


_BUMP = """
import sys
from crisiswatch.core.store.sqlite import SqliteStore
store = SqliteStore(sys.argv[1])
for _ in range(150):
    store.update_state("hits", lambda current: str(int(current or 0) + 1))
"""


def test_update_state_loses_no_increment_between_two_processes(tmp_path: Path) -> None:
    path = tmp_path / "cw.db"
    SqliteStore(path).setup()
    workers = [subprocess.Popen([sys.executable, "-c", _BUMP, str(path)]) for _ in range(2)]
    assert [w.wait(timeout=120) for w in workers] == [0, 0]
    with SqliteStore(path) as store:
        assert store.get_state("hits") == "300"  # get_state + set_state would lose some of them


def test_short_terms_fold_case_beyond_ascii(tmp_path: Path) -> None:
    with SqliteStore(tmp_path / "cw.db") as store:
        store.upsert_posts([post("1", "ÉCOLE fermée"), post("2", "ecole")])
        assert [p.id for p in store.search(PostFilter(text="éc"))] == ["weibo:1"]


_POOLED_WRITE = """
import json, sys
from crisiswatch.core.store.base import PostFilter
from crisiswatch.core.store.sqlite import SqliteStore
from tests.store.contract import post
words = ["召回", "奶粉", "refund", "delay", "客服", "outage", "中毒", "apology"]
posts = [post(str(i), f"{words[i % 8]}{words[(i * 3) % 8]} {words[(i * 5) % 8]} {i}", minutes=i % 600)
         for i in range(4200)]
with SqliteStore(sys.argv[1], term_workers=1) as store:
    assert store.upsert_posts(posts).written == 4200
    assert store._pool is not None, "the large write did not use a worker process"
"""


def test_term_worker_processes_give_the_same_terms(tmp_path: Path) -> None:
    """A large write from a fresh single-threaded process cuts terms in a forked worker and
    stores exactly what an inline write stores (run apart: other tests may leave threads)."""
    repo = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", _POOLED_WRITE, str(tmp_path / "pool.db")], cwd=repo, check=True,
                   timeout=120, env={**os.environ, "PYTHONPATH": str(repo)})
    words = ["召回", "奶粉", "refund", "delay", "客服", "outage", "中毒", "apology"]
    posts = [post(str(i), f"{words[i % 8]}{words[(i * 3) % 8]} {words[(i * 5) % 8]} {i}", minutes=i % 600)
             for i in range(4200)]
    with SqliteStore(tmp_path / "pool.db") as pooled, SqliteStore(tmp_path / "inline.db", term_workers=0) as inline:
        inline.upsert_posts(posts)
        assert pooled.count_posts() == 4200
        assert pooled.top_terms(PostFilter(), limit=50) == inline.top_terms(PostFilter(), limit=50)
        assert pooled.count_posts(PostFilter(text="召回")) == inline.count_posts(PostFilter(text="召回")) > 0
