"""``crisiswatch run --follow`` reads the streaming API of a source with ``mode: stream``:
posts published after the first crawl reach the store through the stream (no second crawl
happens in the test's time), and the evaluator runs on them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import yaml

from crisiswatch.core.config import load_config
from crisiswatch.core.store import open_store
from crisiswatch.core.store.base import PostFilter
from scenarios.replay import ReplayServer
from scenarios.replay.streaming import stream_sources
from scenarios.replay.synthetic import START, WATCHLISTS, synthetic_scenario
from tests.crawlers.test_stream import expected_ids

REPO = Path(__file__).resolve().parents[2]


def test_follow_streams_the_sources_that_ask_for_it(tmp_path):
    from nlp.tiny import make_tiny_models

    models = make_tiny_models(tmp_path / "tiny").model_dump(mode="json")
    with ReplayServer(synthetic_scenario(40, platforms=["mastodon", "bluesky"]), speedup=0) as server:
        server.clock.set(START + timedelta(minutes=5))
        sources = stream_sources(server)
        sources.append({**sources[0], "name": "polled-mastodon", "mode": "poll"})  # the same feed, polled only
        config = tmp_path / "crisiswatch.yaml"
        config.write_text(yaml.safe_dump({
            "data_dir": str(tmp_path / "data"), "store": {"sqlite_path": str(tmp_path / "store.db")},
            "watchlists": WATCHLISTS, "sources": sources, "models": models,
            "alerting": {"outbox_dir": str(tmp_path / "outbox")}}), encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("CRISISWATCH_")}
        process = subprocess.Popen(
            [sys.executable, "-c", "from crisiswatch.app.cli import main; main()", "run", "--follow",
             "--config", str(config), "--crawl-every", "600", "--backfill-every", "600", "--stop-after", "300"],
            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            deadline = time.monotonic() + 200
            faults = server.streams.faults
            while time.monotonic() < deadline and not (faults.connections.get("mastodon") and
                                                       faults.connections.get("bluesky")):
                time.sleep(0.2)
            assert faults.connections.get("mastodon") and faults.connections.get("bluesky"), "no stream was opened"
            with open_store(load_config(config)) as store:  # both first crawls of the feed are done
                while time.monotonic() < deadline and not (store.crawl_history("polled-mastodon", limit=1)
                                                           and store.crawl_history("stream-mastodon", limit=1)):
                    time.sleep(0.2)
            crawled_until = server.clock.now()
            for _ in range(20):  # twenty minutes of posts, published after every crawl
                server.clock.advance(timedelta(minutes=1))
                time.sleep(0.1)
            published_until = server.clock.now()
            want = {p: expected_ids(server, p, crawled_until, published_until) for p in ("mastodon", "bluesky")}
            every = set().union(*want.values())
            with open_store(load_config(config)) as store:  # until the follow loop stored and enriched them
                while time.monotonic() < deadline and not every <= set(store.get_enrichments(list(every))):
                    time.sleep(0.5)
            process.send_signal(signal.SIGINT)  # Ctrl-C: follow stops and reports
            output, _ = process.communicate(timeout=120)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert process.returncode == 0, output
    assert "streaming stream-mastodon, stream-bluesky" in output
    with open_store(load_config(config)) as store:
        for platform in ("mastodon", "bluesky"):
            late = [p for p in store.iter_posts(PostFilter(sources=(f"stream-{platform}",)))
                    if p.created_at > crawled_until]
            want = expected_ids(server, platform, crawled_until, published_until)
            assert len(want) >= 10 and sorted(p.id for p in late) == sorted(want), (platform, output)
        polled_late = [p for p in store.iter_posts(PostFilter(sources=("polled-mastodon",)))
                       if p.created_at > crawled_until]
        assert polled_late == [], "the polled source was crawled again: the test proves nothing about streams"
        assert store.get_enrichments([p.id for p in late]), "streamed posts were not enriched by the follow loop"
    assert "posts streamed" in output and " 0 posts streamed" not in output
