"""What the Elasticsearch store does on the wire, against a loopback server answering in
Elasticsearch 9's real response format (tests/store/es_loopback.py).

These cover failure handling a user meets: a bulk write where some items fail, retries of
rejected items, an unreachable or incompatible cluster, refused credentials, a re-run of
setup. They do not replace the live suite (tests/store/test_elasticsearch.py, which runs
when CRISISWATCH_ELASTICSEARCH_URL is set): the loopback server does not evaluate queries.
"""

from __future__ import annotations

import base64
import logging
import os
import socket
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

from crisiswatch.core.config import Config, ElasticsearchConfig, StoreConfig
from crisiswatch.core.model import Enrichment, Post
from crisiswatch.core.store import StoreError
from crisiswatch.core.store.elasticsearch import ElasticsearchStore
from tests.store.es_loopback import LoopbackElasticsearch

T0 = datetime(2025, 3, 1, tzinfo=timezone.utc)


def _posts(n: int) -> list[Post]:
    return [Post(id=f"mastodon:{i}", source="mastodon", text=f"Acme recall notice {i}",
                 created_at=T0 + timedelta(minutes=i)) for i in range(n)]


@pytest.fixture
def server():
    with LoopbackElasticsearch() as srv:
        yield srv


def _store(url: str, **config: object) -> ElasticsearchStore:
    cfg = Config(store=StoreConfig(elasticsearch=ElasticsearchConfig(**config)))
    return ElasticsearchStore.from_config(cfg, url, bulk_initial_backoff_s=0.01, bulk_max_retries=2)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_bulk_write_reports_each_failed_item_and_keeps_all_the_others(server):
    store = _store(server.url)
    store.setup()
    server.state.fail_ids["mastodon:3"] = (400, "document_parsing_exception",
                                           "[1:57] failed to parse field [created_at] of type [date]")
    server.state.fail_ids["mastodon:7"] = (429, "es_rejected_execution_exception", "rejected execution")
    server.state.reject_once.add("mastodon:5")  # rejected once, then accepted on retry

    result = store.upsert_posts(_posts(10))

    assert result.written == 8
    failed = {item.id: item.reason for item in result.failed}
    assert set(failed) == {"mastodon:3", "mastodon:7"}
    assert "document_parsing_exception" in failed["mastodon:3"] and "created_at" in failed["mastodon:3"]
    assert failed["mastodon:7"].startswith("429")
    stored = server.state.indices["crisiswatch-posts-000001"]
    assert sorted(stored) == sorted(f"mastodon:{i}" for i in range(10) if i not in (3, 7))
    assert stored["mastodon:5"]["text"] == "Acme recall notice 5"
    # a persistently rejected item was retried (bulk_max_retries=2) before it was reported
    bulk_bodies = [r.body for r in server.state.requests if r.path.endswith("/_bulk")]
    assert sum(b'"mastodon:7"' in body for body in bulk_bodies) == 3


def test_enrichment_update_is_partial_and_unknown_posts_are_reported(server):
    store = _store(server.url)
    store.setup()
    store.upsert_posts(_posts(3))
    result = store.update_enrichments([Enrichment(post_id="mastodon:1", sentiment="negative", emotion="anger"),
                                       Enrichment(post_id="mastodon:404", sentiment="neutral")])
    assert result.written == 1
    assert [(i.id, i.reason) for i in result.failed] == [("mastodon:404", "no post with this id")]
    doc = server.state.indices["crisiswatch-posts-000001"]["mastodon:1"]
    assert doc["enrichment"]["sentiment"] == "negative" and doc["text"] == "Acme recall notice 1"
    # re-ingesting the post replaces its content in place and keeps the enrichment
    again = _posts(3)[1].model_copy(update={"text": "Acme recall notice, edited"})
    assert store.upsert_posts([again]).written == 1
    doc = server.state.indices["crisiswatch-posts-000001"]["mastodon:1"]
    assert doc["text"] == "Acme recall notice, edited" and doc["enrichment"]["emotion"] == "anger"
    update_lines = [r.body for r in server.state.requests if r.path.endswith("/_bulk")][-1].splitlines()
    assert b'"update"' in update_lines[0] and b'"_index":"crisiswatch-posts-000001"' in update_lines[0]


def test_unreachable_cluster_is_one_clear_error_naming_the_url_without_credentials():
    port = _free_port()
    store = _store(f"http://elastic:hunter2secret@127.0.0.1:{port}")
    with pytest.raises(StoreError) as caught:
        store.count_posts()
    message = str(caught.value)
    assert f"cannot reach Elasticsearch at http://127.0.0.1:{port}" in message
    assert "hunter2secret" not in message and "\n" not in message


def test_cli_reports_an_unreachable_cluster_without_a_traceback(tmp_path):
    port = _free_port()
    env = {**os.environ, "CRISISWATCH_ELASTICSEARCH_URL": f"http://127.0.0.1:{port}",
           "CRISISWATCH_CONFIG": str(tmp_path / "none.yaml"), "COLUMNS": "200"}
    (tmp_path / "none.yaml").write_text("{}\n")
    for command in (["es", "check"], ["es", "setup"]):
        done = subprocess.run([sys.executable, "-c", "from crisiswatch.app.cli import main; main()", *command],
                              capture_output=True, text=True, env=env, timeout=120)
        assert done.returncode == 1
        assert f"cannot reach Elasticsearch at http://127.0.0.1:{port}" in done.stderr
        assert "Traceback" not in done.stderr + done.stdout


def test_server_of_another_major_is_refused_with_both_versions(server):
    server.state.version = "8.17.3"
    store = _store(server.url)
    with pytest.raises(StoreError) as caught:
        store.setup()
    message = str(caught.value)
    assert "8.17.3" in message and "9.5" in message and "majors must be equal" in message
    assert not server.state.templates  # nothing was applied to the incompatible cluster
    checks = store.check()
    assert [(c.name, c.ok) for c in checks] == [("version", False)]


def test_a_server_that_is_not_elasticsearch_is_named(server):
    server.state.product_header = False
    with pytest.raises(StoreError, match="is not an Elasticsearch server"):
        _store(server.url).setup()


def test_missing_indices_point_to_setup(server):
    with pytest.raises(StoreError, match=r"no such index \[crisiswatch-posts\].*crisiswatch es setup"):
        _store(server.url).count_posts()


def test_setup_is_idempotent_and_reports_what_changed(server):
    store = _store(server.url)
    first = {(c.kind, c.name): c.action for c in store.apply_schema()}
    assert first[("ILM policy", "crisiswatch-posts-policy")] == "created"
    assert first[("index", "crisiswatch-posts-000001")] == "created"
    assert set(first.values()) == {"created"}
    puts = len([r for r in server.state.requests if r.method in ("PUT", "POST")])

    second = store.apply_schema()
    assert {c.action for c in second} == {"unchanged"}
    assert len([r for r in server.state.requests if r.method in ("PUT", "POST")]) == puts  # wrote nothing

    longer = _store(server.url, retention="365d")
    third = {(c.kind, c.name): c.action for c in longer.apply_schema()}
    assert third[("ILM policy", "crisiswatch-posts-policy")] == "updated"
    assert third[("index template", "crisiswatch-posts")] == "unchanged"
    delete_after = server.state.policies["crisiswatch-posts-policy"]["policy"]["phases"]["delete"]["min_age"]
    assert delete_after == f"{365 * 86400}s"

    # someone edited a template by hand: setup puts ours back and extends the live mapping
    server.state.templates["crisiswatch-incidents"]["_meta"]["hash"] = "edited"
    fourth = {(c.kind, c.name): c.action for c in longer.apply_schema()}
    assert fourth[("index template", "crisiswatch-incidents")] == "updated"
    assert fourth[("mapping", "crisiswatch-incidents")] == "updated"
    assert {c.name: c.ok for c in longer.check()}["index template crisiswatch-incidents"]


def test_setup_racing_another_process_is_not_an_error(server):
    store = _store(server.url)
    store.setup()
    del server.state.aliases["crisiswatch-posts"]  # another process creates index and alias
    changes = {(c.kind, c.name): c.action for c in store.apply_schema()}  # ... between our check and create
    assert ("index", "crisiswatch-posts-000001") not in changes
    assert set(changes.values()) == {"unchanged"}


def test_check_flags_an_outdated_template(server):
    store = _store(server.url)
    store.setup()
    server.state.templates["crisiswatch-posts"]["_meta"]["hash"] = "old"
    results = {c.name: c for c in store.check()}
    assert not results["index template crisiswatch-posts"].ok
    assert "outdated" in results["index template crisiswatch-posts"].detail
    assert results["cluster health"].ok and results["version"].ok


def test_api_key_comes_from_the_environment_and_is_never_logged(server, monkeypatch, caplog):
    key = "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw=="
    server.state.authorization = f"ApiKey {key}"
    monkeypatch.setenv("CRISISWATCH_ELASTICSEARCH_API_KEY", key)
    caplog.set_level(logging.DEBUG)
    store = _store(server.url)
    store.setup()
    assert store.upsert_posts(_posts(2)).written == 2
    assert key not in caplog.text

    monkeypatch.setenv("CRISISWATCH_ELASTICSEARCH_API_KEY", "wrong-key")
    with pytest.raises(StoreError) as caught:
        _store(server.url).count_posts()
    assert "refused the credentials" in str(caught.value) and "wrong-key" not in str(caught.value)


def test_password_placeholder_in_the_config_is_resolved_from_the_environment(server, monkeypatch):
    server.state.authorization = "Basic " + base64.b64encode(b"crisiswatch_writer:pa55").decode()
    monkeypatch.setenv("CRISISWATCH_ES_WRITER_PASSWORD", "pa55")
    store = _store(server.url, username="crisiswatch_writer", password="${CRISISWATCH_ES_WRITER_PASSWORD}")
    store.setup()
    monkeypatch.delenv("CRISISWATCH_ES_WRITER_PASSWORD")
    with pytest.raises(StoreError, match="CRISISWATCH_ES_WRITER_PASSWORD is not set"):
        _store(server.url, username="crisiswatch_writer", password="${CRISISWATCH_ES_WRITER_PASSWORD}")


def test_update_state_is_a_compare_and_set_that_retries_when_another_process_wrote(server):
    store, other = _store(server.url), _store(server.url)
    store.setup()
    assert store.update_state("users", lambda current: "1") == "1"  # created (op_type=create)
    seen: list[str | None] = []

    def bump(current: str | None) -> str:
        seen.append(current)
        if len(seen) == 1:
            other.set_state("users", "5")  # another process writes between our read and our write
        return str(int(current or 0) + 1)

    assert store.update_state("users", bump) == "6"  # the first write conflicted and was redone on "5"
    assert seen == ["1", "5"] and store.get_state("users") == "6"
    assert store.update_state("users", lambda current: None) is None and store.get_state("users") is None
