"""enrich_store on the real SQLite store, topics (BERTopic) and nlp train, with tiny models."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from crisiswatch.core.store.sqlite import SqliteStore
from nlp import labels as label_sets
from nlp.enrich import enrich, enrich_store
from nlp.heads import LinearHead
from nlp.paths import state_dir
from nlp.topics import TopicModel
from nlp.train import TrainingDataError, read_labelled, train
from tests.nlp.conftest import make_posts

STORIES = {
    "outage": ["app down again cannot login", "login error app outage today", "the app crashed outage login fails"],
    "food": ["milk powder recall contaminated", "contaminated milk recall babies sick", "recall of milk powder batch"],
    "奶粉": ["奶粉 召回 污染 宝宝", "宝宝 喝了 奶粉 腹泻 召回", "这批 奶粉 污染 必须 召回"],
}


def _story_posts(n_per_story: int = 20):
    rng = random.Random(3)
    texts = []
    for story, variants in STORIES.items():
        for i in range(n_per_story):
            words = rng.choice(variants).split()
            rng.shuffle(words)
            texts.append(" ".join(words) + f" {story}{i % 4}")
    return make_posts(texts)


def test_enrich_store_enriches_every_post_once_and_keeps_duplicate_groups(tiny_config, tmp_path):
    store = SqliteStore(tmp_path / "store.db")
    store.setup()
    original = "Boycott SkyJet now, they cancelled 300 flights and refuse refunds"
    posts = make_posts(["first post about delays", original, "", "服务太差"], "s1")
    store.upsert_posts(posts)
    seen = []
    assert enrich_store(store, tiny_config, batch_size=2, progress=seen.append) == 4
    assert sum(seen) == 4
    assert enrich_store(store, tiny_config) == 0  # nothing left
    stored = store.get_enrichments([p.id for p in posts])
    assert stored[posts[2].id].skipped_reason == "empty text"
    assert stored[posts[1].id].duplicate_group is None
    store.upsert_posts(make_posts(["RT: Boycott SkyJet now, they cancelled 300 flights and refuse refunds!"], "s2"))
    assert enrich_store(store, tiny_config) == 1
    stored = store.get_enrichments([posts[1].id, "s2:0"])
    assert stored[posts[1].id].duplicate_group is not None  # the original joined the repost's group
    assert stored[posts[1].id].duplicate_group == stored["s2:0"].duplicate_group
    store.close()


def test_topics_fit_persist_and_assign_new_posts(tiny_config, tmp_path):
    config = tiny_config.model_copy(update={"models": tiny_config.models.model_copy(update={"topics": True})})
    store = SqliteStore(tmp_path / "store.db")
    store.setup()
    store.upsert_posts(_story_posts())
    assert enrich_store(store, config) == 60
    model = TopicModel.load(state_dir(config) / "topics")
    assert model is not None and model.version.startswith("bertopic@")
    enrichments = store.get_enrichments([f"test:{i}" for i in range(60)])
    assert all(e.topic_id is not None and e.models.get("topics") == model.version for e in enrichments.values())
    keywords = {word for topic in model.model.get_topics() if topic >= 0 for word in model.keywords(topic)}
    assert {"召回", "奶粉"} & keywords, keywords  # Chinese keywords survive (jieba words, not stripped)
    later = enrich(make_posts(["the app is down, login outage again"], "new"), config)
    assert later[0].topic_id is not None and later[0].models["topics"] == model.version
    if later[0].topic_id >= 0:
        assert later[0].topic_keywords == model.keywords(later[0].topic_id)
    store.close()


def _write_csv(path, rows):
    import csv

    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(rows)
    return path


def test_train_holds_out_a_split_reports_per_class_and_saves_a_usable_head(tiny_config, tmp_path):
    rows = [(f"refund money price fee {i}", "billing") for i in range(15)] + \
           [(f"网络 断网 没信号 {i}", "network") for i in range(15)] + [(f"", "billing")]
    report = train("category", _write_csv(tmp_path / "mine.csv", rows), tmp_path / "head", tiny_config)
    assert report.n_test == 6 and report.n_train == 24 and report.skipped == 1
    assert set(report.per_class) == {"billing", "network"}
    assert "macro_f1=" in report.table()
    head = LinearHead.load(tmp_path / "head")
    assert head.labels == ["billing", "network"] and head.info["held_out"]["n"] == 6
    models = tiny_config.models.model_copy(update={"category": tiny_config.models.category.model_copy(
        update={"model": str(tmp_path / "head")})})
    result = enrich(make_posts(["price too high"]), tiny_config.model_copy(update={"models": models}))
    assert result[0].category in {"billing", "network"}


def test_training_data_errors_name_the_line(tmp_path):
    bad_label = _write_csv(tmp_path / "bad.csv", [("good", "positive"), ("bad", "furious")])
    with pytest.raises(TrainingDataError, match=r"bad.csv:3: label 'furious'"):
        read_labelled(bad_label, "sentiment")
    no_text = tmp_path / "no_text.csv"
    no_text.write_text("body,label\nx,positive\n", encoding="utf-8")
    with pytest.raises(TrainingDataError, match="needs a text column"):
        read_labelled(no_text, "sentiment")
    broken = tmp_path / "broken.jsonl"
    broken.write_text(json.dumps({"text": "ok", "label": "neg"}) + "\n{not json\n", encoding="utf-8")
    with pytest.raises(TrainingDataError, match=r"broken.jsonl:2: not valid JSON"):
        read_labelled(broken, "sentiment")
    pairs, skipped = read_labelled(tmp_path / "broken.jsonl" if False else _jsonl(tmp_path), "emotion")
    assert pairs == [("so angry", "anger"), ("lovely", "joy")] and skipped == 1
    assert label_sets.canonical_label("Optimism", label_sets.EMOTIONS) == "joy"


def _jsonl(tmp_path):
    path = tmp_path / "ok.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in [{"text": "so angry", "label": "Anger"},
                                                      {"content": "lovely", "emotion": "happiness"},
                                                      {"text": "", "label": "joy"}]), encoding="utf-8")
    return path


def test_a_repeat_of_a_fitted_post_lands_in_that_posts_topic(tiny_config):
    from nlp import registry

    posts = _story_posts()
    texts = [p.text for p in posts]
    embeddings = registry.encoder_for(tiny_config.models.embeddings).encode(texts)
    model, assigned = TopicModel.fit(texts, embeddings)
    again = model.assign(texts, embeddings)
    clustered = [i for i, (topic, _) in enumerate(assigned) if topic >= 0]
    assert clustered, "the stories should form at least one topic"
    agree = np.mean([again[i][0] == assigned[i][0] for i in clustered])
    assert agree >= 0.9, agree
