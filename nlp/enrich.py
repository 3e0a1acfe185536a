"""``enrich(posts)``: every NLP result for a batch of posts, from one encoder pass;
``enrich_batch`` and ``enrich_store`` put them in a store.

This module is nlp's public entry point (the package ``nlp`` re-exports nothing; its
docstring says why): ``from nlp.enrich import enrich, enrich_batch, enrich_store``.

Flow per batch: clean each post (surrogates, control characters, length) -> language ->
skip the ones with nothing to analyse (with the reason) -> Traditional to Simplified ->
identical texts collapse to one -> one embedding pass (sorted by length, batched, under
``torch.inference_mode``) -> every head reads it (transformers classifiers configured
instead run their own pass) -> topics (assign to the saved BERTopic model) and near-
duplicate groups (MinHash LSH index kept on disk). Results depend only on the post and
the models, so enriching twice gives the same answer.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from crisiswatch.core.config import Config, load_config
from crisiswatch.core.model import Enrichment, Post, Sentiment
from nlp import language, registry
from nlp.duplicates import DuplicateIndex, apply_groups
from nlp.paths import duplicate_index_path, topics_dir
from nlp.textprep import clean, model_text, skip_reason
from nlp.topics import TopicModel

if TYPE_CHECKING:
    from crisiswatch.core.store.base import Store, WriteResult

log = logging.getLogger(__name__)
_STATE_LOCK = threading.Lock()


def _lingua_version() -> str:
    from importlib.metadata import version

    try:
        return f"lingua@{version('lingua-language-detector')}"
    except Exception:  # noqa: BLE001
        return "lingua"


def _datasketch_version() -> str:
    from importlib.metadata import version

    return f"datasketch-minhash@{version('datasketch')}"


def _sentiment_score(labels: list[str], probs: np.ndarray) -> float:
    positive = probs[labels.index("positive")] if "positive" in labels else 0.0
    negative = probs[labels.index("negative")] if "negative" in labels else 0.0
    return float(np.clip(positive - negative, -1.0, 1.0))


def _prior_tasks() -> tuple[str, ...]:
    """Heads whose class priors are re-estimated on the stream (``nlp.priors``), named in
    ``CRISISWATCH_STREAM_PRIORS`` (e.g. ``emotion``). Off by default: measured on the dev sets,
    EM on the shipped heads' posteriors (not calibrated enough: trained on a few hundred
    written posts) drifts to one class and lowers macro-F1 everywhere (bench/nlp_quality.py)."""
    import os

    return tuple(t.strip() for t in os.environ.get("CRISISWATCH_STREAM_PRIORS", "").split(",") if t.strip())


def _team_or_configured(task: str, config: Config, encoder):
    """The team's current head (``crisiswatch nlp train`` on the team's labels) where the config
    keeps the built-in one; otherwise the configured model."""
    from nlp import team

    spec = getattr(config.models, task)
    if spec.model == f"builtin:{task}":
        current = team.current_head(config, task)
        if current is not None and current[0].encoder == encoder.name:
            return registry.HeadClassifier(*current)
    return registry.classifier_for(task, config.models, encoder)


def _stream_priors(config: Config, task: str, classifier, prediction):
    from nlp.paths import state_dir
    from nlp.priors import correct_stream

    labels = prediction.labels
    train = np.asarray(classifier.head.info.get("train_priors") or [1.0 / len(labels)] * len(labels), dtype=float)
    probs, tag = correct_stream(state_dir(config) / "priors.json", task, classifier.model_id, labels,
                                prediction.probs, train, float(classifier.head.info.get("temperature", 1.0)))
    if tag is None:
        return prediction, classifier.model_id
    return registry.Prediction(labels, probs.astype(np.float32)), f"{classifier.model_id}+{tag}"


def enrich(posts: list[Post], config: Config | None = None, *, duplicate_updates: dict[str, str] | None = None
           ) -> list[Enrichment]:
    """Enrichments for ``posts`` in the same order (one per post, never raises for bad text).

    ``duplicate_updates`` (optional) receives earlier posts whose near-duplicate group was
    set because one of these posts repeats them; whoever stores the enrichments applies them
    with ``nlp.duplicates.apply_groups`` (``enrich_batch`` does both).
    """
    config = config or load_config()
    models = config.models
    if not posts:
        return []
    cleaned = [clean(post.text, post.title) for post in posts]
    reasons = [skip_reason(text) for text in cleaned]
    languages = language.detect_many(cleaned)
    provenance = {"language": _lingua_version()}

    # identical texts are computed once
    unique: dict[str, int] = {}
    row_of_post: list[int | None] = []
    for text, reason in zip(cleaned, reasons):
        if reason:
            row_of_post.append(None)
            continue
        prepared = model_text(text)
        row_of_post.append(unique.setdefault(prepared, len(unique)))
    texts = list(unique)

    results: dict[str, object] = {}
    embeddings = None
    if texts:
        encoder = registry.encoder_for(models.embeddings)
        classifiers = {task: _team_or_configured(task, config, encoder) for task in ("sentiment", "emotion", "category")}
        if models.topics or any(c.uses_embeddings for c in classifiers.values()):
            embeddings = encoder.encode(texts)
            provenance["embeddings"] = getattr(encoder, "provenance", encoder.name)
        for task, classifier in classifiers.items():
            results[task] = classifier.predict(texts, embeddings)
            provenance[task] = classifier.model_id
            if task in _prior_tasks() and isinstance(classifier, registry.HeadClassifier):
                results[task], provenance[task] = _stream_priors(config, task, classifier, results[task])

    topics: list[tuple[int, list[str]]] | None = None
    if texts and models.topics and embeddings is not None:
        topic_model = TopicModel.load(topics_dir(config))
        if topic_model is not None:
            topics = topic_model.assign(texts, embeddings)
            provenance["topics"] = topic_model.version

    with _STATE_LOCK:
        index_path = duplicate_index_path(config)
        index = DuplicateIndex.load_or_new(index_path, models.near_duplicates_threshold)
        groups, changed = index.assign([(post.id, text) for post, text in zip(posts, cleaned)])
        index.save(index_path)
    provenance["near_duplicates"] = _datasketch_version()
    if duplicate_updates is not None:
        duplicate_updates.update(changed)

    enrichments = []
    for post, reason, lang, row in zip(posts, reasons, languages, row_of_post):
        fields: dict[str, object] = {"post_id": post.id, "language": lang, "skipped_reason": reason,
                                     "duplicate_group": groups.get(post.id)}
        used = {"language": provenance["language"], "near_duplicates": provenance["near_duplicates"]}
        if row is not None:
            sentiment = results["sentiment"]
            probs = sentiment.probs[row]
            fields["sentiment"] = Sentiment(sentiment.labels[int(np.argmax(probs))])
            fields["sentiment_score"] = round(_sentiment_score(sentiment.labels, probs), 4)
            emotion = results["emotion"]
            fields["emotion"] = emotion.labels[int(np.argmax(emotion.probs[row]))]
            fields["emotion_scores"] = {label: round(float(p), 4) for label, p in zip(emotion.labels, emotion.probs[row])}
            category = results["category"]
            best = int(np.argmax(category.probs[row]))
            fields["category"] = category.labels[best]
            fields["category_score"] = round(float(np.clip(category.probs[row][best], 0.0, 1.0)), 4)
            if topics is not None:
                fields["topic_id"], fields["topic_keywords"] = topics[row]
            used.update({task: provenance[task] for task in ("sentiment", "emotion", "category", "embeddings",
                                                             "topics") if task in provenance})
        fields["models"] = used
        enrichments.append(Enrichment(**fields))
    return enrichments


def enrich_batch(store: "Store", posts: list[Post], config: Config) -> "WriteResult":
    """Enrich ``posts``, store their enrichments, and give earlier posts in ``store`` the
    near-duplicate group these posts put them in; returns the store's write result.

    The one way a batch goes into a store: ``enrich_store`` loops over it, and a caller that
    picks its own batches (the Airflow enrich DAG's mapped task) calls it directly, so the
    group update of earlier posts is never re-implemented. Idempotent like ``enrich``.
    """
    regrouped: dict[str, str] = {}
    result = store.update_enrichments(enrich(posts, config, duplicate_updates=regrouped))
    apply_groups(store, regrouped)
    return result


def enrich_store(store: "Store", config: Config, batch_size: int = 256, limit: int | None = None,
                 progress: Callable[[int], None] | None = None) -> int:
    """Enrich every post of ``store`` that has no enrichment yet; returns how many were enriched.

    Progress is kept batch by batch (a stop half-way loses nothing). When topics are on and
    no topic model exists yet, one is fitted on the enriched posts at the end.
    """
    done = 0
    while limit is None or done < limit:
        batch = next(iter(store.unenriched_batches(batch_size=batch_size)), [])
        if limit is not None:
            batch = batch[: limit - done]
        if not batch:
            break
        result = enrich_batch(store, batch, config)
        for failure in result.failed:
            log.warning("could not store the enrichment of %s: %s", failure.id, failure.reason)
        done += len(batch)
        if progress:
            progress(len(batch))
        if result.written == 0:
            break  # nothing could be stored: stop instead of looping over the same batch
    if done and config.models.topics and TopicModel.load(topics_dir(config)) is None:
        from nlp.topics import refresh

        refresh(store, config)
    return done
