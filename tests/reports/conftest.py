"""The ``filled`` fixture: a SQLite store with hand-made posts, enrichments and incidents."""

from __future__ import annotations

import pytest
from report_data import config, fill

from crisiswatch.core.store.sqlite import SqliteStore


@pytest.fixture
def filled(tmp_path):
    store = SqliteStore(tmp_path / "reports.db")
    store.setup()
    facts = fill(store)
    yield store, config(), facts
    store.close()
