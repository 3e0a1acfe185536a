"""Chaos: evaluators, deliverers, ackers, noters, an assigner and a resolver, each its own
process running the real CLI against one store, while the receiver is slow, fails (500),
refuses connections and comes back (issue 12, "Done when").

Afterwards every ack, note, assignment and resolve that the CLI reported done is in the
timeline, there is exactly one incident per fingerprint, every (incident, event, channel)
reached the receiver exactly once (its idempotency keys counted), and nothing is left
undelivered. Loopback only; bounded in time. Runs on SQLite always and on Elasticsearch when
CRISISWATCH_ELASTICSEARCH_URL is set (skipped, visibly, otherwise).
"""

from __future__ import annotations

import multiprocessing
import os
import queue as queues
import threading
import time
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crisiswatch.app.cli import app
from crisiswatch.core.config import load_config
from crisiswatch.core.model import Post
from crisiswatch.core.store import open_store

from tests.alerts import chaos_workers
from tests.alerts.helpers import ONSET, WebhookReceiver, free_port, make_world

AT = ONSET + timedelta(minutes=30)
WATCHLISTS = ("acme", "beta", "gamma")
ROLES = [("evaluator", 3), ("deliverer", 2), ("acker", 2), ("noter", 2), ("assigner", 1), ("resolver", 1)]
PHASE_SECONDS = 3.5
"""How long the receiver stays in each behaviour, from the first message it sees."""


def chaos_world() -> tuple[list[Post], list]:
    """The standard crisis, happening to three brands at once (three fingerprints)."""
    posts, enrichments = make_world()
    all_posts, all_enrichments = [], []
    for name in WATCHLISTS:
        for post, enrichment in zip(posts, enrichments):
            if "acme" not in post.watchlists:
                continue
            pid = f"{post.source}:{name}-{post.id.split(':', 1)[1]}"
            all_posts.append(post.model_copy(update={"id": pid, "text": post.text.replace("acme", name),
                                                     "watchlists": [name]}))
            all_enrichments.append(enrichment.model_copy(update={"post_id": pid}))
    return all_posts, all_enrichments


class FlakyReceiver:
    """A loopback webhook on a fixed port that is slow, then fails, then is gone, then back;
    the script starts with the first message it is sent."""

    def __init__(self) -> None:
        self.port = free_port()
        self.servers = [WebhookReceiver(port=self.port, delay=1.0)]
        self.stopped, self.done = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self._script, daemon=True)
        self.thread.start()

    def _script(self) -> None:
        while not self.servers[0].attempts:
            if self.stopped.wait(0.05):
                return
        for step in ("error", "down", "ok"):
            if self.stopped.wait(PHASE_SECONDS):
                return
            if step == "error":
                self.servers[-1].delay, self.servers[-1].mode = 0.0, "error"
            elif step == "down":
                self.servers[-1].stop()  # connections refused
            else:
                self.servers.append(WebhookReceiver(port=self.port))
        self.done.set()

    def keys(self) -> list[str]:
        return [key for server in self.servers for key in server.keys()]

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(5)
        for server in self.servers:
            server.stop()


def _store_section(backend: str, tmp_path: Path) -> str:
    if backend == "sqlite":
        return f"store: {{sqlite_path: {tmp_path / 'chaos.db'}}}"
    url = os.environ["CRISISWATCH_ELASTICSEARCH_URL"]
    return f"store: {{elasticsearch: {{url: '{url}', index_prefix: chaos-{uuid.uuid4().hex[:8]}}}}}"


@pytest.mark.parametrize("backend", [
    "sqlite",
    pytest.param("elasticsearch", marks=pytest.mark.skipif(
        not os.environ.get("CRISISWATCH_ELASTICSEARCH_URL"),
        reason="CRISISWATCH_ELASTICSEARCH_URL is not set: the chaos test on Elasticsearch needs a cluster")),
])
def test_chaos_loses_no_action_and_delivers_every_notification_exactly_once(tmp_path, backend):
    receiver, ops = FlakyReceiver(), WebhookReceiver()
    config_path = tmp_path / "crisiswatch.yaml"
    config_path.write_text(f"""
data_dir: {tmp_path}
{_store_section(backend, tmp_path)}
watchlists: [{', '.join(f'{{name: {w}, terms: [{w}]}}' for w in WATCHLISTS)}]
crisis_lexicon: [recall, poisoning, boycott, 召回, 中毒]
rules:
  - {{name: volume, detector: volume_spike, bucket: 15m, min_count: 8}}
  - {{name: crisis-terms, detector: keyword_burst, bucket: 15m, window: 1h, min_count: 5}}
channels:
  - {{name: hook, url: "json://127.0.0.1:{receiver.port}/hook", format: text, max_attempts: 2, timeout: 3s}}
  - {{name: ops, url: "{ops.url('/ops')}", format: text}}
routes: [{{name: all, channels: [hook]}}]
airflow: {{operations_channels: [ops]}}
alerting: {{outbox_dir: {tmp_path}/outbox, charts: false, retry_backoff: 1s, retry_backoff_max: 2s,
           delivery_max_age: 3650d, renotify_every: 2h}}
""", encoding="utf-8")
    config = load_config(config_path)
    with open_store(config) as store:
        store.setup()
        posts, enrichments = chaos_world()
        assert not store.upsert_posts(posts).failed and not store.update_enrichments(enrichments).failed

    context = multiprocessing.get_context("spawn")
    results, stop = context.Queue(), context.Event()
    later = (AT + timedelta(minutes=20)).isoformat()
    workers = [context.Process(target=chaos_workers.run, args=(role, n, str(config_path), AT.isoformat(), later,
                                                                len(WATCHLISTS), stop, results))
               for role, count in ROLES for n in range(count)]
    try:
        for worker in workers:
            worker.start()
        reports = []
        deliverers = sum(count for role, count in ROLES if role == "deliverer")
        for _ in range(len(workers) - deliverers):  # everyone but the deliverers
            try:
                reports.append(results.get(timeout=150))
            except queues.Empty:
                break
        assert receiver.done.wait(60), "the receiver never saw a message"
        time.sleep(2 * PHASE_SECONDS)  # the deliverers catch up with the receiver that came back
        stop.set()
        for _ in range(deliverers):
            try:
                reports.append(results.get(timeout=60))
            except queues.Empty:
                break
        for worker in workers:
            worker.join(10)
            if worker.is_alive():
                worker.kill()
        assert len(reports) == len(workers), "a worker did not finish in time"
        # the receiver is back for good: deliver what is left, until nothing is undelivered
        # (now, not --now: the people's commands ran on the wall clock, so did their retry times)
        for _ in range(10):
            final = CliRunner().invoke(app, ["alerts", "deliver", "-c", str(config_path)])
            if final.exit_code == 0:
                break
            time.sleep(1.0)
        assert final.exit_code == 0, final.output
    finally:
        for worker in workers:
            if worker.is_alive():
                worker.kill()
        receiver.stop()
        ops.stop()

    actions = [item for _, _, done in reports for item in done]
    assert not [a for a in actions if a[0] == "crash"], [a for a in actions if a[0] == "crash"]
    assert all(code == 0 for kind, *rest, code, out in (a for a in actions if a[0] in ("evaluate",))), \
        [a for a in actions if a[0] == "evaluate" and a[1] != 0]
    with open_store(config) as store:
        incidents = store.list_incidents(states=None, limit=1000)
    # exactly one incident per fingerprint, and one per brand (the rules grouped)
    assert Counter(i.fingerprint for i in incidents) == Counter({f"volume|{w}|": 1 for w in WATCHLISTS})
    by_id = {i.id: i for i in incidents}
    # every action the CLI reported done is in the timeline
    succeeded = [a for a in actions if a[0] in ("ack", "note", "assign", "resolve") and a[3] == 0]
    assert {a[1] for a in succeeded if a[0] == "ack"} == set(by_id), [a for a in actions if a[0] == "ack"]
    for kind, incident_id, what, code, out in succeeded:
        events = by_id[incident_id].events
        if kind == "ack":
            assert any(e.kind == "acknowledged" and e.actor == what for e in events), (incident_id, what)
        elif kind == "note":
            assert any(e.kind == "note" and e.message == what for e in events), (incident_id, what)
        elif kind == "assign":
            assert any(e.kind == "assigned" and e.data.get("assignee") == what for e in events), (incident_id, what)
        else:
            assert by_id[incident_id].state.value == "resolved"
            assert any(e.kind == "resolved" and e.actor == what for e in events), incident_id
    refused = [a for a in actions if a[0] in ("note", "assign") and a[3] != 0]
    assert not refused, refused  # notes and assignments never conflict with anything
    # every (incident, event, channel) reached the receiver exactly once
    records = [r for i in incidents for r in i.notifications if r.channel == "hook"]
    assert records and all(r.status == "sent" for r in records), [(r.idempotency_key, r.status) for r in records]
    counted = Counter(receiver.keys())
    assert counted == Counter({r.idempotency_key: 1 for r in records}), \
        {k: n for k, n in counted.items() if n != 1} or set(counted) ^ {r.idempotency_key for r in records}
