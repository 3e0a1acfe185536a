"""Topic clusters with BERTopic on crisiswatch's own embeddings.

BERTopic gets the embeddings the heads already computed (no second encoder), and a
vectorizer whose analyzer cuts Chinese with jieba and uses the stop words and width/case
normalisation of ``crisiswatch.core.text``, so keywords look like the terms elsewhere in the
product (but keep repetitions, which c-TF-IDF counts). The fitted model is saved
under ``<data_dir>/nlp/topics``; new posts are assigned to its topics with ``transform``
until maintenance refits it (``crisiswatch nlp topics --refit``).

New posts are assigned by their nearest fitted posts in the embedding space (a similarity-
weighted vote of the ``NEIGHBOURS`` closest, outliers included), not by BERTopic's
``transform``: that runs UMAP's transform, which on a fit set this size compares every new
post with every fitted one through a Python-level distance callback and JIT-compiles numba
code in each new process, and it took a third of the whole enrichment time on real posts
(profiled; ``bench/nlp_throughput.py``). UMAP's transform places a new post among its nearest
fitted neighbours anyway; the vote reads those neighbours directly, one matrix product per
batch. A model saved without its fitted embeddings (older versions) still uses ``transform``.
"""

from __future__ import annotations

import functools
import json
import logging
import pickle
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from crisiswatch.core.text import STOPWORDS, normalize_width_case
from nlp.textprep import strip_links_and_mentions

log = logging.getLogger(__name__)

MIN_DOCS = 30
"""Fewer documents than this give no meaningful clusters (and UMAP needs a neighbourhood)."""
KEYWORDS = 8
NEIGHBOURS = 15
"""Fitted posts that vote on a new post's topic (UMAP's own neighbourhood size in ``_bertopic``)."""
NEIGHBOURS_FILE = "neighbours.npz"


_RUNS = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+|[^\W\d_\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]{2,}")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


@functools.lru_cache(maxsize=1)
def _jieba():
    import jieba

    jieba.setLogLevel(logging.WARNING)
    return jieba


def _analyzer(text: str) -> list[str]:
    """Every term occurrence (c-TF-IDF needs counts): Latin words and jieba words of Chinese
    runs, with the stop words and normalisation of ``crisiswatch.core.text``, links removed."""
    body = normalize_width_case(strip_links_and_mentions(text))
    tokens: list[str] = []
    for run in _RUNS.findall(body):
        if _CJK.match(run):
            tokens.extend(word for word in _jieba().lcut(run, HMM=False) if len(word) >= 2)
        else:
            tokens.append(run)
    return [token for token in tokens if token not in STOPWORDS]


def _bertopic(n_docs: int):
    from bertopic import BERTopic
    from hdbscan import HDBSCAN
    from sklearn.feature_extraction.text import CountVectorizer
    from umap import UMAP

    return BERTopic(
        embedding_model=None,
        umap_model=UMAP(n_neighbors=min(15, n_docs - 1), n_components=5, min_dist=0.0, metric="cosine",
                        random_state=42),
        hdbscan_model=HDBSCAN(min_cluster_size=max(5, n_docs // 100), metric="euclidean",
                              cluster_selection_method="eom", prediction_data=True),
        vectorizer_model=CountVectorizer(analyzer=_analyzer),
        language="multilingual",  # "english" would strip every non-ASCII character before c-TF-IDF
        top_n_words=KEYWORDS, calculate_probabilities=False, verbose=False)


@dataclass
class TopicModel:
    model: object
    version: str
    """``bertopic@<library version>:<fit time>`` — recorded in every enrichment it assigns."""
    fitted_embeddings: np.ndarray | None = None
    """(n, dim) unit rows of the posts the model was fitted on (float16 on disk)."""
    fitted_topics: np.ndarray | None = None
    """(n,) the topic BERTopic gave each of them (-1: outlier)."""

    def keywords(self, topic_id: int) -> list[str]:
        if topic_id < 0:
            return []
        words = self.model.get_topic(topic_id) or []
        return [word for word, _ in words[:KEYWORDS] if word]

    def assign(self, texts: list[str], embeddings: np.ndarray) -> list[tuple[int, list[str]]]:
        if not texts:
            return []
        if self.fitted_embeddings is None:
            topics, _ = self.model.transform(texts, embeddings=embeddings)
        else:
            topics = self.nearest_topics(embeddings)
        return [(int(topic), self.keywords(int(topic))) for topic in topics]

    def nearest_topics(self, embeddings: np.ndarray) -> np.ndarray:
        """The topic with the largest summed cosine similarity among each row's nearest fitted posts."""
        fitted = self.fitted_embeddings.astype(np.float32)
        similarity = np.asarray(embeddings, dtype=np.float32) @ fitted.T  # (batch, n_fitted)
        k = min(NEIGHBOURS, fitted.shape[0])
        nearest = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
        weights = np.clip(np.take_along_axis(similarity, nearest, axis=1), 0.0, None)
        ids, columns = np.unique(self.fitted_topics, return_inverse=True)
        votes = np.zeros((len(similarity), len(ids)), dtype=np.float32)
        np.add.at(votes, (np.arange(len(similarity))[:, None], columns[nearest]), weights)
        return ids[votes.argmax(axis=1)]

    @classmethod
    def fit(cls, texts: list[str], embeddings: np.ndarray) -> tuple["TopicModel", list[tuple[int, list[str]]]]:
        """Fit on ``texts`` and return the model with the documents' own topics."""
        import bertopic

        if len(texts) < MIN_DOCS:
            raise ValueError(f"topics need at least {MIN_DOCS} posts with text, got {len(texts)}")
        model = _bertopic(len(texts))
        topics, _ = model.fit_transform(texts, embeddings=embeddings)
        version = f"bertopic@{bertopic.__version__}:{datetime.now(timezone.utc):%Y%m%dT%H%M%S}"
        fitted = cls(model, version, np.asarray(embeddings, dtype=np.float16), np.asarray(topics, dtype=np.int32))
        return fitted, [(int(topic), fitted.keywords(int(topic))) for topic in topics]

    # -- persistence -------------------------------------------------------------------
    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        tmp = directory / "model.pkl.tmp"
        with open(tmp, "wb") as handle:
            pickle.dump(self.model, handle, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(directory / "model.pkl")
        if self.fitted_embeddings is not None:
            with open(directory / (NEIGHBOURS_FILE + ".tmp"), "wb") as handle:
                np.savez(handle, embeddings=self.fitted_embeddings.astype(np.float16), topics=self.fitted_topics)
            (directory / (NEIGHBOURS_FILE + ".tmp")).replace(directory / NEIGHBOURS_FILE)
        topics = {str(t): self.keywords(t) for t in sorted(self.model.get_topics()) if t >= 0}
        (directory / "meta.json").write_text(json.dumps({"version": self.version, "topics": topics},
                                                        ensure_ascii=False, indent=1), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> "TopicModel | None":
        """The saved model, unpickled once per process and again only when a refit replaced it."""
        try:
            stamp = (directory / "meta.json").stat().st_mtime_ns
        except FileNotFoundError:
            return None
        key = str(directory)
        cached = _LOADED.get(key)
        if cached is None or cached[0] != stamp:
            try:
                cached = (stamp, cls._read(directory))
            except FileNotFoundError:
                return None
            _LOADED[key] = cached
        return cached[1]

    @classmethod
    def _read(cls, directory: Path) -> "TopicModel":
        meta = json.loads((directory / "meta.json").read_text(encoding="utf-8"))
        with open(directory / "model.pkl", "rb") as handle:
            model = pickle.load(handle)
        try:
            with np.load(directory / NEIGHBOURS_FILE) as saved:
                return cls(model, meta["version"], saved["embeddings"], saved["topics"])
        except FileNotFoundError:
            return cls(model, meta["version"])


_LOADED: dict[str, tuple[int, TopicModel]] = {}


def refresh(store, config, limit: int = 5000) -> dict:
    """Refit the topic model on the newest ``limit`` enriched posts and update their topics.

    Maintenance runs this (Airflow ``maintenance`` DAG, ``crisiswatch nlp topics --refit``)
    so that new stories get topics of their own; between refits new posts are assigned to
    the saved model's topics by ``enrich``.
    """
    from crisiswatch.core.store.base import PostFilter
    from nlp.encoder import encoder_for
    from nlp.paths import topics_dir
    from nlp.textprep import clean, model_text, skip_reason

    posts = store.search(PostFilter(), limit=limit)
    enrichments = store.get_enrichments([post.id for post in posts])
    usable = [(post, enrichments[post.id]) for post in posts
              if post.id in enrichments and not enrichments[post.id].skipped_reason]
    texts = [model_text(clean(post.text, post.title)) for post, _ in usable]
    usable = [(pair, text) for pair, text in zip(usable, texts) if not skip_reason(text)]
    if len(usable) < MIN_DOCS:
        return {"fitted": False, "posts": len(usable), "reason": f"fewer than {MIN_DOCS} enriched posts with text"}
    texts = [text for _, text in usable]
    embeddings = encoder_for(config.models.embeddings).encode(texts)
    model, assigned = TopicModel.fit(texts, embeddings)
    model.save(topics_dir(config))
    updated = []
    for ((_, enrichment), _), (topic_id, keywords) in zip(usable, assigned):
        models = dict(enrichment.models, topics=model.version)
        updated.append(enrichment.model_copy(update={"topic_id": topic_id, "topic_keywords": keywords,
                                                     "models": models}))
    store.update_enrichments(updated)
    n_topics = len({topic for topic, _ in assigned if topic >= 0})
    log.info("topic model %s: %d topics over %d posts", model.version, n_topics, len(texts))
    return {"fitted": True, "posts": len(texts), "topics": n_topics, "version": model.version}
