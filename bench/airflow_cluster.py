"""The pipeline on Airflow's distributed engine, measured: PostgreSQL metadata, CeleryExecutor on
Redis, scheduler, DAG processor, API server and Celery workers (``crisiswatch.app.airflow_cluster``,
what ``make airflow-cluster`` runs), the DAGs in dags/ and the default offline models.

Run from the repository root with the project venv (PostgreSQL and Redis must answer)::

    .venv/bin/python bench/airflow_cluster.py                        # both parts (~35 min on 2 shared cores)
    .venv/bin/python bench/airflow_cluster.py --parts throughput     # ~12 min
    .venv/bin/python bench/airflow_cluster.py --parts latency        # ~22 min

Two parts, each against its baseline in the same run:

* ``throughput``: crawl + enrich of a synthetic scenario (``scenarios.replay.synthetic``: Mastodon,
  Hacker News and RSS, the replay clock at its end) with **one** Celery worker, then the same with
  **two** (a fresh store and metadata database each time). The clock starts when the crawl DAGs
  are unpaused (the scheduler starts each at once) and stops when every stored post is enriched.
  Printed per run: posts/s, and where the task time went (crawl tasks, enrichment tasks, waiting
  in the queue), from the task instances Airflow recorded. ``enrich_slots`` is 2 so that the two
  workers can enrich at the same time (one machine: the files under data_dir are shared).
* ``latency``: post-to-alert latency under the real scheduler with the 5-minute schedules of the
  product (crawl DAGs every 5 min, rule bucket 5 min, ``alerts`` on the enriched-posts Asset and
  every 5 min), posts published in real time by the replay server. The crises, the trigger-post
  oracle (the post after which the rule could fire at the earliest), the webhook receiver and
  the config come from ``bench/alert_latency.py``, so the figure is comparable with its
  continuous and scheduled (``crisiswatch run``) modes: latency = arrival at the webhook minus
  the trigger post's publication.

The last line holds the figures: ``posts_per_s_1w``, ``posts_per_s_2w``, ``speedup_2w``,
``latency_5m_p50_s``, ``latency_5m_p95_s``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import yaml  # noqa: E402

from alert_latency import (PLATFORMS as LATENCY_PLATFORMS, AlertReceiver, percentile, plan_crisis,  # noqa: E402
                           prepare_history, trigger_posts, write_config)
from cpu import cpu_description  # noqa: E402
from crisiswatch.app.airflow_cluster import (DEFAULT_WORKERS, Cluster, ClusterSettings, drop_database,  # noqa: E402
                                             services_answer)
from crisiswatch.core.config import load_config  # noqa: E402
from crisiswatch.core.store import open_store  # noqa: E402

BROKER = "redis://127.0.0.1:6379/15"
"""Redis database 15: the benchmark's own, flushed before and after each cluster."""
THROUGHPUT_PLATFORMS = ["mastodon", "hackernews", "rss"]


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def flush_broker() -> None:
    import redis

    redis.Redis.from_url(BROKER, socket_timeout=5).flushdb()


class BenchCluster:
    """A cluster over one config with ``workers`` Celery workers; everything stopped and the
    metadata database dropped on exit."""

    def __init__(self, home: Path, config_path: Path, workers: int):
        self.settings = ClusterSettings(home=home, database=f"crisiswatch_bench_{uuid.uuid4().hex[:10]}",
                                        broker=BROKER, api_port=free_port(), config_path=str(config_path),
                                        workers=DEFAULT_WORKERS[:workers])
        self.cluster = Cluster(self.settings)

    def __enter__(self) -> Cluster:
        problem = services_answer(self.settings)
        if problem:
            raise SystemExit(f"cannot measure: {problem}")
        flush_broker()
        began = time.monotonic()
        try:
            self.cluster.__enter__()
        except BaseException:
            self._clean()
            raise
        print(f"    cluster with {len(self.settings.workers)} worker(s) up in {time.monotonic() - began:.0f} s",
              flush=True)
        return self.cluster

    def __exit__(self, *exc: object) -> None:
        self.cluster.__exit__(*exc)
        self._clean()

    def _clean(self) -> None:
        drop_database(self.settings.postgres, self.settings.database)
        flush_broker()


# ---- throughput with 1 and 2 workers --------------------------------------------------------------
def throughput_run(workers: int, posts_per_platform: int, work: Path) -> dict:
    from scenarios.replay import ReplayServer
    from scenarios.replay.synthetic import WATCHLISTS, synthetic_scenario

    scenario = synthetic_scenario(posts_per_platform, THROUGHPUT_PLATFORMS)
    work.mkdir(parents=True)
    with ReplayServer(scenario, speedup=0, clock_start=scenario.end) as server:
        sources = [s.model_dump(mode="json", exclude_defaults=True) for s in server.source_configs()]
        config_path = work / "crisiswatch.yaml"
        config_path.write_text(yaml.safe_dump({
            "data_dir": str(work / "data"), "store": {"sqlite_path": str(work / "data" / "store.db")},
            "models": {"topics": False}, "watchlists": WATCHLISTS, "crisis_lexicon": ["recall", "召回"],
            "sources": sources,
            "airflow": {"enrich_slots": 2, "enrich_batch_size": 100, "retries": 1},
        }, allow_unicode=True), encoding="utf-8")
        config = load_config(config_path)
        crawls = [f"crawl_{s['name']}" for s in sources]
        with BenchCluster(work / "airflow", config_path, workers) as cluster:
            cluster.wait_for_dags("enrich", *crawls)
            began = time.monotonic()
            started_at = datetime.now(timezone.utc)
            cluster.unpause("enrich", *crawls)
            stored = _wait_enriched(config, crawls, cluster, timeout_s=1200)
            elapsed = time.monotonic() - began
            time.sleep(5)  # let the last task instances record their end
            tasks = _task_times(cluster, ["enrich", *crawls], started_at)
    return {"workers": workers, "posts": stored, "elapsed_s": elapsed, "posts_per_s": stored / elapsed, **tasks}


def _wait_enriched(config, crawls: list[str], cluster: Cluster, timeout_s: float) -> int:
    """Until every crawl has finished once and every stored post is enriched; the post count."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        crawled = all(any(r["state"] == "success" for r in cluster.dag_runs(dag_id)) for dag_id in crawls)
        with open_store(config) as store:
            ids = [p.id for p in store.iter_posts()]
            enriched = len(store.get_enrichments(ids)) if ids else 0
        if crawled and ids and enriched == len(ids):
            return len(ids)
        time.sleep(2)
    raise TimeoutError(f"not done within {timeout_s:.0f} s; logs in {cluster.log_dir}")


def _seconds(start: str | None, end: str | None) -> float:
    if not start or not end:
        return 0.0
    parse = lambda t: datetime.fromisoformat(t.replace("Z", "+00:00"))  # noqa: E731
    return (parse(end) - parse(start)).total_seconds()


def _task_times(cluster: Cluster, dag_ids: list[str], since: datetime) -> dict:
    """Task time by kind: crawl (collect), enrichment (enrich_batch), other, and queue waits."""
    times = {"crawl_task_s": 0.0, "enrich_task_s": 0.0, "other_task_s": 0.0, "queue_wait_s": 0.0, "tasks": 0}
    for dag_id in dag_ids:
        for run in cluster.dag_runs(dag_id):
            for ti in cluster.task_instances(dag_id, run["dag_run_id"]):
                if ti["state"] != "success":
                    continue
                kind = {"collect": "crawl_task_s", "enrich_batch": "enrich_task_s"}.get(ti["task_id"], "other_task_s")
                times[kind] += _seconds(ti["start_date"], ti["end_date"])
                times["queue_wait_s"] += _seconds(ti.get("queued_when"), ti["start_date"])
                times["tasks"] += 1
    return times


# ---- latency with 5-minute schedules ------------------------------------------------------------------
def latency_run(args: argparse.Namespace, work: Path) -> tuple[dict[str, float], list[str]]:
    from scenarios.replay import ReplayServer
    from scenarios.replay.server import default_sources

    work.mkdir(parents=True)
    notes: list[str] = []
    receiver = AlertReceiver()
    t0 = datetime.now(timezone.utc) + timedelta(seconds=args.setup)
    plan = plan_crisis(t0, args.brands, args.seed, args.window, args.crisis_posts, args.spacing)
    server = ReplayServer(plan.scenario, speedup=1.0, clock_start=datetime.now(timezone.utc)).start()
    latencies: dict[str, float] = {}
    try:
        sources = [s for s in default_sources(server.catalog, server.base_url_for) if s["platform"] in LATENCY_PLATFORMS]
        assert all(s["schedule"] == "5m" for s in sources)
        config_path = write_config(work / "crisiswatch.yaml", work / "data", plan, sources, receiver, "5m")
        document = yaml.safe_load(config_path.read_text(encoding="utf-8"))
        document["airflow"] = {"retries": 1}
        config_path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
        config = load_config(config_path)
        prepare_history(config, plan)
        triggers = trigger_posts(config, plan, work)
        notes += [f"{name}: the oracle never fires" for name in plan.brands if name.lower() not in triggers]
        with BenchCluster(work / "airflow", config_path, 2) as cluster:
            crawls = [f"crawl_{s['name']}" for s in sources]
            cluster.wait_for_dags("enrich", "alerts", *crawls)
            late = (datetime.now(timezone.utc) - t0).total_seconds()
            if late > 0:
                notes.append(f"set-up ran {late:.0f} s past the first crisis window's start")
            cluster.unpause("enrich", "alerts", *crawls)
            deadline = plan.end + timedelta(seconds=args.grace)
            while datetime.now(timezone.utc) < deadline:
                if all(receiver.first(f"/{name}") for name in triggers):
                    break
                time.sleep(5)
        for name, post in triggers.items():
            arrived = receiver.first(f"/{name}")
            if arrived is None:
                notes.append(f"{name}: no alert received by the deadline")
            else:
                latencies[name] = arrived - post.created_at.timestamp()
                notes.append(f"{name}: trigger published {post.created_at:%H:%M:%S}, alert after {latencies[name]:.0f} s")
    finally:
        server.stop()
        receiver.stop()
    return latencies, notes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", nargs="+", default=["throughput", "latency"], choices=["throughput", "latency"])
    parser.add_argument("--posts", type=int, default=200, help="synthetic posts per platform (throughput)")
    parser.add_argument("--brands", type=int, default=4, help="crises, one alert each (latency)")
    parser.add_argument("--window", type=float, default=240.0, help="crises start within this many seconds")
    parser.add_argument("--crisis-posts", type=int, default=10)
    parser.add_argument("--spacing", type=float, default=20.0, help="seconds between complaints of one crisis")
    parser.add_argument("--setup", type=float, default=420.0, help="seconds before the first crisis may start")
    parser.add_argument("--grace", type=float, default=420.0, help="seconds to wait for alerts after the last post")
    parser.add_argument("--seed", type=int, default=16)
    args = parser.parse_args()
    print(cpu_description(), flush=True)
    figures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="airflow-cluster-bench-") as tmp:
        work = Path(tmp)
        if "throughput" in args.parts:
            runs = []
            for workers in (1, 2):
                run = throughput_run(workers, args.posts, work / f"throughput-{workers}")
                runs.append(run)
                print(f"[{workers} worker(s)] {run['posts']} posts crawled and enriched in {run['elapsed_s']:.1f} s "
                      f"= {run['posts_per_s']:.2f} posts/s; task time: crawl {run['crawl_task_s']:.0f} s, "
                      f"enrich {run['enrich_task_s']:.0f} s, other {run['other_task_s']:.0f} s "
                      f"({run['tasks']} tasks), waiting in queue {run['queue_wait_s']:.0f} s", flush=True)
            figures += [f"posts_per_s_1w={runs[0]['posts_per_s']:.2f}", f"posts_per_s_2w={runs[1]['posts_per_s']:.2f}",
                        f"speedup_2w={runs[1]['posts_per_s'] / runs[0]['posts_per_s']:.2f}"]
        if "latency" in args.parts:
            began = time.time()
            latencies, notes = latency_run(args, work / "latency")
            print(f"[latency, 5-minute schedules, {time.time() - began:.0f} s] "
                  + ", ".join(f"{k}={v:.0f}s" for k, v in sorted(latencies.items())), flush=True)
            for note in notes:
                print(f"    {note}")
            if latencies:
                values = list(latencies.values())
                figures += [f"latency_5m_p50_s={percentile(values, .5):.0f}",
                            f"latency_5m_p95_s={percentile(values, .95):.0f}",
                            f"latency_5m_mean_s={statistics.mean(values):.0f}"]
            figures.append(f"alerts={len(latencies)}/{args.brands}")
    print(cpu_description().split("; ")[-1])
    print(" ".join(figures))


if __name__ == "__main__":
    main()
