"""The pipeline on Airflow's distributed engine, for real: PostgreSQL metadata, CeleryExecutor on
Redis, scheduler, DAG processor, API server and two Celery workers (``conftest.py``).

One cluster serves the three tests, in order, over one replay server whose clock is set by hand:
each test releases a wave of posts about its own brand (acme, beta, gamma) and expects that wave
to travel crawl -> raw-posts Asset -> ``enrich`` on the ``nlp`` queue -> ``alerts`` on the
``alerts`` queue -> one notification at the loopback receiver.

1. Three crawl DAGs (Mastodon, Hacker News, RSS) run at once on both workers.
2. A worker is SIGKILLed (with everything it started) in the middle of a crawl and again in the
   middle of an enrichment batch: the tasks are retried on the other worker; every post is
   stored and enriched once, the cursor is the newest post, one notification.
3. The scheduler is SIGKILLed while crawls run and started again: nothing is lost and the
   Asset-triggered runs still happen.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from crisiswatch.app.airflow_cluster import Cluster, ClusterSettings
from crisiswatch.core.config import load_config
from crisiswatch.core.model import Author
from crisiswatch.core.scenario import Scenario
from crisiswatch.core.store import PostFilter, open_store
from scenarios.generator import PostLabel, Timeline
from tests.dags.helpers import Receiver, write_config

from .conftest import start_cluster

pytestmark = pytest.mark.timeout(1500)

PLATFORMS = ("mastodon", "hackernews", "rss")
BRANDS = ("acme", "beta", "gamma")
WAVE = timedelta(minutes=8)
MASTODON_PAGE = 10
"""Posts per Mastodon page: the kill test needs a crawl of several pages."""


def waves(now: datetime, mastodon_posts: tuple[int, ...] = (6, 25, 6)) -> tuple[Scenario, list[datetime]]:
    """Three waves of recall posts in the last 40 minutes, one brand each, on every platform;
    returns the scenario and the moment each wave is complete (set the replay clock there)."""
    timeline = Timeline(name="cluster", seed=16, tz=timezone.utc)
    first = now - timedelta(minutes=40)
    ends = []
    for number, brand in enumerate(BRANDS):
        start = first + WAVE * number
        for platform in PLATFORMS:
            count = mastodon_posts[number] if platform == "mastodon" else 6
            for index in range(count):
                at = start + (WAVE - timedelta(minutes=1)) * index / count
                text = (f"{brand.title()} recall: my {brand} kettle leaked ({platform} #{index})" if index % 3
                        else f"Is the {brand.title()} recall covering older kettles? ({platform} #{index})")
                timeline.add(platform, at, text, PostLabel(phase="crisis", sentiment="negative"),
                             author=Author(id=str(700 + index % 5), handle=f"{platform}_fan{index % 5}",
                                           followers=300),
                             title=f"{brand.title()} recall {index}" if platform != "mastodon" else None,
                             language="en")
        ends.append(start + WAVE - timedelta(seconds=30))  # before the next wave's first post
    posts, labels = timeline.finish()
    scenario = Scenario(name="cluster_waves", title="Three recalls", start=first, onset=first, end=ends[-1],
                        posts=posts, post_labels=labels)
    return scenario, ends


@dataclass
class World:
    cluster: Cluster
    server: object  # scenarios.replay.ReplayServer
    receiver: Receiver
    config_path: Path
    scenario: Scenario
    wave_ends: list[datetime]

    def release(self, wave: int) -> None:
        """Let the crawlers see the posts of waves 0..wave."""
        self.server.clock.set(self.wave_ends[wave])

    def posts_of(self, brand: str) -> list:
        return [p for p in self.scenario.posts if brand in p.text.lower()]

    def store(self):
        return open_store(load_config(self.config_path))


@pytest.fixture(scope="module")
def world(cluster_settings: ClusterSettings, cluster_home: Path) -> Iterator[World]:
    from nlp.tiny import make_tiny_models
    from scenarios.replay import ReplayServer

    models = make_tiny_models(cluster_home / "tiny-models").model_dump(mode="json")
    scenario, ends = waves(datetime.now(timezone.utc))
    receiver = Receiver()
    server = ReplayServer(scenario, speedup=0, clock_start=ends[0])
    server.start()
    try:
        # small Mastodon pages, and a request timeout longer than the hang the kill test injects
        sources = [s.model_copy(update={"options": {**s.options, "limit": MASTODON_PAGE, "timeout_s": 120}})
                   if s.platform == "mastodon" else s for s in server.source_configs()]
        config_path = write_config(
            cluster_home, sources, models, receiver,
            watchlists=[{"name": brand, "terms": [brand.title()]} for brand in BRANDS],
            airflow={"retries": 3, "retry_delay": "2s", "max_retry_delay": "10s", "operations_channels": ["ops"],
                     "enrich_batch_size": 8})
        for cluster in start_cluster(cluster_settings, config_path):
            cluster.wait_for_dags("enrich", "alerts", *(crawl_dag(platform) for platform in PLATFORMS))
            yield World(cluster, server, receiver, config_path, scenario, ends)
    finally:
        server.stop()
        receiver.close()


# ---- waiting on the cluster ----------------------------------------------------------------
def wait_for(what: str, check: Callable[[], object], cluster: Cluster, timeout_s: float = 300,
             every_s: float = 1.0) -> object:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every_s)
    logs = "\n".join(f"--- {log.name}\n{log.read_text(errors='replace')[-1500:]}"
                     for log in sorted(cluster.log_dir.glob("*.log")))
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}\n{logs}")


def crawl_dag(platform: str) -> str:
    return f"crawl_replay-{platform}"


def runs_after(cluster: Cluster, dag_id: str, moment: datetime) -> list[dict]:
    """Runs queued after ``moment`` (a scheduled run's ``run_after`` is its interval's end, earlier)."""
    return [run for run in cluster.dag_runs(dag_id)
            if run["queued_at"] and datetime.fromisoformat(run["queued_at"].replace("Z", "+00:00")) >= moment]


def finished(cluster: Cluster, dag_id: str, moment: datetime, run_type: str | None = None) -> list[dict]:
    """Runs of ``dag_id`` queued after ``moment`` that ended successfully (fails fast on a failed one)."""
    runs = [run for run in runs_after(cluster, dag_id, moment) if run_type in (None, run["run_type"])]
    failed = [run["dag_run_id"] for run in runs if run["state"] == "failed"]
    assert not failed, f"{dag_id} runs failed: {failed}"
    return [run for run in runs if run["state"] == "success"]


def notified(world: World, brand: str) -> list[dict]:
    """The announcements of a brand's new incident (later messages about it, a level change or a
    reminder while nobody acknowledges, are other events)."""
    return [m for m in world.receiver.on("pr-team")
            if ": new incident" in m["title"] and brand in (m["title"] + m["message"]).lower()]


def assert_nothing_sent_twice(world: World) -> None:
    """Every message names its event's delivery key (``ref incident:event:channel``): none twice."""
    refs = [re.search(r"ref (\S+)", m["message"]).group(1) for m in world.receiver.on("pr-team")]
    assert len(refs) == len(set(refs)), sorted(refs)


def running_task(cluster: Cluster, dag_id: str, task_id: str, moment: datetime) -> dict | None:
    for run in runs_after(cluster, dag_id, moment):
        for ti in cluster.task_instances(dag_id, run["dag_run_id"]):
            if ti["task_id"] == task_id and ti["state"] == "running" and ti["hostname"]:
                return ti
    return None


def assert_wave_complete(world: World, brand: str) -> None:
    """Every post of the brand stored once and enriched; the incident notified exactly once."""
    expected = {f"replay-{p.id}" for p in world.posts_of(brand)}  # stored under the source's name
    with world.store() as store:
        stored = [p.id for p in store.iter_posts(PostFilter(text=brand.title()))]
        enriched = store.get_enrichments(stored)
        incidents = [i for i in store.list_incidents() if i.watchlist == brand]
    assert sorted(stored) == sorted(expected)  # none lost, none twice
    assert set(enriched) == expected
    assert len(incidents) == 1
    assert {n.channel for n in incidents[0].notifications if n.status == "sent"} == {"pr-team"}
    assert len(notified(world, brand)) == 1
    assert_nothing_sent_twice(world)


# ---- the tests -----------------------------------------------------------------------------------
def test_three_platforms_crawl_in_parallel_on_both_workers_then_enrich_and_alert_on_their_queues(world):
    cluster, started = world.cluster, datetime.now(timezone.utc)
    crawls = [crawl_dag(platform) for platform in PLATFORMS]

    cluster.unpause("enrich", "alerts", *crawls)  # the scheduler starts each crawl's latest interval

    wait_for("a notification about acme", lambda: notified(world, "acme"), cluster, timeout_s=420)
    crawl_tis = []
    for dag_id in crawls:
        [run] = wait_for(f"{dag_id} to succeed", lambda d=dag_id: finished(cluster, d, started), cluster)
        assert run["run_type"] == "scheduled"
        crawl_tis += [ti for ti in cluster.task_instances(dag_id, run["dag_run_id"]) if ti["task_id"] == "collect"]
    assert {ti["queue"] for ti in crawl_tis} == {"crawl"}
    assert {ti["hostname"] for ti in crawl_tis} == {"worker-1", "worker-2"}
    latest_start = max(ti["start_date"] for ti in crawl_tis)
    assert all(ti["end_date"] > latest_start for ti in crawl_tis)  # all three were running at once
    # the notification can come before the scheduler has marked the enrich run itself a success
    enrich_runs = wait_for("an asset-triggered enrich run to succeed",
                           lambda: finished(cluster, "enrich", started, run_type="asset_triggered"), cluster)
    batches = [ti for run in enrich_runs for ti in cluster.task_instances("enrich", run["dag_run_id"])
               if ti["task_id"] == "enrich_batch"]
    assert batches and {ti["queue"] for ti in batches} == {"nlp"}
    alert_tis = [ti for run in finished(cluster, "alerts", started)
                 for ti in cluster.task_instances("alerts", run["dag_run_id"])]
    assert {ti["queue"] for ti in alert_tis} == {"alerts"} and {ti["hostname"] for ti in alert_tis} == {"worker-2"}
    assert_wave_complete(world, "acme")


def test_a_killed_worker_loses_nothing_its_crawl_and_enrichment_are_retried_on_the_other(world):
    cluster, started = world.cluster, datetime.now(timezone.utc)
    mastodon = crawl_dag("mastodon")
    mastodon_beta = [p.id for p in world.posts_of("beta") if p.source == "mastodon"]
    assert len(mastodon_beta) > 2 * MASTODON_PAGE
    world.server.add_fault(r"/mastodon/api/v1/timelines/public\?.*max_id=", "hang", times=1, seconds=90)
    world.release(1)

    cluster.trigger(mastodon, {"settings": {"CRISISWATCH_BATCH_SIZE": 2}})

    def partly_stored() -> int:
        with world.store() as store:
            count = sum(1 for _ in store.iter_posts(PostFilter(text="Beta", sources=("replay-mastodon",))))
        return count if 0 < count < len(mastodon_beta) else 0

    wait_for("the first Mastodon page of beta stored", partly_stored, cluster, timeout_s=240, every_s=0.5)
    crawling = running_task(cluster, mastodon, "collect", started)
    assert crawling is not None
    crawl_retry = kill_and_wait_for_retry(cluster, crawling)  # mid-crawl: the second page is hanging

    enriching = wait_for("an enrichment batch running", lambda: running_task(cluster, "enrich", "enrich_batch",
                                                                           started), cluster, every_s=0.3)
    enrich_retry = kill_and_wait_for_retry(cluster, enriching)  # mid-enrichment

    wait_for("a notification about beta", lambda: notified(world, "beta"), cluster, timeout_s=420)
    wait_for("the beta wave complete", lambda: _complete(world, "beta"), cluster, timeout_s=300)
    for retry in (crawl_retry, enrich_retry):
        [ti] = [ti for ti in cluster.task_instances(retry["dag_id"], retry["dag_run_id"])
                if (ti["task_id"], ti["map_index"]) == (retry["task_id"], retry["map_index"])]
        assert ti["state"] == "success" and ti["try_number"] >= retry["try_number"], ti
        if ti["try_number"] == retry["try_number"]:
            assert ti["hostname"] == retry["hostname"], ti
        # a later try: the retry was itself on the worker killed next (the crawl's second page still
        # hanging on worker-2 when enrichment was killed there); it ran again and nothing was lost
    assert_wave_complete(world, "beta")
    newest_mastodon = max((p for p in world.scenario.posts if p.source == "mastodon"
                           and p.created_at <= world.wave_ends[1]), key=lambda p: int(p.id.split(":")[1]))
    with world.store() as store:
        cursor = store.get_cursor("replay-mastodon", f"{urlsplit(world.server.base_url).netloc}|public")
    assert cursor == newest_mastodon.id.split(":")[1]  # the newest post seen, saved after its posts
    assert len(notified(world, "acme")) == 1  # the earlier incident was not notified again


def kill_and_wait_for_retry(cluster: Cluster, ti: dict) -> dict:
    """SIGKILL the worker running ``ti`` (and all it started); wait until the task's next try runs
    on the other worker, then bring the killed worker back. Returns the retry."""
    cluster.kill(ti["hostname"])

    def retry() -> dict | None:
        for other in cluster.task_instances(ti["dag_id"], ti["dag_run_id"]):
            if ((other["task_id"], other["map_index"]) == (ti["task_id"], ti["map_index"])
                    and other["try_number"] > ti["try_number"] and other["state"] in ("running", "success")
                    and other["hostname"]):
                return other
        return None

    again = wait_for(f"{ti['task_id']} retried", retry, cluster, timeout_s=180)
    assert again["hostname"] != ti["hostname"]
    cluster.start_service(ti["hostname"])
    return again


def _complete(world: World, brand: str) -> bool:
    try:
        assert_wave_complete(world, brand)
    except AssertionError:
        return False
    return True


def test_a_restarted_scheduler_loses_nothing_and_asset_triggered_runs_still_happen(world):
    cluster, started = world.cluster, datetime.now(timezone.utc)
    crawls = [crawl_dag(platform) for platform in PLATFORMS]
    world.release(2)
    for dag_id in crawls:
        cluster.trigger(dag_id)

    wait_for("a crawl running", lambda: any(running_task(cluster, d, "collect", started) for d in crawls), cluster)
    cluster.kill("scheduler")
    restarted = datetime.now(timezone.utc)
    cluster.start_service("scheduler")

    wait_for("a notification about gamma", lambda: notified(world, "gamma"), cluster, timeout_s=420)
    for dag_id in crawls:
        wait_for(f"{dag_id} to succeed", lambda d=dag_id: finished(cluster, d, started, run_type="manual"), cluster)
    for dag_id in ("enrich", "alerts"):  # the new scheduler still turns Asset updates into runs
        wait_for(f"an Asset-triggered {dag_id} run after the restart",
                 lambda d=dag_id: finished(cluster, d, restarted, run_type="asset_triggered"), cluster)
    wait_for("the gamma wave complete", lambda: _complete(world, "gamma"), cluster, timeout_s=300)
    assert_wave_complete(world, "gamma")
    for brand in ("acme", "beta"):
        assert len(notified(world, brand)) == 1
    assert_nothing_sent_twice(world)
