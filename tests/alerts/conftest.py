from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from crisiswatch.core.store.sqlite import SqliteStore
from tests.alerts.helpers import SmtpReceiver, WebhookReceiver, make_world


@pytest.fixture(scope="session")
def world_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The standard world (background + a crisis on acme) written once into a SQLite file."""
    path = tmp_path_factory.mktemp("world") / "world.db"
    store = SqliteStore(path)
    store.setup()
    posts, enrichments = make_world()
    assert not store.upsert_posts(posts).failed
    assert not store.update_enrichments(enrichments).failed
    store.close()
    with sqlite3.connect(path) as conn:  # fold the WAL into the file so a plain copy is complete
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


@pytest.fixture
def world(world_db: Path, tmp_path: Path) -> SqliteStore:
    """A private copy of the standard world for one test."""
    path = tmp_path / "store.db"
    shutil.copy(world_db, path)
    store = SqliteStore(path)
    store.setup()
    yield store
    store.close()


@pytest.fixture
def webhook() -> WebhookReceiver:
    receiver = WebhookReceiver()
    yield receiver
    receiver.stop()


@pytest.fixture
def smtp() -> SmtpReceiver:
    receiver = SmtpReceiver()
    yield receiver
    receiver.stop()
