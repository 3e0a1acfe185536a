"""Incident writes as compare-and-set, beyond the contract: SQLite's migration of stores
written before (schema 4), and Elasticsearch's if_seq_no / op_type=create on the wire."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from crisiswatch.core.config import Config
from crisiswatch.core.model import IncidentState
from crisiswatch.core.store.base import FingerprintTaken, IncidentConflict
from crisiswatch.core.store.elasticsearch import ElasticsearchStore
from crisiswatch.core.store.sqlite import SCHEMA_VERSION, SqliteStore, to_us
from tests.store.contract import incident
from tests.store.es_loopback import LoopbackElasticsearch


def _as_schema_3_with_a_race(path: Path) -> None:
    """What crisiswatch wrote before versions: no version column, no unique index, and two
    open incidents of one fingerprint (the race schema 4 prevents)."""
    with SqliteStore(path) as store:
        store.save_incident(incident("older", opened_minutes=0))
        store.save_incident(incident("other", fingerprint="other|acme|"))
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("DROP INDEX incidents_open_fingerprint")
    conn.execute("ALTER TABLE incidents DROP COLUMN version")
    newer = incident("newer", opened_minutes=5)
    conn.execute("INSERT INTO incidents (id, fingerprint, state, opened_us, updated_us, doc) VALUES (?,?,?,?,?,?)",
                 ("newer", newer.fingerprint, "open", to_us(newer.opened_at), to_us(newer.updated_at),
                  newer.model_dump_json()))
    conn.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    conn.close()


def test_an_older_store_is_migrated_and_its_doubled_incident_settled(tmp_path):
    path = tmp_path / "old.db"
    _as_schema_3_with_a_race(path)
    with SqliteStore(path) as store:
        older, newer = store.get_incident("older"), store.get_incident("newer")
        assert newer.state == IncidentState.open and older.state == IncidentState.resolved
        assert "duplicate of incident newer" in older.events[-1].message and len(older.events) == 3  # nothing lost
        assert store.get_incident("other").state == IncidentState.open
        with pytest.raises(FingerprintTaken):
            store.save_incident(incident("third", opened_minutes=9))
        stale = store.get_incident("newer")
        newer.assignee = "li.wei"
        store.save_incident(newer)  # rows from before the migration take part in compare-and-set too
        with pytest.raises(IncidentConflict):
            store.save_incident(stale)
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == str(SCHEMA_VERSION)


def test_elasticsearch_writes_incidents_with_if_seq_no_and_one_open_claim_per_fingerprint():
    with LoopbackElasticsearch() as server:
        store = ElasticsearchStore.from_config(Config(), server.url)
        store.setup()
        first = incident("first")
        store.save_incident(first)
        stale = store.get_incident("first")
        fresh = store.get_incident("first")
        fresh.assignee = "li.wei"
        store.save_incident(fresh)
        with pytest.raises(IncidentConflict):
            store.save_incident(stale)
        with pytest.raises(IncidentConflict):
            store.save_incident(incident("first"))  # op_type=create on an existing id
        with pytest.raises(FingerprintTaken) as taken:
            store.save_incident(incident("second"))
        assert taken.value.holder == "first"
        fresh.state = IncidentState.resolved
        store.save_incident(fresh)  # lets the fingerprint go
        store.save_incident(incident("second"))
        writes = [r for r in server.state.requests if r.method == "PUT" and "/_doc/" in r.path]
    queries = [r.query for r in writes if r.path.endswith("/first")]
    assert queries[0].get("op_type") == ["create"] and "if_seq_no" in queries[1] and "if_primary_term" in queries[1]
    claims = [r for r in writes if "open-incident" in r.path]
    assert claims and claims[0].query.get("op_type") == ["create"]
