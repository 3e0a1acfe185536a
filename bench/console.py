"""Console benchmark: server time of the overview, an incident page and explorer queries over a
large SQLite store, from a loopback HTTP client, against the bare /login page in the same run.

Run from the repository root with the project venv::

    .venv/bin/python bench/console.py                 # 200,000 posts
    .venv/bin/python bench/console.py --posts 1000000 --db /tmp/console-1m.db --repeat 20
                                                      # the issue's size; the store is built once
                                                      # (many minutes) and reused by later runs

The posts are ``bench/store_ingest.py``'s synthetic posts (seven days, five watchlists, half
Chinese), written with ``upsert_posts`` and enriched. The console runs under uvicorn on
127.0.0.1 in this process (one worker thread pool, as ``crisiswatch serve``); each page is
fetched ``--repeat`` times by a logged-in httpx client. The explorer queries (``QUERIES``) are
the issue's slow case (``recall OR 召回`` on one watchlist's negative posts of a day), one- and
two-character Chinese terms over the whole week, a Latin term, a filter without text and the
explorer opened without any filter (every post).

Baselines in the same run: the explorer's store work (histogram and first page) for the
queries with a text (``BASELINE``), interleaved so load hits each alike, three ways: as before
the CJK gram index (a substring scan, ``instr``, of the posts the other conditions leave), with
the gram index but asking the full-text indexes for every match in the store (as before
``post_hours``), and as now (only the pks the window's posts can have). The last line is
``login_p95_ms=… overview_p95_ms=… incident_p95_ms=… explore_…_p95_ms=… scan_over_index=…
all_over_window=…``. Goal: p95 < 300 ms for every page.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx  # noqa: E402
import uvicorn  # noqa: E402

from cpu import cpu_description  # noqa: E402
from store_ingest import END, SOURCES, WATCHLISTS, enrichments_for, synthetic_posts  # noqa: E402

from crisiswatch.app.console.app import create_app  # noqa: E402
from crisiswatch.app.users import Users  # noqa: E402
from crisiswatch.core.config import Config  # noqa: E402
from crisiswatch.core.model import CrawlHealth, Incident, Level  # noqa: E402
from crisiswatch.core.store.sqlite import SqliteStore  # noqa: E402

PASSWORD = "bench-password-123"


def build(path: Path, count: int) -> tuple[SqliteStore, Config, str]:
    """The store at ``path``; its posts are written only when it has none (``--db`` reuses one)."""
    store = SqliteStore(path)
    store.setup()
    rng = random.Random(1)
    t0 = time.perf_counter()
    if store.count_posts() == 0:
        for batch in synthetic_posts(count):
            store.upsert_posts(batch)
            store.update_enrichments(enrichments_for(batch, rng))
        print(f"store: {count:,} posts written and enriched in {time.perf_counter() - t0:.1f} s")
    else:
        print(f"store: reusing {path} ({store.count_posts():,} posts)")
    config = Config.model_validate({
        "data_dir": str(path.parent),
        "watchlists": [{"name": w, "terms": [w]} for w in WATCHLISTS],
        "sources": [{"name": s, "platform": "weibo" if s in ("weibo", "bilibili") else "mastodon",
                     "schedule": "15m", "expected_interval": "2h"} for s in SOURCES[:2] + ["mastodon"]]})
    for source in ("weibo", "bilibili", "mastodon"):
        store.record_crawl(CrawlHealth(source=source, started_at=END - timedelta(minutes=10), finished_at=END,
                                       status="ok", items=100))
    incident = Incident(id="bench00001", fingerprint="volume|acme|", rule="volume", watchlist="acme",
                        title="Volume on acme is 6x normal", level=Level.red, peak_level=Level.red,
                        opened_at=END - timedelta(hours=2), updated_at=END,
                        evidence={"observed": 600, "baseline": 100.0, "unit": "posts"})
    if store.get_incident(incident.id) is None:
        store.save_incident(incident)
    if Users(store).get("bench") is None:
        Users(store).add("bench", "responder", PASSWORD)
    return store, config, incident.id


def serve(app, port: int) -> uvicorn.Server:  # noqa: ANN001
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return server


def timed(client: httpx.Client, url: str, repeat: int) -> list[float]:
    client.get(url).raise_for_status()  # warm
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - t) * 1000)
        assert response.status_code == 200, (url, response.status_code, response.text[:300])
    return times


QUERIES = {
    "recall_or_召回_day": {"q": "recall OR 召回", "watchlist": "acme", "sentiment": "negative", "since": "24h"},
    "召回_week": {"q": "召回", "since": "7d"},
    "赔_week": {"q": "赔", "since": "7d"},
    "refund_day": {"q": "refund", "since": "24h"},
    "acme_negative_day": {"watchlist": "acme", "sentiment": "negative", "since": "24h"},
    "everything": {},
}
"""Explorer forms (name: query parameters); times are relative to the store's last post."""
BASELINE = ("recall_or_召回_day", "召回_week", "赔_week", "refund_day")
"""The queries with a text, timed as now and the two ways before (``explorer_passes``)."""


def explorer_form(params: dict[str, str]) -> dict[str, str]:
    """The form with ``since`` made absolute: the synthetic week ends at ``END``, not now."""
    form = dict(params)
    if "since" in form:
        form["since"] = (END - timedelta(days=7 if form["since"] == "7d" else 1)).isoformat()
        form["until"] = END.isoformat()
    return form


def explorer_passes(store: SqliteStore, form: dict[str, str], repeat: int) -> dict[str, list[float]]:
    """The explorer's store work (histogram, first page) in-process, interleaved: ``scan`` without
    the gram index (short Chinese terms by ``instr``), ``all`` with it but every match of the
    store asked for (no window pk range), ``window`` as now. Times in ms per way."""
    from crisiswatch.app.console.explorer import build_filter, histogram_of
    from crisiswatch.core.store import sqlite as sqlite_store

    flt = build_filter(form, END)
    indexes, window_rowids = dict(sqlite_store._INDEXES), sqlite_store._window_rowids
    ways = {"scan": ({k: v for k, v in indexes.items() if k != "posts_grams"}, lambda since, until: None),
            "all": (indexes, lambda since, until: None), "window": (indexes, window_rowids)}
    times: dict[str, list[float]] = {way: [] for way in ways}
    try:
        for _ in range(repeat):
            for way, (index_set, rowids) in ways.items():
                sqlite_store._INDEXES.clear()
                sqlite_store._INDEXES.update(index_set)
                sqlite_store._window_rowids = rowids
                t = time.perf_counter()
                chart = histogram_of(store, flt, END)
                page = store.search(flt, limit=50)
                times[way].append((time.perf_counter() - t) * 1000)
                assert chart is None or chart[2] >= len(page)
    finally:
        sqlite_store._INDEXES.clear()
        sqlite_store._INDEXES.update(indexes)
        sqlite_store._window_rowids = window_rowids
    return times


def pct(times: list[float], q: float) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--posts", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--db", type=Path, help="Keep the store in this file and reuse it when it exists "
                        "(building 1M posts takes many minutes); default a temporary file")
    args = parser.parse_args()
    print(cpu_description())
    with tempfile.TemporaryDirectory() as tmp:
        store, config, incident_id = build(args.db or Path(tmp) / "bench.db", args.posts)
        server = serve(create_app(config, store), args.port)
        base = f"http://127.0.0.1:{args.port}"
        at = END.isoformat()
        pages = {"login": "/login", "overview": "/?" + urlencode({"at": at}), "incident": f"/incidents/{incident_id}"}
        pages.update({f"explore_{name}": "/explore?" + urlencode(explorer_form(params))
                      for name, params in QUERIES.items()})
        results = {}
        with httpx.Client(base_url=base, timeout=60) as client:
            form = client.get("/login").text
            csrf = form.split('name="csrf" value="', 1)[1].split('"', 1)[0]
            assert client.post("/login", data={"username": "bench", "password": PASSWORD, "csrf": csrf,
                                               "next": "/"}).status_code == 303
            for name, url in pages.items():
                results[name] = timed(client, url, args.repeat)
                r = results[name]
                matches = client.get(url).text.split('class="total"', 1)[-1][:80] if name.startswith("explore") else ""
                print(f"{name:<28} p50 {statistics.median(r):7.1f} ms  p95 {pct(r, .95):7.1f} ms"
                      + (f"  ({_total(matches)})" if matches else ""), flush=True)
        server.should_exit = True
        ratios: dict[str, list[float]] = {"scan": [], "all": []}
        for name in BASELINE:
            times = explorer_passes(store, explorer_form(QUERIES[name]), args.repeat)
            p50 = {way: statistics.median(t) for way, t in times.items()}
            for way in ratios:
                ratios[way].append(p50[way] / p50["window"])
            print(f"store work {name:<20}" + " | ".join(
                f"{way} p50 {p50[way]:7.1f} p95 {pct(t, .95):7.1f} ms" for way, t in times.items())
                  + f" | scan/window x{ratios['scan'][-1]:.1f}, all/window x{ratios['all'][-1]:.1f}", flush=True)
        store.close()
    print(cpu_description())
    print(" ".join(f"{name}_p95_ms={pct(r, .95):.1f}" for name, r in results.items())
          + " scan_over_index=" + ",".join(f"{r:.1f}" for r in ratios["scan"])
          + " all_over_window=" + ",".join(f"{r:.1f}" for r in ratios["all"]))


def _total(fragment: str) -> str:
    """The explorer's "N posts" from the page, for the printout."""
    import re

    found = re.search(r">\s*([^<]+)<", fragment)
    return found.group(1).strip() if found else "?"


if __name__ == "__main__":
    main()
