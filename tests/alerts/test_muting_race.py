"""Silences are one list in the store's state: two processes changing it at once keep both changes."""

import subprocess
import sys
import time
from datetime import timedelta

from alerts import muting
from crisiswatch.core.model import utc_now
from crisiswatch.core.store.sqlite import SqliteStore

ROUNDS = 40
_SILENCE = f"""ROUNDS = {ROUNDS}

import sys, time
from datetime import timedelta
from alerts import muting
from crisiswatch.core.model import utc_now
from crisiswatch.core.store.sqlite import SqliteStore
store = SqliteStore(sys.argv[1])
now = utc_now()
time.sleep(max(0.0, float(sys.argv[4]) - time.time()))  # both start at the same instant
if sys.argv[2] == "remove":
    assert muting.remove(store, sys.argv[3])
for i in range(ROUNDS):
    muting.add(store, muting.Silence(watchlist=f"{{sys.argv[2]}}{{i}}", start=now, end=now + timedelta(hours=1),
                                     reason="race", created_by=sys.argv[2], created_at=now))
"""


def test_two_processes_silencing_at_once_keep_every_silence_and_the_removal(tmp_path):
    path = tmp_path / "store.db"
    store = SqliteStore(path)
    store.setup()
    now = utc_now()
    doomed = muting.add(store, muting.Silence(watchlist="old", start=now, end=now + timedelta(hours=1),
                                              created_by="setup", created_at=now))
    start = str(time.time() + 8)
    workers = [subprocess.Popen([sys.executable, "-c", _SILENCE, str(path), who, doomed.id, start])
               for who in ("a", "remove")]
    assert [w.wait(timeout=300) for w in workers] == [0, 0]
    # a read of the list then a write of it would have dropped the other process's silences
    kept = sorted(s.watchlist for s in muting.load(SqliteStore(path)))
    assert kept == sorted([f"a{i}" for i in range(ROUNDS)] + [f"remove{i}" for i in range(ROUNDS)])


def test_removing_an_unknown_silence_says_so_and_changes_nothing(tmp_path):
    store = SqliteStore(tmp_path / "store.db")
    store.setup()
    now = utc_now()
    muting.add(store, muting.Silence(watchlist="w", start=now, end=now + timedelta(hours=1), created_at=now))
    assert muting.remove(store, "nosuchid") is False
    assert [s.watchlist for s in muting.load(store)] == ["w"]
