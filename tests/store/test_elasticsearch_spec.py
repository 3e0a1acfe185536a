"""Every request body the Elasticsearch store sends, checked against Elastic's API spec.

The store runs every one of its operations with the real client against the loopback
server (tests/store/es_loopback.py), which records each request as it went over the wire;
each body is then checked against the request type of its endpoint in the specification
shipped by npm ``@elastic/request-converter`` (``make es-spec``). This proves the bodies are
well-formed for Elasticsearch 9 (property names, value kinds, query/aggregation/mapping
variants); whether the cluster returns the right numbers is the live suite's job.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from crisiswatch.core.config import Config, ElasticsearchConfig
from crisiswatch.core.model import CrawlHealth, Enrichment, Incident, IncidentEvent, Level, Post
from crisiswatch.core.store import es_query as q
from crisiswatch.core.store.base import PostFilter
from crisiswatch.core.store.elasticsearch import ElasticsearchStore
from crisiswatch.core.store.es_schema import ilm_policy, index_templates
from tests.store.es_loopback import LoopbackElasticsearch
from tests.store.es_spec import SPEC_PATH, load_spec, parse_body

pytestmark = pytest.mark.skipif(
    not SPEC_PATH.exists(),
    reason=f"Elastic API specification not installed at {SPEC_PATH} (run `make es-spec`, needs npm)")

T0 = datetime(2025, 3, 1, tzinfo=timezone.utc)
FULL_FILTER = PostFilter(watchlists=("acme",), sources=("weibo", "mastodon"), languages=("zh",),
                         sentiments=("negative",), emotions=("anger",), categories=("product quality",),
                         topic_ids=(3,), min_followers=100,
                         text='(召回 OR recall) "food poisoning" -test title:acme source:weibo topic:3 -lang:en',
                         since=T0, until=T0 + timedelta(days=1))


def _posts() -> list[Post]:
    return [Post(id=f"weibo:{i}", source="weibo", text=f"某品牌奶粉召回 {i}", language="zh",
                 created_at=T0 + timedelta(minutes=i), watchlists=["acme"],
                 author={"handle": f"u{i}", "followers": 10 * i}, engagement={"likes": i, "shares": 1},
                 raw={"mid": i}) for i in range(6)]


def _exercise_every_operation(store: ElasticsearchStore) -> None:
    store.setup()
    store.upsert_posts(_posts())
    store.upsert_posts(_posts()[:2])  # existing ids: scripted replace that keeps enrichments
    store.update_enrichments([Enrichment(post_id="weibo:1", language="zh", sentiment="negative",
                                         sentiment_score=-0.8, emotion="anger", emotion_scores={"anger": 0.9},
                                         category="product quality", topic_id=3, topic_keywords=["召回"],
                                         models={"sentiment": "tiny@1"})])
    store.get_posts(["weibo:1", "weibo:2"])
    store.get_enrichments(["weibo:1"])
    list(store.unenriched_batches(batch_size=2, filter=FULL_FILTER))
    store.clear_enrichments(FULL_FILTER)
    store.count_posts(FULL_FILTER)
    store.count_posts()
    store.count_by_bucket(FULL_FILTER, T0, T0 + timedelta(hours=24), timedelta(minutes=5))
    store.share(PostFilter(sentiments=("negative",)), PostFilter(watchlists=("acme",)))
    for field in ("source", "language", "sentiment", "emotion", "category", "watchlist", "topic_id"):
        store.count_by_field(field, FULL_FILTER, limit=10)
    store.top_terms(FULL_FILTER, limit=20)
    for order in ("engagement", "reach", "created_at", "-created_at"):
        store.top_posts(FULL_FILTER, order=order, limit=5)
    store.first_posts(FULL_FILTER)
    store.search(PostFilter(text="奶粉"))
    list(store.iter_posts(FULL_FILTER, batch_size=2))
    store.delete_posts(PostFilter(until=T0 - timedelta(days=90)))
    store.set_cursor("weibo", "5003", key="acme")
    store.get_cursor("weibo", key="acme")
    store.set_state("baseline:acme", "{}")
    store.get_state("baseline:acme")
    store.set_state("baseline:acme", None)
    store.record_crawl(CrawlHealth(source="weibo", started_at=T0, finished_at=T0 + timedelta(seconds=9), items=6))
    store.crawl_history("weibo")
    incident = Incident(id="inc1", fingerprint="volume|acme|", rule="volume", watchlist="acme", title="Spike",
                        level=Level.orange, peak_level=Level.orange, opened_at=T0, updated_at=T0,
                        events=[IncidentEvent(kind="fired", at=T0, data={"z": 5.1})])
    store.save_incident(incident)
    store.get_incident("inc1")
    store.get_incident("in")
    store.find_incident("volume|acme|")
    store.list_incidents(states=["open"], since=T0)
    store.check()


def test_every_request_body_the_store_sends_matches_the_specification():
    spec = load_spec()
    with LoopbackElasticsearch() as server:
        store = ElasticsearchStore.from_config(Config(), server.url, bulk_initial_backoff_s=0.01)
        _exercise_every_operation(store)
        for name in list(server.state.templates):  # outdated templates: setup also extends live mappings
            server.state.templates[name]["_meta"]["hash"] = "outdated"
        assert any(c.kind == "mapping" for c in store.apply_schema())
        recorded = list(server.state.requests)
    checked: dict[str, int] = {}
    problems = []
    for request in recorded:
        endpoint = spec.endpoint_for(request.method, request.path)["name"]
        body = parse_body(request.body, request.content_type)
        if body is None:
            continue
        checked[endpoint] = checked.get(endpoint, 0) + 1
        problems += [f"{request.method} {request.path}: {p}"
                     for p in spec.check_request(request.method, request.path, body)]
    print("bodies checked per endpoint:", checked)
    assert not problems, "\n".join(problems)
    # every kind of body the store builds went through the check
    assert {"search", "count", "bulk", "update_by_query", "delete_by_query", "index", "indices.put_mapping",
            "indices.put_index_template", "ilm.put_lifecycle", "indices.create"} <= set(checked), checked
    assert checked["search"] >= 20


def test_template_policy_and_mapping_bodies_match_the_specification_for_custom_settings():
    spec = load_spec()
    config = ElasticsearchConfig(index_prefix="acme-prod", retention="400d", rollover_max_size="5gb",
                                 rollover_max_age="1d")
    assert spec.check_request("PUT", "/_ilm/policy/acme-prod-posts-policy", ilm_policy(config)) == []
    for name, body in index_templates(config).items():
        assert spec.check_request("PUT", f"/_index_template/{name}", body) == [], name


def test_the_check_catches_bodies_elasticsearch_would_refuse():
    """The checker itself can fail: typical mistakes are reported with their JSON path."""
    spec = load_spec()
    body = q.top_terms_body(PostFilter(), 10)
    body["aggs"]["terms"]["terms"]["feild"] = body["aggs"]["terms"]["terms"].pop("field")
    assert any("unknown property 'feild'" in p for p in spec.check_request("POST", "/x/_search", body))
    body = q.posts_page_body(PostFilter(), "reach", 10)
    body["sort"][0]["reach"]["order"] = "descending"
    assert any("descending" in p for p in spec.check_request("POST", "/x/_search", body))
    template = index_templates(ElasticsearchConfig())["crisiswatch-posts"]
    template["template"]["mappings"]["properties"]["reach"] = {"type": "int"}
    assert any("unknown type 'int'" in p
               for p in spec.check_request("PUT", "/_index_template/crisiswatch-posts", template))
    assert spec.check_request("PUT", "/_ilm/policy/p", {"policy": {"phases": {"hot": {"actions": {
        "rollover": {"max_sise": "1gb"}}}}}})
    bulk = [{"update": {"_index": "i", "_id": "1"}}, {"scirpt": {"source": q.SET_ENRICHMENT_SCRIPT}},
            {"upsert": {"_index": "i", "_id": "2"}}, {}]
    problems = spec.check_request("POST", "/_bulk", bulk)
    assert any("scirpt" in p for p in problems) and any("line 3" in p for p in problems)
