"""Console benchmark: server time of the overview, an incident page and an explorer query over a
large SQLite store, from a loopback HTTP client, against the bare /login page in the same run.

Run from the repository root with the project venv::

    .venv/bin/python bench/console.py                 # 200,000 posts
    .venv/bin/python bench/console.py --posts 1000000 --db /tmp/console-1m.db
                                                      # the issue's size; the store is built once
                                                      # (many minutes) and reused by later runs

The posts are ``bench/store_ingest.py``'s synthetic posts (seven days, five watchlists, half
Chinese), written with ``upsert_posts`` and enriched. The console runs under uvicorn on
127.0.0.1 in this process (one worker thread pool, as ``crisiswatch serve``); each page is
fetched ``--repeat`` times by a logged-in httpx client. The last line is
``login_p95_ms=… overview_p95_ms=… incident_p95_ms=… explore_p95_ms=…``. Goal: p95 < 300 ms.
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


def explorer_passes(store: SqliteStore, params: dict[str, str], repeat: int) -> tuple[list[float], list[float]]:
    """The explorer's store work in-process, the old way (count, histogram, page) and the
    current one (histogram whose sum is the count, page), interleaved so load hits both alike."""
    from crisiswatch.app.console.explorer import build_filter, histogram_of

    flt = build_filter(params, END)
    old, new = [], []
    for _ in range(repeat):
        t = time.perf_counter()
        store.count_posts(flt), histogram_of(store, flt, END), store.search(flt, limit=50)
        old.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        histogram_of(store, flt, END), store.search(flt, limit=50)
        new.append((time.perf_counter() - t) * 1000)
    return old, new


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
        params = {"q": "recall OR 召回", "watchlist": "acme", "sentiment": "negative",
                  "since": (END - timedelta(hours=24)).isoformat(), "until": at}
        query = urlencode(params)
        pages = {"login": "/login", "overview": "/?" + urlencode({"at": at}),
                 "incident": f"/incidents/{incident_id}", "explore": f"/explore?{query}"}
        results = {}
        with httpx.Client(base_url=base, timeout=60) as client:
            form = client.get("/login").text
            csrf = form.split('name="csrf" value="', 1)[1].split('"', 1)[0]
            assert client.post("/login", data={"username": "bench", "password": PASSWORD, "csrf": csrf,
                                               "next": "/"}).status_code == 303
            for name, url in pages.items():
                results[name] = timed(client, url, args.repeat)
                r = results[name]
                print(f"{name:<9} {url[:60]:<60} p50 {statistics.median(r):7.1f} ms  p95 {pct(r, .95):7.1f} ms")
        server.should_exit = True
        old, new = explorer_passes(store, params, args.repeat)
        print(f"explorer store work, interleaved: count+histogram+page p50 {statistics.median(old):.1f} ms, "
              f"histogram+page p50 {statistics.median(new):.1f} ms")
        store.close()
    print(" ".join(f"{name}_p95_ms={pct(r, .95):.1f}" for name, r in results.items())
          + f" explorer_old_over_new={statistics.median(old) / statistics.median(new):.2f}")


if __name__ == "__main__":
    main()
