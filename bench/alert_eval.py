"""Alert engine speed: one evaluation cycle of 100 rules over a SQLite store of 1,000,000 posts.

Run from the repository root with the project venv::

    .venv/bin/python bench/alert_eval.py                      # builds the store (a few minutes)
    .venv/bin/python bench/alert_eval.py --db /tmp/alerts.db  # keeps / reuses it

The posts come from the store benchmark's generator (``bench/store_ingest.py``: Chinese and
English posts over 7 days, five watchlists with skewed shares, enrichments with sentiment
and topics). The 100 rules cover every detector: 20 per watchlist (volume spikes on several
filters, negative share over three windows, crisis-keyword bursts, influencers, emerging
topics, spread across platforms), all with 15-minute buckets and a 21-day baseline.

Timed: ``alerts.engine.evaluate_cycle`` end to end (detectors, incidents, escalation),
three ways, in the same run:

* cold: the first cycle, which reads the whole baseline history of every series (this is
  also what every cycle would cost without the series cache - the baseline to beat);
* steady: the next cycles, five minutes apart, as the scheduler runs them: only buckets
  within each rule's ``settle`` period are read again, older ones come from the cache.

Last line: ``cycle_ms=<steady, median wall> cycle_cpu_ms=… cold_cycle_ms=… speedup_vs_uncached=…``;
goal < 2000 ms. A reused ``--db`` is reset first (cached series and incidents removed).
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crisiswatch.core.config import parse_config  # noqa: E402
from crisiswatch.core.store.sqlite import SqliteStore  # noqa: E402


def _store_bench():  # noqa: ANN202
    """The store engineer's generator, reused rather than written twice."""
    spec = importlib.util.spec_from_file_location("store_ingest", ROOT / "bench" / "store_ingest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_store(path: Path, posts: int) -> None:
    bench = _store_bench()
    store = SqliteStore(path)
    store.setup()
    rng = random.Random(11)
    started = time.perf_counter()
    for index, batch in enumerate(bench.synthetic_posts(posts)):
        store.upsert_posts(batch)
        store.update_enrichments(bench.enrichments_for(batch, rng))
        if (index + 1) % 10 == 0:
            print(f"  {(index + 1) * len(batch):,} posts written ({time.perf_counter() - started:.0f} s)", flush=True)
    store.close()


def _forget_alert_state(db: Path) -> None:
    """Drop what earlier runs left in a reused store (the Store interface has no key listing)."""
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM state WHERE key LIKE 'alerts:%'")
        conn.execute("DELETE FROM incidents")


def rules_yaml(watchlists: list[str]) -> str:
    per_watchlist = [
        "{{name: {w}-volume, detector: volume_spike, filter: {{watchlists: [{w}]}}}}",
        "{{name: {w}-volume-negative, detector: volume_spike, filter: {{watchlists: [{w}], sentiments: [negative]}}}}",
        "{{name: {w}-volume-zh, detector: volume_spike, filter: {{watchlists: [{w}], languages: [zh]}}}}",
        "{{name: {w}-volume-en, detector: volume_spike, filter: {{watchlists: [{w}], languages: [en]}}}}",
        "{{name: {w}-volume-weibo, detector: volume_spike, filter: {{watchlists: [{w}], sources: [weibo]}}}}",
        "{{name: {w}-volume-reddit, detector: volume_spike, filter: {{watchlists: [{w}], sources: [reddit]}}}}",
        "{{name: {w}-volume-anger, detector: volume_spike, filter: {{watchlists: [{w}], emotions: [anger]}}}}",
        "{{name: {w}-volume-quality, detector: volume_spike, filter: {{watchlists: [{w}], categories: [product_quality]}}}}",
        "{{name: {w}-negative-15m, detector: negative_share, filter: {{watchlists: [{w}]}}}}",
        "{{name: {w}-negative-1h, detector: negative_share, window: 1h, filter: {{watchlists: [{w}]}}}}",
        "{{name: {w}-negative-zh, detector: negative_share, window: 1h, filter: {{watchlists: [{w}], languages: [zh]}}}}",
        "{{name: {w}-terms-15m, detector: keyword_burst, filter: {{watchlists: [{w}]}}}}",
        "{{name: {w}-terms-1h, detector: keyword_burst, window: 1h, filter: {{watchlists: [{w}]}}}}",
        "{{name: {w}-terms-3h, detector: keyword_burst, window: 3h, filter: {{watchlists: [{w}]}}}}",
        "{{name: {w}-influencer, detector: influencer, window: 1h, filter: {{watchlists: [{w}]}}}}",
        "{{name: {w}-velocity, detector: influencer, window: 1h, filter: {{watchlists: [{w}]}}, params: {{velocity_per_hour: 100}}}}",
        "{{name: {w}-topic-1h, detector: emerging_topic, window: 1h, filter: {{watchlists: [{w}]}}}}",
        "{{name: {w}-topic-3h, detector: emerging_topic, window: 3h, filter: {{watchlists: [{w}]}}}}",
        "{{name: {w}-spread-1h, detector: cross_platform, window: 1h, filter: {{watchlists: [{w}]}}}}",
        "{{name: {w}-spread-3h, detector: cross_platform, window: 3h, filter: {{watchlists: [{w}]}}}}",
    ]
    return "\n".join(f"  - {rule.format(w=w)}" for w in watchlists for rule in per_watchlist)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, default=None, help="store file to build or reuse (default: temporary)")
    parser.add_argument("--cycles", type=int, default=5, help="steady-state cycles to time")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    bench = _store_bench()

    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or Path(tmp) / "alerts.db"
        if not db.exists():
            print(f"building a store of {args.posts:,} posts at {db} ...", flush=True)
            build_store(db, args.posts)
        _forget_alert_state(db)  # a reused store starts cold: no cached series, no incidents
        store = SqliteStore(db)
        store.setup()
        total = store.count_posts()
        watchlists = list(bench.WATCHLISTS)
        config = parse_config(f"""
data_dir: {tmp}
watchlists: [{', '.join(f'{{name: {w}, terms: [{w}]}}' for w in watchlists)}]
crisis_lexicon: [recall, poisoning, lawsuit, boycott, leak, 召回, 中毒, 起诉, 维权, 曝光, 泄露]
sources: [{{name: weibo, platform: weibo}}, {{name: reddit, platform: reddit}}]
rules:
{rules_yaml(watchlists)}
alerting: {{outbox_dir: {tmp}/outbox}}
""", "bench-config.yaml")
        assert len(config.rules) == 100
        from alerts.engine import evaluate_cycle

        now = bench.END - timedelta(minutes=1)
        started, cpu = time.perf_counter(), time.process_time()
        report = evaluate_cycle(store, config, now)
        cold_ms, cold_cpu = (time.perf_counter() - started) * 1000, (time.process_time() - cpu) * 1000
        assert not report.errors, report.errors[:3]
        print(f"{total:,} posts, {len(config.rules)} rules, {len(report.evaluations)} evaluations")
        print(f"cold cycle (whole 21-day baseline read for every series): {cold_ms:,.0f} ms "
              f"({cold_cpu:,.0f} ms CPU); {report.summary()}")
        steady, steady_cpu = [], []
        for k in range(1, args.cycles + 1):
            at = now + timedelta(minutes=5 * k)
            started, cpu = time.perf_counter(), time.process_time()
            report = evaluate_cycle(store, config, at)
            steady.append((time.perf_counter() - started) * 1000)
            steady_cpu.append((time.process_time() - cpu) * 1000)
            assert not report.errors, report.errors[:3]
            print(f"cycle at {at:%H:%M}: {steady[-1]:,.0f} ms ({steady_cpu[-1]:,.0f} ms CPU); {report.summary()}",
                  flush=True)
        store.close()
    cycle_ms = statistics.median(steady)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (wall times include waiting for them)")
    print(f"cycle_ms={cycle_ms:.0f} cycle_cpu_ms={statistics.median(steady_cpu):.0f} cold_cycle_ms={cold_ms:.0f} "
          f"speedup_vs_uncached={cold_ms / cycle_ms:.1f}")


if __name__ == "__main__":
    main()
