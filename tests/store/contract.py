"""Behaviour every Store backend must show, written against the Store interface only.

A backend's test module subclasses ``StoreContract`` and provides a ``store`` fixture that
yields a fresh, empty, set-up store (writes must be visible to the next read: an
Elasticsearch backend refreshes on write). Nothing here may assume a particular backend.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from crisiswatch.core.model import (Author, CrawlHealth, Engagement, Enrichment, Incident, IncidentEvent,
                               IncidentState, Level, NotificationRecord, Post)
from crisiswatch.core.store.base import FingerprintTaken, IncidentConflict, PostFilter, Store, StoreError
from crisiswatch.core.store.query import QueryError

UTC = timezone.utc
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
ANY = PostFilter()


def post(native: str, text: str = "", *, minutes: float = 0, source: str = "weibo", title: str | None = None,
         language: str | None = None, followers: int | None = None, likes: int | None = None,
         shares: int | None = None, replies: int | None = None, watchlists: list[str] | None = None,
         **extra: object) -> Post:
    return Post(id=f"{source}:{native}", source=source, text=text, title=title, language=language,
                created_at=T0 + timedelta(minutes=minutes), collected_at=T0 + timedelta(hours=1),
                author=Author(id=f"u{native}", handle=f"user{native}", followers=followers),
                engagement=Engagement(likes=likes, shares=shares, replies=replies),
                watchlists=watchlists or [], **extra)


def enrichment(post_id: str, sentiment: str | None = "negative", **fields: object) -> Enrichment:
    return Enrichment(post_id=post_id, sentiment=sentiment, enriched_at=T0 + timedelta(hours=2), **fields)


def ids(posts: list[Post]) -> list[str]:
    return [p.id for p in posts]


def incident(ident: str, *, fingerprint: str = "spike|acme|", state: IncidentState = IncidentState.open,
             opened_minutes: int = 0, updated_minutes: int = 0) -> Incident:
    opened = T0 + timedelta(minutes=opened_minutes)
    return Incident(
        id=ident, fingerprint=fingerprint, rule="spike", watchlist="acme", title="Volume spike for acme",
        level=Level.orange, peak_level=Level.red, state=state, score=71.5, opened_at=opened,
        updated_at=T0 + timedelta(minutes=updated_minutes), evidence={"observed": 120, "baseline": 14.2,
                                                                      "top_terms": ["召回", "recall"]},
        events=[IncidentEvent(at=opened, kind="fired", message="120 posts in 15m vs 14 normal",
                              data={"level": "orange"}),
                IncidentEvent(at=opened + timedelta(minutes=3), kind="acknowledged", actor="li.wei")],
        notifications=[NotificationRecord(idempotency_key=f"{ident}:0:email", channel="email",
                                          event_kind="fired", status="sent", attempts=1,
                                          created_at=opened, sent_at=opened + timedelta(seconds=5))])


def text_posts() -> list[Post]:
    return [
        post("zh1", "某品牌奶粉召回，宝宝食物中毒了", minutes=1),
        post("zh2", "這家餐廳的食物讓我中毒了，堅持要求退貨", minutes=2),
        post("zh3", "今天天气很好，去公园散步", minutes=3),
        post("en1", "Acme announces a RECALL of its baby formula", minutes=4, source="reddit"),
        post("en2", "Food poisoning after dinner, never again", minutes=5, source="reddit"),
        post("en3", "Is the new EV any good?", title="Review: Acme EV", minutes=6, source="reddit"),
        post("sym", 'He said "C++ (and C#) — 100% ok*" — AT&T', minutes=7, source="reddit"),
    ]


TEXT_QUERIES = [
    ("召回", {"weibo:zh1"}),                                   # two-character Chinese word
    ("中毒", {"weibo:zh1", "weibo:zh2"}),                      # Simplified and Traditional posts
    ("退貨", {"weibo:zh2"}),                                   # Traditional, two characters
    ("餐廳的食物", {"weibo:zh2"}),                              # Traditional, substring of a sentence
    ("退货", {"weibo:zh2"}),                                   # Simplified query, Traditional post
    ("餐厅的食物", {"weibo:zh2"}),
    ("寶寶", {"weibo:zh1"}),                                   # Traditional query, Simplified post
    ("食物中毒", {"weibo:zh1"}),                               # four characters
    ("天", {"weibo:zh3"}),                                     # one character
    ("recall", {"reddit:en1"}),                               # case-insensitive
    ("Recal", {"reddit:en1"}),                                # substring of a word
    ("acme formula", {"reddit:en1"}),                         # all terms must occur
    ("acme ev", {"reddit:en3"}),                              # title counts; short term fallback
    ('"food poisoning"', {"reddit:en2"}),                     # phrase
    ('"poisoning food"', set()),                              # phrase order matters
    ("recall OR 召回 OR \"food poisoning\"", {"reddit:en1", "weibo:zh1", "reddit:en2"}),
    ("召回 宝宝 OR never", {"weibo:zh1", "reddit:en2"}),
    ("召回 recall", set()),
    ("c++", {"reddit:sym"}),                                  # query syntax characters are text
    ('"(and"', {"reddit:sym"}),                               # syntax characters inside quotes are text
    ('"\\"C++"', {"reddit:sym"}),                             # \" is a quote inside a phrase
    ("100%", {"reddit:sym"}),
    ("ok*", {"reddit:sym"}),
    ("AT&T", {"reddit:sym"}),
    ("nothing-like-this", set()),                             # a dash inside a word is text
    # operators, negation, groups and fields (the grammar of crisiswatch.core.store.query)
    ("recall AND formula", {"reddit:en1"}),                   # AND is an operator, not a word
    ("acme AND NOT formula", {"reddit:en3"}),
    ("acme -formula", {"reddit:en3"}),
    ("-acme", {"weibo:zh1", "weibo:zh2", "weibo:zh3", "reddit:en2", "reddit:sym"}),
    ("NOT 中毒", {"weibo:zh3", "reddit:en1", "reddit:en2", "reddit:en3", "reddit:sym"}),  # short CJK term, both scripts
    ("-中毒 -ev", {"weibo:zh3", "reddit:en1", "reddit:sym"}),       # "never" contains ev
    ("(recall OR poisoning) NOT formula", {"reddit:en2"}),
    ("(召回 OR 退货) 食物", {"weibo:zh1", "weibo:zh2"}),
    ("recall OR 召回 宝宝 OR never", {"reddit:en1", "weibo:zh1", "reddit:en2"}),
    ("source:reddit recall", {"reddit:en1"}),
    ("source:reddit -acme", {"reddit:en2", "reddit:sym"}),
    ("NOT source:reddit 食物", {"weibo:zh1", "weibo:zh2"}),
    ("title:acme", {"reddit:en3"}),                           # title only
    ("text:acme", {"reddit:en1"}),                            # text only
    ("title:ev", {"reddit:en3"}),                             # short term, title only
    ("title:召回", set()),
]
"""Queries over the ``texts`` posts and the posts each must find (also evaluated offline
against the Elasticsearch query bodies: tests/store/test_es_query_semantics.py)."""


class StoreContract:
    """Shared behaviour; subclasses provide ``store``."""

    @pytest.fixture
    def store(self) -> Store:  # pragma: no cover - overridden
        raise NotImplementedError("a backend's test module provides the store fixture")

    # ---- writing and reading posts -------------------------------------------------
    def test_post_round_trips_every_field(self, store: Store) -> None:
        original = post("1", "奶粉召回 #食品安全", title="標題 Title", language="zh", followers=1200, likes=3,
                        shares=4, replies=5, watchlists=["acme", "lexicon"], url="https://weibo.example/1",
                        parent_id="weibo:0", thread_id="weibo:0", raw={"mid": "1", "nested": {"a": [1, 2]}})
        assert store.upsert_posts([original]).written == 1
        assert store.get_posts(["weibo:1"]) == [original]

    def test_get_posts_keeps_requested_order_and_skips_unknown(self, store: Store) -> None:
        store.upsert_posts([post("1", "a"), post("2", "b"), post("3", "c")])
        assert ids(store.get_posts(["weibo:3", "weibo:404", "weibo:1"])) == ["weibo:3", "weibo:1"]

    def test_reingesting_never_duplicates(self, store: Store) -> None:
        batch = [post(str(i), f"text {i}", minutes=i) for i in range(5)]
        store.upsert_posts(batch)
        store.upsert_posts(batch)
        store.upsert_posts(reversed(batch))
        assert store.count_posts() == 5
        assert store.count_posts(PostFilter(text="text")) == 5

    def test_same_id_twice_in_one_batch_keeps_the_last(self, store: Store) -> None:
        store.upsert_posts([post("1", "first version"), post("1", "second version", likes=9)])
        assert store.count_posts() == 1
        assert store.get_posts(["weibo:1"])[0].text == "second version"

    def test_upsert_accepts_a_generator(self, store: Store) -> None:
        result = store.upsert_posts(post(str(i), f"generated {i}", minutes=i) for i in range(1203))
        assert result.written == 1203 and not result.failed
        assert store.count_posts() == 1203

    def test_reingest_replaces_content_and_keeps_enrichment(self, store: Store) -> None:
        store.upsert_posts([post("1", "old wording about a refund", likes=1)])
        store.update_enrichments([enrichment("weibo:1", "negative", emotion="anger")])
        store.upsert_posts([post("1", "new wording about a recall", likes=50)])
        fetched = store.get_posts(["weibo:1"])[0]
        assert fetched.text == "new wording about a recall" and fetched.engagement.likes == 50
        assert store.get_enrichments(["weibo:1"])["weibo:1"].emotion == "anger"
        assert store.count_posts(PostFilter(sentiments=("negative",))) == 1
        assert store.count_posts(PostFilter(text="recall")) == 1
        assert store.count_posts(PostFilter(text="refund")) == 0
        assert [t.term for t in store.top_terms(ANY)] and "refund" not in {t.term for t in store.top_terms(ANY)}
        assert list(store.unenriched_batches()) == []

    def test_reingest_replaces_watchlists(self, store: Store) -> None:
        store.upsert_posts([post("1", "x", watchlists=["acme"])])
        store.upsert_posts([post("1", "x", watchlists=["globex"])])
        assert store.count_posts(PostFilter(watchlists=("acme",))) == 0
        assert store.count_posts(PostFilter(watchlists=("globex",))) == 1

    def test_empty_text_post_is_kept(self, store: Store) -> None:
        store.upsert_posts([post("1", "")])
        assert store.count_posts() == 1 and store.get_posts(["weibo:1"])[0].text == ""

    # ---- enrichments ---------------------------------------------------------------
    def test_enrichment_for_unknown_post_fails_alone(self, store: Store) -> None:
        store.upsert_posts([post("1", "a"), post("2", "b")])
        result = store.update_enrichments([enrichment("weibo:1"), enrichment("weibo:404"), enrichment("weibo:2")])
        assert result.written == 2
        assert [f.id for f in result.failed] == ["weibo:404"] and result.failed[0].reason
        assert set(store.get_enrichments(["weibo:1", "weibo:2", "weibo:404"])) == {"weibo:1", "weibo:2"}

    def test_enrichment_round_trips_and_is_replaced_whole(self, store: Store) -> None:
        store.upsert_posts([post("1", "a")])
        first = enrichment("weibo:1", "negative", sentiment_score=-0.8, emotion="anger",
                           emotion_scores={"anger": 0.7, "joy": 0.1}, category="product_quality",
                           category_score=0.6, topic_id=3, topic_keywords=["milk", "召回"], duplicate_group="g1",
                           language="zh", models={"sentiment": "tiny@1"})
        store.update_enrichments([first])
        assert store.get_enrichments(["weibo:1"]) == {"weibo:1": first}
        second = enrichment("weibo:1", "positive", language="en")
        store.update_enrichments([second])
        assert store.get_enrichments(["weibo:1"])["weibo:1"] == second
        assert store.count_posts(PostFilter(emotions=("anger",))) == 0
        assert store.count_posts(PostFilter(sentiments=("positive",))) == 1

    def test_unenriched_batches_oldest_first_and_safe_to_enrich_while_iterating(self, store: Store) -> None:
        store.upsert_posts([post(str(i), f"p{i}", minutes=10 - i) for i in range(7)])
        seen = []
        for batch in store.unenriched_batches(batch_size=3):
            assert len(batch) <= 3
            seen.extend(batch)
            store.update_enrichments([enrichment(p.id, "neutral") for p in batch])
        assert ids(seen) == [f"weibo:{i}" for i in reversed(range(7))]
        assert list(store.unenriched_batches(batch_size=3)) == []

    def test_unenriched_progress_survives_stopping_half_way(self, store: Store) -> None:
        store.upsert_posts([post(str(i), f"p{i}", minutes=i) for i in range(5)])
        first = next(iter(store.unenriched_batches(batch_size=2)))
        store.update_enrichments([enrichment(p.id) for p in first])
        rest = [p for batch in store.unenriched_batches(batch_size=2) for p in batch]
        assert ids(rest) == ["weibo:2", "weibo:3", "weibo:4"]

    def test_unenriched_batches_honour_a_filter(self, store: Store) -> None:
        store.upsert_posts([post("1", "a", source="weibo"), post("2", "b", source="reddit")])
        batches = list(store.unenriched_batches(filter=PostFilter(sources=("reddit",))))
        assert [ids(b) for b in batches] == [["reddit:2"]]

    def test_clear_enrichments_makes_posts_unenriched_again(self, store: Store) -> None:
        store.upsert_posts([post("1", "a", source="weibo"), post("2", "b", source="reddit"), post("3", "c")])
        store.update_enrichments([enrichment("weibo:1"), enrichment("reddit:2")])
        assert store.clear_enrichments(PostFilter(sources=("weibo",))) == 1
        assert store.get_enrichments(["weibo:1"]) == {}
        assert store.count_posts(PostFilter(sentiments=("negative",))) == 1
        assert sorted(ids([p for b in store.unenriched_batches() for p in b])) == ["weibo:1", "weibo:3"]

    # ---- filters -------------------------------------------------------------------
    @pytest.fixture
    def varied(self, store: Store) -> Store:
        store.upsert_posts([
            post("1", "one", source="weibo", language="zh", followers=10, watchlists=["acme"]),
            post("2", "two", source="weibo", language="zh", followers=None, watchlists=["acme", "globex"]),
            post("3", "three", source="reddit", language="en", followers=5000, watchlists=["globex"]),
            post("4", "four", source="mastodon", language=None, followers=100),
        ])
        store.update_enrichments([
            enrichment("weibo:1", "negative", emotion="anger", category="price", topic_id=1, language="zh"),
            enrichment("weibo:2", "positive", emotion="joy", category="service_quality", topic_id=2, language="en"),
            enrichment("reddit:3", "negative", emotion="fear", category="price", topic_id=-1, language="und"),
        ])
        return store

    @pytest.mark.parametrize(("flt", "expected"), [
        (PostFilter(), {"weibo:1", "weibo:2", "reddit:3", "mastodon:4"}),
        (PostFilter(sources=("weibo", "mastodon")), {"weibo:1", "weibo:2", "mastodon:4"}),
        (PostFilter(watchlists=("acme",)), {"weibo:1", "weibo:2"}),
        (PostFilter(watchlists=("acme", "globex")), {"weibo:1", "weibo:2", "reddit:3"}),
        (PostFilter(sentiments=("negative",)), {"weibo:1", "reddit:3"}),
        (PostFilter(emotions=("joy", "fear")), {"weibo:2", "reddit:3"}),
        (PostFilter(categories=("price",)), {"weibo:1", "reddit:3"}),
        (PostFilter(topic_ids=(-1, 2)), {"weibo:2", "reddit:3"}),
        # detected language wins, 'und' falls back to the platform's, unenriched uses the platform's
        (PostFilter(languages=("en",)), {"weibo:2", "reddit:3"}),
        (PostFilter(languages=("zh",)), {"weibo:1"}),
        (PostFilter(min_followers=100), {"reddit:3", "mastodon:4"}),
        (PostFilter(min_followers=0), {"weibo:1", "weibo:2", "reddit:3", "mastodon:4"}),
        (PostFilter(watchlists=("acme",), sentiments=("negative",)), {"weibo:1"}),
        (PostFilter(watchlists=("nobody",)), set()),
    ])
    def test_filter_fields(self, varied: Store, flt: PostFilter, expected: set[str]) -> None:
        assert varied.count_posts(flt) == len(expected)
        assert set(ids(varied.search(flt))) == expected

    def test_star_ratings_filter_reviews_and_round_trip(self, store: Store) -> None:
        store.upsert_posts([post("1", "crashes", source="appstore", rating=1), post("2", "meh", source="appstore", rating=3),
                            post("3", "bad", source="appstore", rating=2), post("4", "no stars", source="weibo")])
        assert set(ids(store.search(PostFilter(ratings=(1, 2))))) == {"appstore:1", "appstore:3"}
        assert store.count_posts(PostFilter(ratings=(5,))) == 0
        assert store.count_posts(PostFilter(ratings=(1, 2), sources=("appstore",))) == 2
        assert [p.rating for p in store.get_posts(["appstore:2", "weibo:4"])] == [3, None]

    @pytest.mark.parametrize("name", ["watchlists", "sources", "languages", "sentiments", "emotions", "categories",
                                      "topic_ids", "ratings"])
    def test_empty_tuple_matches_nothing(self, varied: Store, name: str) -> None:
        assert varied.count_posts(PostFilter(**{name: ()})) == 0

    def test_time_bounds_since_inclusive_until_exclusive(self, store: Store) -> None:
        store.upsert_posts([post(str(i), minutes=i) for i in range(5)])
        flt = PostFilter(since=T0 + timedelta(minutes=1), until=T0 + timedelta(minutes=3))
        assert set(ids(store.search(flt))) == {"weibo:1", "weibo:2"}

    def test_times_in_other_zones_mean_the_same_instant(self, store: Store) -> None:
        beijing = timezone(timedelta(hours=8))
        store.upsert_posts([Post(id="weibo:z", source="weibo", text="x",
                                 created_at=datetime(2026, 3, 1, 16, 0, tzinfo=beijing))])
        assert store.get_posts(["weibo:z"])[0].created_at == T0
        assert store.get_posts(["weibo:z"])[0].created_at.utcoffset() == timedelta(0)
        assert store.count_posts(PostFilter(since=datetime(2026, 3, 1, 16, 0, tzinfo=beijing))) == 1
        assert store.count_posts(PostFilter(since=datetime(2026, 3, 1, 8, 0, 1))) == 0  # naive = UTC

    def test_future_dated_posts_are_kept_but_not_counted_in_past_windows(self, store: Store) -> None:
        store.upsert_posts([post("future", "clock skew", minutes=60 * 24 * 365 * 3), post("now", "x")])
        assert store.count_posts() == 2
        assert store.count_posts(PostFilter(until=T0 + timedelta(days=1))) == 1
        assert sum(b.count for b in store.count_by_bucket(ANY, T0, T0 + timedelta(hours=1), timedelta(minutes=5))) == 1
        assert "weibo:future" in ids([p for b in store.unenriched_batches() for p in b])

    # ---- full-text queries ---------------------------------------------------------
    @pytest.fixture
    def texts(self, store: Store) -> Store:
        store.upsert_posts(text_posts())
        return store

    @pytest.mark.parametrize(("query", "expected"), TEXT_QUERIES)
    def test_text_queries(self, texts: Store, query: str, expected: set[str]) -> None:
        assert set(ids(texts.search(PostFilter(text=query)))) == expected
        assert texts.count_posts(PostFilter(text=query)) == len(expected)

    def test_text_query_combines_with_other_filters(self, texts: Store) -> None:
        assert ids(texts.search(PostFilter(text="中毒 OR poisoning", sources=("reddit",)))) == ["reddit:en2"]

    def test_blank_text_query_matches_everything(self, texts: Store) -> None:
        assert texts.count_posts(PostFilter(text="  ")) == 7

    @pytest.mark.parametrize(("query", "position"), [
        ('"', 1), ('""', 1), ("OR", 1), ("recall OR", 8), ("(and", 1), ("and)", 4), ("()", 1), ("NOT", 1),
        ("recall -", 8), ("acme AND", 6), ("topic:seven", 1), ("source:", 1), ('acme "food', 6),
    ])
    def test_a_query_that_cannot_be_parsed_is_refused_with_its_position(self, texts: Store, query: str,
                                                                        position: int) -> None:
        # before the grammar, '"', '""' and a bare OR matched every post
        with pytest.raises(QueryError) as caught:
            texts.count_posts(PostFilter(text=query))
        assert caught.value.position == position and f"position {position}" in str(caught.value)
        with pytest.raises(QueryError):
            texts.search(PostFilter(text=query))

    def test_field_terms_match_labels(self, store: Store) -> None:
        store.upsert_posts([post("a", "acme recall", watchlists=["acme"], language="zh"),
                            post("b", "acme recall", source="reddit", watchlists=["acme", "rival"]),
                            post("c", "acme recall", language="en")])
        store.update_enrichments([enrichment("weibo:a", "negative", emotion="anger", category="price", topic_id=7,
                                             language="zh"),
                                  enrichment("reddit:b", "positive", topic_id=3, language="en")])

        def found(query: str) -> set[str]:
            return set(ids(store.search(PostFilter(text=query))))

        assert found("sentiment:negative") == {"weibo:a"}
        assert found("recall -sentiment:negative") == {"reddit:b", "weibo:c"}  # no label is not negative
        assert found("emotion:anger OR category:price") == {"weibo:a"}
        assert found("topic:3") == {"reddit:b"} and found("topic_id:7") == {"weibo:a"}
        assert found("watchlist:rival") == {"reddit:b"} and found("-watchlist:acme") == {"weibo:c"}
        assert found("lang:en") == {"reddit:b", "weibo:c"} and found("language:zh") == {"weibo:a"}
        assert found('source:weibo (sentiment:negative OR "recall")') == {"weibo:a", "weibo:c"}
        assert found("Source:reddit") == {"reddit:b"}  # field names in any case

    # ---- buckets and shares ----------------------------------------------------------
    def test_count_by_bucket_includes_zero_buckets_and_respects_boundaries(self, store: Store) -> None:
        store.upsert_posts([
            post("before", minutes=-0.01),     # just before the window
            post("a", minutes=0),              # exactly at the start: first bucket
            post("b", minutes=4.99),
            post("c", minutes=5),              # exactly on a boundary: second bucket
            post("d", minutes=17),
            post("end", minutes=20),           # at the end: excluded
        ])
        buckets = store.count_by_bucket(ANY, T0, T0 + timedelta(minutes=20), timedelta(minutes=5))
        assert [b.start for b in buckets] == [T0 + timedelta(minutes=5 * k) for k in range(4)]
        assert [b.count for b in buckets] == [2, 1, 0, 1]
        assert all(b.start.utcoffset() == timedelta(0) for b in buckets)

    def test_many_small_buckets_count_the_same_as_few_large_ones(self, store: Store) -> None:
        """Past some number of buckets (12 hours of 2-second buckets: 21,600) a backend may count
        them another way; the counts must still add up to those of larger buckets."""
        store.upsert_posts([post(f"p{k}", minutes=k * 7.3 + 0.01) for k in range(90)])
        end = T0 + timedelta(hours=12)
        fine = store.count_by_bucket(ANY, T0, end, timedelta(seconds=2))
        coarse = store.count_by_bucket(ANY, T0, end, timedelta(hours=1))
        assert len(fine) == 21_600 and sum(b.count for b in fine) == 90
        assert [sum(b.count for b in fine[h * 1800:(h + 1) * 1800]) for h in range(12)] == [b.count for b in coarse]
        assert fine[round((7.3 * 3 + 0.01) * 30)].count == 1  # the fourth post's bucket

    def test_per_watchlist_buckets_and_first_post_match_the_single_watchlist_answers(self, store: Store) -> None:
        store.upsert_posts([
            post("a", minutes=-30, watchlists=["acme"]),          # before the window: only first_post_time
            post("b", minutes=1, watchlists=["acme", "globex"]),
            post("c", minutes=7, watchlists=["globex"]),
            post("d", minutes=9, watchlists=["acme"]),
            post("e", minutes=3),                                 # no watchlist: counted nowhere
        ])
        start, end, size = T0, T0 + timedelta(minutes=12), timedelta(minutes=5)
        grouped = store.count_by_bucket_per_watchlist(["acme", "globex", "initech"], start, end, size)
        for name in ("acme", "globex", "initech"):
            single = store.count_by_bucket(PostFilter(watchlists=(name,)), start, end, size)
            assert grouped[name] == single
        assert [b.count for b in grouped["acme"]] == [1, 1, 0] and [b.count for b in grouped["globex"]] == [1, 1, 0]
        assert store.first_post_time("acme", T0 + timedelta(hours=1)) == T0 - timedelta(minutes=30)
        assert store.first_post_time("acme", T0 - timedelta(minutes=30)) is None      # ``until`` is exclusive
        assert store.first_post_time("globex", T0 + timedelta(hours=1)) == T0 + timedelta(minutes=1)
        assert store.first_post_time("initech", T0 + timedelta(hours=1)) is None
        assert store.first_post_time(None, T0 + timedelta(hours=1)) == T0 - timedelta(minutes=30)

    def test_count_by_bucket_last_bucket_may_be_partial(self, store: Store) -> None:
        store.upsert_posts([post("a", minutes=11), post("b", minutes=13)])
        buckets = store.count_by_bucket(ANY, T0, T0 + timedelta(minutes=12), timedelta(minutes=5))
        assert [b.count for b in buckets] == [0, 0, 1]

    def test_count_by_bucket_applies_filter_and_its_own_time_bounds(self, varied: Store) -> None:
        flt = PostFilter(watchlists=("acme", "globex"), sentiments=("negative",))
        buckets = varied.count_by_bucket(flt, T0 - timedelta(minutes=10), T0 + timedelta(minutes=10),
                                         timedelta(minutes=10))
        assert [b.count for b in buckets] == [0, 2]
        narrower = flt.narrow(until=T0)
        assert [b.count for b in varied.count_by_bucket(narrower, T0 - timedelta(minutes=10),
                                                        T0 + timedelta(minutes=10), timedelta(minutes=10))] == [0, 0]

    def test_count_by_bucket_reads_naive_and_zoned_bounds_as_utc(self, store: Store) -> None:
        store.upsert_posts([post("a", minutes=30)])
        naive = store.count_by_bucket(ANY, datetime(2026, 3, 1, 8, 0), datetime(2026, 3, 1, 9, 0), timedelta(hours=1))
        zoned_start = datetime(2026, 3, 1, 16, 0, tzinfo=timezone(timedelta(hours=8)))
        zoned = store.count_by_bucket(ANY, zoned_start, zoned_start + timedelta(hours=1), timedelta(hours=1))
        assert [b.count for b in naive] == [1] == [b.count for b in zoned]
        assert naive[0].start == T0 == zoned[0].start

    def test_share_of_negative_within_a_watchlist(self, varied: Store) -> None:
        share = varied.share(PostFilter(sentiments=("negative",)), PostFilter(watchlists=("acme",)))
        assert (share.part, share.whole) == (1, 2) and share.ratio == 0.5
        empty = varied.share(PostFilter(sentiments=("negative",)), PostFilter(watchlists=("nobody",)))
        assert (empty.part, empty.whole, empty.ratio) == (0, 0, None)

    def test_count_by_field(self, varied: Store) -> None:
        as_dict = lambda rows: {r.term: r.count for r in rows}  # noqa: E731
        assert as_dict(varied.count_by_field("source")) == {"weibo": 2, "reddit": 1, "mastodon": 1}
        assert varied.count_by_field("source")[0].term == "weibo"
        assert as_dict(varied.count_by_field("sentiment")) == {"negative": 2, "positive": 1, "none": 1}
        assert as_dict(varied.count_by_field("watchlist")) == {"acme": 2, "globex": 2, "none": 1}
        assert as_dict(varied.count_by_field("topic_id")) == {"1": 1, "2": 1, "-1": 1, "none": 1}
        assert as_dict(varied.count_by_field("language")) == {"zh": 1, "en": 2, "none": 1}
        assert as_dict(varied.count_by_field("emotion", PostFilter(sources=("weibo",)))) == {"anger": 1, "joy": 1}
        assert len(varied.count_by_field("source", limit=1)) == 1
        with pytest.raises(ValueError):
            varied.count_by_field("no_such_field")

    # ---- terms and top posts ---------------------------------------------------------
    def test_top_terms_count_posts_and_follow_the_filter(self, store: Store) -> None:
        store.upsert_posts([
            post("1", "奶粉召回 奶粉召回 recall recall", watchlists=["acme"]),
            post("2", "奶粉召回，recall", watchlists=["acme"]),
            post("3", "奶粉 shipping delay", watchlists=["acme"]),
            post("4", "shipping shipping shipping", watchlists=["other"]),
        ])
        counts = {t.term: t.count for t in store.top_terms(PostFilter(watchlists=("acme",)))}
        assert counts["奶粉"] == 3 and counts["召回"] == 2 and counts["recall"] == 2 and counts["shipping"] == 1
        ordered = [t.count for t in store.top_terms(PostFilter(watchlists=("acme",)))]
        assert ordered == sorted(ordered, reverse=True)
        assert store.top_terms(PostFilter(watchlists=("acme",)), limit=1)[0].term == "奶粉"
        assert store.top_terms(PostFilter(watchlists=("nobody",))) == []

    def test_top_posts_orders(self, store: Store) -> None:
        store.upsert_posts([
            post("a", minutes=3, likes=10, shares=0, followers=5),
            post("b", minutes=1, likes=1, shares=1, replies=1, followers=900),
            post("c", minutes=2, likes=5, shares=5, followers=None),
            post("d", minutes=0, likes=None, followers=900),
        ])
        assert ids(store.top_posts(ANY, "engagement")) == ["weibo:a", "weibo:c", "weibo:b", "weibo:d"]
        assert ids(store.top_posts(ANY, "reach")) == ["weibo:b", "weibo:d", "weibo:a", "weibo:c"]
        assert ids(store.top_posts(ANY, "created_at", limit=2)) == ["weibo:d", "weibo:b"]
        assert ids(store.first_posts(ANY, limit=1)) == ["weibo:d"]
        assert ids(store.search(ANY, limit=3)) == ["weibo:a", "weibo:c", "weibo:b"]

    def test_iter_posts_yields_everything_oldest_first(self, store: Store) -> None:
        store.upsert_posts([post(f"{i:04d}", source="weibo" if i % 3 else "reddit", minutes=-i) for i in range(250)])
        everything = list(store.iter_posts(batch_size=40))
        assert len(everything) == 250 and everything[0].id.endswith("0249")
        assert [p.created_at for p in everything] == sorted(p.created_at for p in everything)
        assert len(list(store.iter_posts(PostFilter(sources=("reddit",)), batch_size=7))) == 84

    def test_delete_posts_removes_them_everywhere(self, store: Store) -> None:
        store.upsert_posts([post("old", "stale recall", minutes=-600, watchlists=["acme"]),
                            post("new", "fresh news", minutes=0, watchlists=["acme"])])
        store.update_enrichments([enrichment("weibo:old")])
        assert store.delete_posts(PostFilter(until=T0 - timedelta(hours=1))) == 1
        assert store.get_posts(["weibo:old"]) == [] and store.get_enrichments(["weibo:old"]) == {}
        assert store.count_posts(PostFilter(text="recall")) == 0
        assert store.count_posts(PostFilter(watchlists=("acme",))) == 1
        assert "stale" not in {t.term for t in store.top_terms(ANY)}
        store.upsert_posts([post("old", "stale recall", minutes=-600)])  # can come back
        assert store.count_posts() == 2 and store.get_enrichments(["weibo:old"]) == {}

    # ---- crawl state ---------------------------------------------------------------
    def test_cursors_per_source_and_key(self, store: Store) -> None:
        assert store.get_cursor("weibo") is None
        store.set_cursor("weibo", "100")
        store.set_cursor("weibo", "abc", key="#召回")
        store.set_cursor("weibo", "101")
        assert store.get_cursor("weibo") == "101" and store.get_cursor("weibo", key="#召回") == "abc"
        assert store.get_cursor("reddit") is None

    def test_crawl_history_newest_first(self, store: Store) -> None:
        runs = [CrawlHealth(source=s, started_at=T0 + timedelta(minutes=m), finished_at=T0 + timedelta(minutes=m, seconds=30),
                            pages=2, items=m, errors=m % 2, newest_post_at=T0, status="partial" if m % 2 else "ok")
                for s, m in [("weibo", 0), ("reddit", 5), ("weibo", 10), ("weibo", 20)]]
        for run in runs:
            store.record_crawl(run)
        assert store.crawl_history() == [runs[3], runs[2], runs[1], runs[0]]
        assert store.crawl_history("weibo", limit=2) == [runs[3], runs[2]]
        assert store.crawl_history("nobody") == []

    # ---- incidents -----------------------------------------------------------------
    def test_incident_round_trip_with_timeline_and_notifications(self, store: Store) -> None:
        original = incident("a1b2c3d4")
        store.save_incident(original)
        assert store.get_incident("a1b2c3d4") == original
        changed = original.model_copy(update={"state": IncidentState.acknowledged, "assignee": "li.wei",
                                              "events": [*original.events, IncidentEvent(kind="note", message="疑似批次問題")]})
        store.save_incident(changed)
        assert store.get_incident("a1b2c3d4") == changed
        assert len(store.list_incidents()) == 1

    def test_get_incident_by_unique_prefix(self, store: Store) -> None:
        store.save_incident(incident("a1b2c3d4"))
        store.save_incident(incident("a1ff0000", fingerprint="other|acme|"))
        assert store.get_incident("a1b").id == "a1b2c3d4"
        assert store.get_incident("zz") is None
        with pytest.raises(StoreError, match="a1b2c3d4"):
            store.get_incident("a1")

    def test_find_incident_by_fingerprint(self, store: Store) -> None:
        store.save_incident(incident("old", state=IncidentState.resolved, opened_minutes=0))
        assert store.find_incident("spike|acme|") is None
        assert store.find_incident("spike|acme|", include_resolved=True).id == "old"
        store.save_incident(incident("new", opened_minutes=60))
        assert store.find_incident("spike|acme|").id == "new"
        assert store.find_incident("nothing|") is None

    def test_list_incidents_by_state_and_time(self, store: Store) -> None:
        store.save_incident(incident("i1", fingerprint="f1", updated_minutes=10))
        store.save_incident(incident("i2", fingerprint="f2", state=IncidentState.resolved, updated_minutes=30))
        store.save_incident(incident("i3", fingerprint="f3", state=IncidentState.acknowledged, updated_minutes=20))
        assert [i.id for i in store.list_incidents()] == ["i2", "i3", "i1"]
        assert [i.id for i in store.list_incidents(states=["open", "acknowledged"])] == ["i3", "i1"]
        assert [i.id for i in store.list_incidents(since=T0 + timedelta(minutes=20))] == ["i2", "i3"]
        assert store.list_incidents(states=[]) == []
        assert len(store.list_incidents(limit=1)) == 1

    def test_saving_a_stale_copy_is_refused_and_keeps_the_other_write(self, store: Store) -> None:
        store.save_incident(incident("a1b2c3d4"))
        deliverer, person = store.get_incident("a1b2c3d4"), store.get_incident("a1b2c3d4")
        person.state, person.acknowledged_by = IncidentState.acknowledged, "li.wei"
        person.events.append(IncidentEvent(kind="acknowledged", actor="li.wei"))
        store.save_incident(person)
        deliverer.notifications[0].status = "failed"
        with pytest.raises(IncidentConflict):
            store.save_incident(deliverer)  # read before the acknowledgement: must not erase it
        saved = store.get_incident("a1b2c3d4")
        assert saved.acknowledged_by == "li.wei" and saved.events[-1].kind == "acknowledged"
        saved.notifications[0].status = "failed"  # re-read and re-applied: accepted
        store.save_incident(saved)
        assert store.get_incident("a1b2c3d4").notifications[0].status == "failed"

    def test_creating_an_incident_whose_id_exists_is_refused(self, store: Store) -> None:
        store.save_incident(incident("a1b2c3d4"))
        with pytest.raises(IncidentConflict):
            store.save_incident(incident("a1b2c3d4"))
        assert len(store.list_incidents()) == 1

    def test_one_open_incident_per_fingerprint(self, store: Store) -> None:
        first = incident("first")
        store.save_incident(first)
        with pytest.raises(FingerprintTaken) as taken:
            store.save_incident(incident("second", opened_minutes=1))
        assert taken.value.holder == "first"
        assert [i.id for i in store.list_incidents(states=None)] == ["first"]
        first.state = IncidentState.resolved
        store.save_incident(first)
        second = incident("second", opened_minutes=60)
        store.save_incident(second)  # the fingerprint is free once the first is resolved
        first.state = IncidentState.open
        with pytest.raises(FingerprintTaken):
            store.save_incident(first)  # and cannot be reopened while the second is open
        assert store.find_incident("spike|acme|").id == "second"

    # ---- the team's labels --------------------------------------------------------------
    def test_team_labels_newest_wins_and_filter_by_task(self, store: Store) -> None:
        from crisiswatch.core.store.base import TeamLabel

        assert store.get_labels() == []
        t1 = datetime(2026, 3, 1, 8, tzinfo=timezone.utc)
        assert store.save_labels([TeamLabel("weibo:2", "sentiment", "negative", "import", t1),
                                  TeamLabel("weibo:1", "sentiment", "neutral", "import", t1),
                                  TeamLabel("weibo:1", "category", "price", "console", t1)]) == 3
        store.save_labels([TeamLabel("weibo:1", "sentiment", "positive", "console", t1 + timedelta(hours=1))])
        sentiment = store.get_labels("sentiment")
        assert [(l.post_id, l.label, l.source) for l in sentiment] == [("weibo:1", "positive", "console"),
                                                                       ("weibo:2", "negative", "import")]
        assert sentiment[0].labelled_at == t1 + timedelta(hours=1)
        assert [(l.post_id, l.task) for l in store.get_labels()] == [("weibo:1", "category"), ("weibo:1", "sentiment"),
                                                                     ("weibo:2", "sentiment")]

    # ---- key/value state -------------------------------------------------------------
    def test_state_set_get_delete(self, store: Store) -> None:
        assert store.get_state("baseline:acme") is None
        store.set_state("baseline:acme", '{"median": 3}')
        store.set_state("baseline:acme", '{"median": 4}')
        assert store.get_state("baseline:acme") == '{"median": 4}'
        store.set_state("baseline:acme", None)
        assert store.get_state("baseline:acme") is None

    def test_update_state_reads_changes_and_deletes_in_one_step(self, store: Store) -> None:
        seen: list[str | None] = []

        def bump(current: str | None) -> str:
            seen.append(current)
            return str(int(current or 0) + 1)

        assert store.update_state("counter:x", bump) == "1"
        assert store.update_state("counter:x", bump) == "2"
        assert seen == [None, "1"] and store.get_state("counter:x") == "2"
        assert store.update_state("counter:x", lambda current: None) is None
        assert store.get_state("counter:x") is None
        assert store.update_state("counter:never", lambda current: None) is None
