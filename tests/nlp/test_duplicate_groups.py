"""The one near-duplicate group step: a repost in a later batch gives the earlier original
its group in the store, whoever stores the batch, and doing it again changes nothing."""

from __future__ import annotations

import pytest

from crisiswatch.core.store.sqlite import SqliteStore
from nlp.duplicates import apply_groups
from nlp.enrich import enrich, enrich_batch
from tests.nlp.conftest import make_posts

ORIGINAL = "Boycott SkyJet now, they cancelled 300 flights and refuse refunds"
REPOST = "RT: Boycott SkyJet now, they cancelled 300 flights and refuse refunds!"


@pytest.fixture
def store(tmp_path):
    store = SqliteStore(tmp_path / "store.db")
    store.setup()
    yield store
    store.close()


def _stored(store, post_ids):
    return {post_id: e.model_dump() for post_id, e in store.get_enrichments(post_ids).items()}


def test_later_batch_gives_the_earlier_post_the_group_and_applying_twice_changes_nothing(tiny_config, store):
    first = make_posts([ORIGINAL, "lovely weather in town today"], "s1")
    store.upsert_posts(first)
    enrich_batch(store, first, tiny_config)
    ids = [post.id for post in first]
    assert all(e["duplicate_group"] is None for e in _stored(store, ids).values())

    later = make_posts([REPOST], "s2")
    store.upsert_posts(later)
    regrouped: dict[str, str] = {}
    enrichments = enrich(later, tiny_config, duplicate_updates=regrouped)
    group = enrichments[0].duplicate_group
    assert group is not None and regrouped == {first[0].id: group}
    store.update_enrichments(enrichments)

    assert apply_groups(store, regrouped) == 1
    after_once = _stored(store, ids + ["s2:0"])
    assert after_once[first[0].id]["duplicate_group"] == group == after_once["s2:0"]["duplicate_group"]
    assert after_once[first[1].id]["duplicate_group"] is None  # the unrelated post keeps no group

    assert apply_groups(store, regrouped) == 0
    assert _stored(store, ids + ["s2:0"]) == after_once


def test_enrich_batch_applies_the_group_and_a_retried_batch_changes_nothing(tiny_config, store):
    first = make_posts([ORIGINAL], "s1")
    later = make_posts([REPOST], "s2")
    store.upsert_posts(first + later)
    enrich_batch(store, first, tiny_config)
    assert enrich_batch(store, later, tiny_config).written == 1
    ids = [first[0].id, later[0].id]
    after_once = _stored(store, ids)
    assert after_once[first[0].id]["duplicate_group"] is not None
    assert after_once[first[0].id]["duplicate_group"] == after_once[later[0].id]["duplicate_group"]

    enrich_batch(store, later, tiny_config)  # an Airflow retry of the same batch
    again = _stored(store, ids)
    strip = lambda stored: {k: {f: v for f, v in e.items() if f != "enriched_at"} for k, e in stored.items()}  # noqa: E731
    assert strip(again) == strip(after_once)
    assert again[first[0].id] == after_once[first[0].id]  # the original is not even rewritten


def test_groups_for_posts_without_a_stored_enrichment_are_left_for_later(store):
    assert apply_groups(store, {"nowhere:1": "dup-abc"}) == 0
    assert apply_groups(store, {}) == 0


def test_signatures_match_those_of_indexes_saved_by_earlier_versions():
    """The permutations are drawn once per process now; a post must still get the signature an
    index saved before that change holds, or a repost after an upgrade would not find its original."""
    from datasketch import MinHash

    from nlp.duplicates import NUM_PERM, DuplicateIndex, shingles

    grams = shingles("Boycott SkyJet now, they cancelled 300 flights and refuse refunds")
    earlier = MinHash(num_perm=NUM_PERM, seed=1)
    earlier.update_batch([gram.encode("utf-8") for gram in grams])
    assert (DuplicateIndex._minhash(grams).hashvalues == earlier.hashvalues).all()
