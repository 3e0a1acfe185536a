"""The whole pipeline through Airflow on its embedded defaults, each DAG run with dag.test():
replay server -> crawl DAG (a real ``scrapy crawl`` subprocess) -> enrich DAG (tiny
transformer models) -> alerts DAG -> a notification received by a loopback HTTP receiver,
with the incident in the store. Also: a failing source fails alone and tells operations."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
import pytest

from crisiswatch.core.config import load_config
from crisiswatch.core.model import Author, Engagement, Post
from crisiswatch.core.scenario import Scenario
from crisiswatch.core.store import PostFilter, open_store

from .helpers import load_dagbag, write_config

pytestmark = pytest.mark.usefixtures("airflow_db")

START = datetime(2026, 5, 4, 9, 0, tzinfo=timezone.utc)
ONSET = START + timedelta(hours=2)
NOW = ONSET + timedelta(minutes=45)


def kettle_recall() -> Scenario:
    """Two quiet hours of talk about Acme kettles on Mastodon, then a burst of recall posts."""
    ordinary = ["Acme kettle boils fast, happy with it", "Anyone tried the new Acme kettle?", "艾克美 水壶 挺好用的",
                "Acme support answered within a day"]
    crisis = ["Acme kettle recall: mine leaked and burned my hand", "Acme just announced a recall of the K2 kettle",
              "艾克美 水壶 召回 了，太吓人", "Is the Acme recall covering the K1 too?"]
    posts = []
    for k in range(12):  # one every 10 minutes before the onset
        posts.append((START + timedelta(minutes=10 * k), ordinary[k % len(ordinary)]))
    for k in range(14):  # one every 3 minutes after it
        posts.append((ONSET + timedelta(minutes=3 * k, seconds=20), crisis[k % len(crisis)]))
    return Scenario(
        name="kettle_recall", title="Acme kettle recall", start=START, onset=ONSET, end=ONSET + timedelta(hours=1),
        posts=[Post(id=f"mastodon:{112_000_000_000_000_000 + n}", source="mastodon", text=text, created_at=at,
                    language="zh" if "艾克美" in text else "en",
                    author=Author(id=str(500 + n % 5), handle=f"kettle_fan{n % 5}", name=f"Fan {n % 5}", followers=200),
                    engagement=Engagement(likes=n % 7, shares=n % 3, replies=n % 4))
               for n, (at, text) in enumerate(posts)])


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory) -> dict:
    from nlp.tiny import make_tiny_models

    return make_tiny_models(tmp_path_factory.mktemp("tiny-models")).model_dump(mode="json")


def asset_events(dag_id: str) -> list[dict]:
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session

    with create_session() as session:
        return [event.extra for event in session.query(AssetEvent).filter(AssetEvent.source_dag_id == dag_id)]


def test_replay_to_notification_through_the_crawl_enrich_and_alerts_dags(tmp_path, tiny_models, receiver,
                                                                         monkeypatch):
    from scenarios.replay import ReplayServer

    scenario = kettle_recall()
    with ReplayServer(scenario, clock_start=NOW) as server:
        config_file = write_config(tmp_path, server.source_configs(), tiny_models, receiver)
        monkeypatch.chdir(tmp_path)
        bag = load_dagbag(config_file, monkeypatch)
        assert bag.import_errors == {}
        crawl_dag_id = f"crawl_{server.source_configs()[0].name}"

        crawl = bag.dags[crawl_dag_id].test()

    assert crawl.state == "success"
    config = load_config(config_file)
    with open_store(config) as store:
        assert store.count_posts() == len(scenario.posts)
        assert store.crawl_history(limit=1)[0].items == len(scenario.posts)
    assert asset_events(crawl_dag_id)[-1]["items"] == len(scenario.posts)  # raw-posts Asset updated

    enrich = bag.dags["enrich"].test()

    assert enrich.state == "success"
    with open_store(config) as store:
        ids = [post.id for post in store.iter_posts()]
        assert len(store.get_enrichments(ids)) == len(scenario.posts)

    alerts = bag.dags["alerts"].test(run_conf={"now": NOW.isoformat()})

    assert alerts.state == "success"
    with open_store(config) as store:
        incidents = store.list_incidents()
        assert [(i.rule, i.watchlist, i.state.value) for i in incidents] == [("crisis-terms", "acme", "open")]
        incident = incidents[0]
        assert any(record.channel == "pr-team" and record.status == "sent" for record in incident.notifications)
        recall_posts = store.count_posts(PostFilter(text="recall OR 召回"))
    messages = receiver.on("pr-team")
    assert len(messages) == 1
    assert "acme" in (messages[0]["title"] + messages[0]["message"]).lower()
    assert recall_posts == 14

    again = bag.dags["alerts"].test(run_conf={"now": NOW.isoformat()})  # a rerun never notifies twice

    assert again.state == "success"
    assert len(receiver.on("pr-team")) == 1
    assert receiver.on("ops") == []


def test_a_failing_source_fails_alone_and_tells_operations(tmp_path, tiny_models, receiver, monkeypatch):
    from scenarios.replay import ReplayServer

    scenario = kettle_recall()
    with ReplayServer(scenario, clock_start=NOW) as server:
        healthy = server.source_configs()[0]
        broken = healthy.model_copy(update={"name": "broken-instance", "base_url": "http://127.0.0.1:9/mastodon",
                                            "options": {**healthy.options, "timeout_s": 2, "retries": 0}})
        config_file = write_config(tmp_path, [healthy, broken], tiny_models, receiver)
        monkeypatch.chdir(tmp_path)
        bag = load_dagbag(config_file, monkeypatch)

        failed = bag.dags["crawl_broken-instance"].test()
        succeeded = bag.dags[f"crawl_{healthy.name}"].test()

    assert failed.state == "failed"
    assert {ti.task_id: ti.state for ti in failed.get_task_instances()} == {"collect": "failed",
                                                                              "announce": "upstream_failed"}
    assert succeeded.state == "success"
    with open_store(load_config(config_file)) as store:
        assert store.count_posts() == len(scenario.posts)
        assert store.crawl_history("broken-instance", limit=1)[0].status == "failed"
    [alert] = receiver.on("ops")
    assert alert["title"] == "crisiswatch: crawl_broken-instance.collect failed"
    assert "broken-instance" in alert["message"] and "gave up" in alert["message"]
