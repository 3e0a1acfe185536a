"""The live Elasticsearch suite: the shared Store contract, templates, bulk ingest,
enrichment updates and cross-backend equivalence with SQLite on a crisis scenario.

Runs when CRISISWATCH_ELASTICSEARCH_URL points at a cluster (for example the compose
stack: ``docker compose -f infra/docker-compose.yml up -d elasticsearch``, then
``CRISISWATCH_ELASTICSEARCH_URL=https://localhost:9200 CRISISWATCH_ELASTICSEARCH_PASSWORD=...
CRISISWATCH_ELASTICSEARCH_CA_CERTS=... make test``); every test is skipped, with that reason
in the summary, otherwise. Each test works in its own index prefix and removes it after.
"""

from __future__ import annotations

import os
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from crisiswatch.core.config import Config, ElasticsearchConfig, StoreConfig
from crisiswatch.core.model import Enrichment, Post
from crisiswatch.core.store.base import PostFilter
from crisiswatch.core.store.elasticsearch import ElasticsearchStore
from crisiswatch.core.store.es_schema import IndexNames
from tests.store.contract import T0, StoreContract, post

ES_URL = os.environ.get("CRISISWATCH_ELASTICSEARCH_URL")
pytestmark = pytest.mark.skipif(
    not ES_URL, reason="CRISISWATCH_ELASTICSEARCH_URL is not set: the live Elasticsearch suite needs a "
                       "cluster (see docs/elasticsearch.md)")


def _config(prefix: str, **options: object) -> Config:
    return Config(store=StoreConfig(elasticsearch=ElasticsearchConfig(
        index_prefix=prefix, ca_certs=os.environ.get("CRISISWATCH_ELASTICSEARCH_CA_CERTS"), **options)))


def _drop(store: ElasticsearchStore) -> None:
    """Remove everything the store's prefix created."""
    names = IndexNames(store.config.index_prefix)
    client = store.client
    # by name: clusters refuse wildcard deletes (action.destructive_requires_name)
    indices = list(client.indices.get(index=f"{names.prefix}-*", expand_wildcards="all"))
    if indices:
        client.indices.delete(index=",".join(indices))
    for kind in ("posts", "incidents", "crawls", "state"):
        client.options(ignore_status=404).indices.delete_index_template(name=names.template(kind))
    client.options(ignore_status=404).ilm.delete_lifecycle(name=names.posts_policy)


@pytest.fixture
def fresh_store():
    """A set-up store under a unique prefix, dropped afterwards."""
    created: list[ElasticsearchStore] = []

    def make(**options: object) -> ElasticsearchStore:
        prefix = f"cwtest-{uuid.uuid4().hex[:10]}"
        store = ElasticsearchStore.from_config(_config(prefix, **options), ES_URL)
        created.append(store)
        store.setup()
        return store

    yield make
    for store in created:
        _drop(store)
        store.close()


class TestElasticsearchStore(StoreContract):
    @pytest.fixture
    def store(self, fresh_store):
        return fresh_store()


# ---- templates and setup --------------------------------------------------------------
def test_templates_apply_and_a_second_setup_changes_nothing(fresh_store):
    store = fresh_store()
    assert {c.action for c in store.last_setup} == {"created"}
    assert {c.action for c in store.apply_schema()} == {"unchanged"}
    assert all(check.ok for check in store.check()), store.check()
    names = store.names
    mapping = store.client.indices.get_mapping(index=names.posts_first_index)[names.posts_first_index]["mappings"]
    assert mapping["properties"]["text"]["fields"]["substring"]["type"] == "wildcard"
    assert mapping["properties"]["text"]["fields"]["cjk"]["analyzer"] == "crisiswatch_cjk_index"
    assert "effective_language" in mapping["runtime"]
    settings = store.client.indices.get_settings(index=names.posts_first_index)[names.posts_first_index]
    assert settings["settings"]["index"]["lifecycle"]["name"] == names.posts_policy
    tokens = store.client.indices.analyze(index=names.posts_first_index, analyzer="crisiswatch_cjk_search",
                                          text="食物中毒")["tokens"]
    assert [t["token"] for t in tokens] == ["食物", "物中", "中毒"]
    aliases = store.client.indices.get_alias(name=names.posts)
    assert aliases[names.posts_first_index]["aliases"][names.posts]["is_write_index"] is True


def test_retention_change_updates_the_policy_only(fresh_store):
    store = fresh_store()
    longer = ElasticsearchStore.from_config(_config(store.config.index_prefix, retention="400d"), ES_URL)
    changes = {(c.kind, c.name): c.action for c in longer.apply_schema()}
    assert changes[("ILM policy", store.names.posts_policy)] == "updated"
    assert [a for (kind, _), a in changes.items() if kind == "index template"] == ["unchanged"] * 4
    policy = store.client.ilm.get_lifecycle(name=store.names.posts_policy)[store.names.posts_policy]["policy"]
    assert policy["phases"]["delete"]["min_age"] == f"{400 * 86400}s"


def test_reingest_after_rollover_updates_in_place(fresh_store):
    """A post re-collected after its index rolled over is not duplicated in the new one."""
    store = fresh_store()
    store.upsert_posts([post("1", "before rollover", likes=1)])
    store.update_enrichments([Enrichment(post_id="weibo:1", sentiment="negative")])
    store.client.indices.rollover(alias=store.names.posts)
    store.upsert_posts([post("1", "after rollover", likes=7), post("2", "new")])
    assert store.count_posts() == 2
    assert store.get_posts(["weibo:1"])[0].text == "after rollover"
    assert store.get_enrichments(["weibo:1"])["weibo:1"].sentiment.value == "negative"
    hits = store.client.search(index=store.names.posts, query={"ids": {"values": ["weibo:1", "weibo:2"]}})
    where = {h["_id"]: h["_index"] for h in hits["hits"]["hits"]}
    assert where["weibo:1"].endswith("000001") and where["weibo:2"].endswith("000002")


# ---- bulk ingest and enrichment updates -------------------------------------------------
def test_bulk_ingest_reports_refused_items_and_keeps_the_rest(fresh_store):
    store = fresh_store()
    posts = [post(f"{i:05d}", f"批量 bulk post {i}", minutes=i % 1440, watchlists=["acme"]) for i in range(5000)]
    too_long = post("x" * 600, "an id Elasticsearch refuses (over 512 bytes)")
    result = store.upsert_posts([*posts[:2500], too_long, *posts[2500:]])
    assert result.written == 5000
    assert [f.id for f in result.failed] == [too_long.id]
    assert "512" in result.failed[0].reason
    assert store.count_posts(PostFilter(watchlists=("acme",))) == 5000
    assert store.count_posts(PostFilter(text="批量")) == 5000


def test_enrichment_updates_are_partial_and_replace_the_previous_run(fresh_store):
    store = fresh_store()
    store.upsert_posts([post(str(i), f"text {i}", likes=i) for i in range(1000)])
    first = [Enrichment(post_id=f"weibo:{i}", sentiment="negative" if i % 4 == 0 else "neutral",
                        emotion_scores={"anger": 0.5, "joy": 0.1}) for i in range(1000)]
    assert store.update_enrichments(first).written == 1000
    assert store.count_posts(PostFilter(sentiments=("negative",))) == 250
    assert store.get_posts(["weibo:7"])[0].engagement.likes == 7  # the post itself untouched
    second = [Enrichment(post_id=f"weibo:{i}", sentiment="positive", emotion_scores={"joy": 0.9})
              for i in range(0, 1000, 2)]
    assert store.update_enrichments(second).written == 500
    assert store.count_posts(PostFilter(sentiments=("negative",))) == 0  # every multiple of 4 is even
    assert store.get_enrichments(["weibo:4"])["weibo:4"].emotion_scores == {"joy": 0.9}


# ---- cross-backend equivalence --------------------------------------------------------
def _labelled_enrichments(scenario) -> list[Enrichment]:
    """Enrichments from the scenario's ground truth, so no model is needed for the check."""
    out = []
    known = {p.id for p in scenario.posts}
    for post_id, labels in scenario.post_labels.items():
        if post_id not in known:
            continue
        out.append(Enrichment(post_id=post_id, sentiment=labels.get("sentiment"), emotion=labels.get("emotion"),
                              category=labels.get("category"), language=labels.get("language", "und")))
    return out


@pytest.mark.parametrize("scenario_name", ["food_safety_zh", "airline_outage_en"])
def test_same_posts_give_the_same_answers_and_alerts_on_both_backends(fresh_store, tmp_path: Path, scenario_name):
    import scenarios
    from alerts.engine import run_rules
    from alerts.series import SeriesCache
    from crisiswatch.core.store.sqlite import SqliteStore

    scenario = scenarios.load(scenario_name)
    config = Config.model_validate(scenario.config)
    enrichments = _labelled_enrichments(scenario)
    es = fresh_store()
    sqlite = SqliteStore(tmp_path / "equivalence.db")
    sqlite.setup()
    for store in (es, sqlite):
        assert not store.upsert_posts(scenario.posts).failed
        assert not store.update_enrichments(enrichments).failed

    filters = [PostFilter()] + [PostFilter(watchlists=(w.name,)) for w in config.watchlists]
    filters += [f.narrow(sentiments=("negative",)) for f in filters]
    filters += [PostFilter(text=term) for term in config.crisis_lexicon[:8]]
    filters += [PostFilter(min_followers=10_000), PostFilter(languages=("zh",)),
                PostFilter(since=scenario.onset, until=scenario.onset + timedelta(hours=6))]
    for flt in filters:
        assert es.count_posts(flt) == sqlite.count_posts(flt), flt
        for size in (timedelta(minutes=15), timedelta(hours=1)):
            assert (es.count_by_bucket(flt, scenario.start, scenario.end, size)
                    == sqlite.count_by_bucket(flt, scenario.start, scenario.end, size)), (flt, size)
        for field in ("source", "language", "sentiment", "emotion", "category", "watchlist", "topic_id"):
            assert es.count_by_field(field, flt) == sqlite.count_by_field(field, flt), (flt, field)
        assert es.top_terms(flt, limit=30) == sqlite.top_terms(flt, limit=30), flt
        for order in ("engagement", "reach", "created_at", "-created_at"):
            assert ([p.id for p in es.top_posts(flt, order, limit=10)]
                    == [p.id for p in sqlite.top_posts(flt, order, limit=10)]), (flt, order)

    def detections(store):
        found = []
        for now in (scenario.onset + timedelta(minutes=m) for m in (30, 90, 240)):
            evaluations, errors = run_rules(store, config, now, SeriesCache(store))
            assert not errors
            found += [(e.rule, e.watchlist, e.group_key, e.level, round(e.score, 6), e.observed)
                      for e in evaluations]
        return found

    assert detections(es) == detections(sqlite)
    sqlite.close()


def test_posts_round_trip_exactly_through_elasticsearch(fresh_store):
    store = fresh_store()
    original = Post(id="weibo:rt", source="weibo", text="全角ＡＢＣ and emoji 😀", created_at=T0,
                    raw={"deep": {"list": [1, {"x": None}]}})
    store.upsert_posts([original])
    assert store.get_posts(["weibo:rt"]) == [original]
