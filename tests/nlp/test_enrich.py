"""nlp.enrich end to end with tiny transformer models: real tokenizer, real BertModel pass."""

from __future__ import annotations

import pytest

from crisiswatch.core.model import Enrichment
from nlp import labels as label_sets
from nlp import registry
from nlp.enrich import enrich
from tests.nlp.conftest import make_posts

BAD_INPUTS = ["", "😀😀😀", "https://example.com/x", "字" * 100_000, "bad \ud83d surrogate", "ctl\x00\x1b[31m red",
              "Mixed 中文 and English 混合", "\u202e reversed", " \n\t "]


def test_every_post_gets_an_enrichment_in_order(tiny_config):
    posts = make_posts(["服务太差了", "Great flight, thanks!", "這家餐廳很好"])
    enrichments = enrich(posts, tiny_config)
    assert [e.post_id for e in enrichments] == [p.id for p in posts]
    for enrichment in enrichments:
        assert enrichment.sentiment is not None and -1 <= enrichment.sentiment_score <= 1
        assert enrichment.emotion in label_sets.EMOTIONS
        assert set(enrichment.emotion_scores) == set(label_sets.EMOTIONS)
        assert abs(sum(enrichment.emotion_scores.values()) - 1) < 1e-3
        assert enrichment.category in label_sets.CATEGORY_DESCRIPTIONS and 0 <= enrichment.category_score <= 1
        assert enrichment.skipped_reason is None
        for task in ("language", "embeddings", "sentiment", "emotion", "category", "near_duplicates"):
            assert "@" in enrichment.models[task], task
    assert [e.language for e in enrichments] == ["zh", "en", "zh"]


def test_bad_input_never_crashes_and_says_why(tiny_config):
    posts = make_posts(BAD_INPUTS)
    enrichments = enrich(posts, tiny_config)
    by_text = dict(zip(BAD_INPUTS, enrichments))
    for text in ("", " \n\t "):
        assert by_text[text].skipped_reason == "empty text" and by_text[text].sentiment is None
    for text in ("😀😀😀", "https://example.com/x"):
        assert by_text[text].skipped_reason.startswith("no words") and by_text[text].language == "und"
    for text in ("字" * 100_000, "bad \ud83d surrogate", "ctl\x00\x1b[31m red", "Mixed 中文 and English 混合"):
        assert by_text[text].skipped_reason is None and by_text[text].sentiment is not None
    for enrichment in enrichments:  # every result is storable JSON
        Enrichment.model_validate_json(enrichment.model_dump_json())


def test_traditional_chinese_is_read_as_simplified(tiny_config):
    traditional, simplified = enrich(make_posts(["這家餐廳的服務很差，讓人失望", "这家餐厅的服务很差，让人失望"]),
                                     tiny_config)
    assert traditional.sentiment_score == simplified.sentiment_score
    assert traditional.emotion_scores == simplified.emotion_scores


def test_identical_texts_are_encoded_once_and_results_are_idempotent(tiny_config, monkeypatch):
    encoder = registry.encoder_for(tiny_config.models.embeddings)
    seen: list[list[str]] = []
    original = encoder.encode
    monkeypatch.setattr(encoder, "encode", lambda texts: seen.append(list(texts)) or original(texts))
    posts = make_posts(["Flight cancelled again", "Flight cancelled again", "Lovely crew", "Flight cancelled again"])
    first = enrich(posts, tiny_config)
    assert sorted(seen[0]) == ["Flight cancelled again", "Lovely crew"]
    assert first[0].sentiment_score == first[1].sentiment_score == first[3].sentiment_score
    second = enrich(posts, tiny_config)
    strip = lambda e: e.model_dump(exclude={"enriched_at"})  # noqa: E731
    assert [strip(e) for e in first] == [strip(e) for e in second]


def test_batching_does_not_change_results(tiny_config):
    texts = [f"post number {i} about {'delays' if i % 2 else '服务'} " + "word " * (i % 17) for i in range(40)]
    together = enrich(make_posts(texts), tiny_config)
    small_batches = tiny_config.model_copy(update={"models": tiny_config.models.model_copy(
        update={"embeddings": tiny_config.models.embeddings.model_copy(update={"batch_size": 3})})})
    registry.clear_cache()
    apart = enrich(make_posts(texts), small_batches)
    for a, b in zip(together, apart):
        assert a.sentiment == b.sentiment
        assert a.sentiment_score == pytest.approx(b.sentiment_score, abs=1e-3)


def test_near_duplicates_are_grouped_across_calls(tiny_config):
    campaign = "Boycott SkyJet! They cancelled 300 flights and refuse refunds #SkyJetFail"
    first = enrich(make_posts([campaign, "I love the new menu at the cafe", campaign.upper() + " !!!"], "a"),
                   tiny_config)
    assert first[0].duplicate_group is not None and first[0].duplicate_group == first[2].duplicate_group
    assert first[1].duplicate_group is None
    later = enrich(make_posts(["RT " + campaign + " https://t.co/abc"], "b"), tiny_config)
    assert later[0].duplicate_group == first[0].duplicate_group
    chinese = enrich(make_posts(["抵制某航空！取消三百个航班还拒绝退款，太过分了", "抵制某航空!取消三百個航班還拒絕退款,太過分了",
                                 "今天天气真好"], "c"), tiny_config)
    assert chinese[0].duplicate_group and chinese[0].duplicate_group == chinese[1].duplicate_group
    assert chinese[2].duplicate_group is None


def test_configured_categories_are_used_zero_shot(tiny_config, tiny_models):
    from crisiswatch.core.config import ModelSpec

    categories = {"billing": "wrong bill, overcharged; 账单错误", "network": "no signal, outage; 没信号，断网"}
    models = tiny_config.models.model_copy(update={"category": ModelSpec(model="builtin:category"),
                                                   "categories": categories})
    config = tiny_config.model_copy(update={"models": models})
    enrichments = enrich(make_posts(["My bill is wrong again", "没信号了"]), config)
    assert {e.category for e in enrichments} <= set(categories)
    assert enrichments[0].models["category"].startswith("zero-shot-category@")


def test_a_transformers_sequence_classifier_can_be_configured(tiny_config, tmp_path):
    from crisiswatch.core.config import ModelSpec
    from nlp.tiny import make_tiny_classifier

    path = make_tiny_classifier(tmp_path / "clf", ["NEG", "NEU", "POS"])
    models = tiny_config.models.model_copy(update={"sentiment": ModelSpec(model=str(path), device="cpu")})
    enrichments = enrich(make_posts(["good", "bad", "服务很好"]), tiny_config.model_copy(update={"models": models}))
    assert all(e.sentiment is not None for e in enrichments)
    assert enrichments[0].models["sentiment"].startswith("clf@")


def test_head_trained_on_another_encoder_is_refused(tiny_config, tmp_path):
    from crisiswatch.core.config import ModelSpec
    from nlp.heads import LinearHead
    import numpy as np

    LinearHead(task="sentiment", labels=label_sets.SENTIMENTS, encoder="some-other-encoder@1",
               weights=np.zeros((3, 32), np.float32), bias=np.zeros(3, np.float32)).save(tmp_path / "other")
    models = tiny_config.models.model_copy(update={"sentiment": ModelSpec(model=str(tmp_path / "other"))})
    with pytest.raises(registry.ModelError, match="trained on embeddings of 'some-other-encoder@1'"):
        enrich(make_posts(["hello there"]), tiny_config.model_copy(update={"models": models}))
