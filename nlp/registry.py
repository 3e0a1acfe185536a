"""From the ``models:`` config section to loaded models, once per process.

Each task names a model: ``builtin:...`` for the offline default, a directory written by
``crisiswatch nlp train`` (a head on the shared embedding), or any Hugging Face model id or
local transformers directory (a sequence classifier; an NLI model for zero-shot category).
Heads reuse the single embedding pass; transformers classifiers run their own pass.

The encoder itself is found by ``nlp.encoder`` (re-exported here: ``encoder_for``,
``builtin_encoder_dir``, ``BUILTIN_ENCODER``, ``ModelError``), so that the training of the
built-in heads (``nlp.builtin``), which this module calls when a shipped head is missing,
needs nothing from this module.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from crisiswatch.core.config import ModelsConfig, ModelSpec
from nlp import labels as label_sets
from nlp.encoder import (BUILTIN_ENCODER, ModelError, builtin_encoder_dir, builtin_encoder_name,
                         clear_encoder_cache, encoder_for, local_version, model_name)
from nlp.heads import HeadError, LinearHead, is_head_dir, zero_shot_head
from nlp.paths import BUILTIN_HEADS_DIR, models_dir

__all__ = ["BUILTIN_ENCODER", "ModelError", "builtin_encoder_dir", "builtin_encoder_name", "encoder_for",
           "classifier_for", "clear_cache", "Prediction", "HeadClassifier", "SequenceClassifier",
           "NliZeroShotClassifier"]

log = logging.getLogger(__name__)

_LOCK = threading.Lock()
TASK_LABELS = {"sentiment": label_sets.SENTIMENTS, "emotion": label_sets.EMOTIONS}
SENTIMENT_DESCRIPTIONS = {
    "negative": "negative, bad, angry complaint, disappointed; 差评，糟糕，投诉，失望，生气",
    "neutral": "neutral factual information, question or announcement; 客观陈述，询问，通知",
    "positive": "positive, good, happy, praise, thanks; 好评，满意，开心，感谢，赞",
}


# ---- classifiers ---------------------------------------------------------------------
@dataclass
class Prediction:
    labels: list[str]
    probs: np.ndarray  # (n, len(labels))


class HeadClassifier:
    """A head on the shared embedding (no extra encoder pass)."""

    uses_embeddings = True

    def __init__(self, head: LinearHead, model_id: str):
        self.head = head
        self.model_id = model_id
        self.labels = head.labels

    def predict(self, texts: list[str], embeddings: np.ndarray) -> Prediction:
        return Prediction(self.labels, self.head.predict_proba(embeddings, texts))


class SequenceClassifier:
    """Any transformers sequence-classification model, batched and sorted by length."""

    uses_embeddings = False

    def __init__(self, task: str, spec: ModelSpec, allowed: list[str]):
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        from nlp.encoder import pick_device, pick_dtype

        self.device = pick_device(spec.device)
        self.tokenizer = AutoTokenizer.from_pretrained(spec.model, revision=spec.revision)
        self.model = AutoModelForSequenceClassification.from_pretrained(spec.model, revision=spec.revision)
        self.model.to(device=self.device, dtype=pick_dtype(spec.dtype, self.device)).eval()
        self.batch_size, self.max_length = spec.batch_size, min(spec.max_length, self.tokenizer.model_max_length)
        names = spec.labels or [self.model.config.id2label[i] for i in range(self.model.config.num_labels)]
        self.raw_labels = names
        mapped = [label_sets.canonical_label(name, allowed) if allowed else name for name in names]
        if allowed and not any(mapped):
            raise ModelError(f"models.{task}: labels {names} of '{spec.model}' map to none of {allowed}; "
                             f"set models.{task}.labels")
        self.labels = [m or n for m, n in zip(mapped, names)]
        self.model_id = model_name(spec.model, spec.revision)
        self._torch = torch

    def predict(self, texts: list[str], embeddings: np.ndarray | None = None) -> Prediction:
        torch = self._torch
        encoded = self.tokenizer(texts, truncation=True, max_length=self.max_length)["input_ids"]
        order = sorted(range(len(texts)), key=lambda i: len(encoded[i]))
        probs = np.zeros((len(texts), len(self.labels)), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                chunk = order[start:start + self.batch_size]
                batch = self.tokenizer.pad({"input_ids": [encoded[i] for i in chunk]}, return_tensors="pt")
                logits = self.model(**{k: v.to(self.device) for k, v in batch.items()}).logits
                probs[chunk] = torch.softmax(logits.float(), dim=-1).cpu().numpy()
        # several raw labels may map to one of ours (e.g. 1 and 2 stars): add them up
        merged = list(dict.fromkeys(self.labels))
        if len(merged) != len(self.labels):
            summed = np.zeros((len(texts), len(merged)), dtype=np.float32)
            for column, label in enumerate(self.labels):
                summed[:, merged.index(label)] += probs[:, column]
            return Prediction(merged, summed)
        return Prediction(self.labels, probs)


class NliZeroShotClassifier:
    """Zero-shot category with an NLI model (e.g. a multilingual XNLI model) and descriptions."""

    uses_embeddings = False

    def __init__(self, spec: ModelSpec, descriptions: dict[str, str]):
        from transformers import pipeline

        from nlp.encoder import pick_device

        device = pick_device(spec.device)
        self.pipe = pipeline("zero-shot-classification", model=spec.model, revision=spec.revision, device=device)
        self.labels = list(descriptions)
        self.descriptions = descriptions
        self.batch_size = spec.batch_size
        self.model_id = model_name(spec.model, spec.revision)

    def predict(self, texts: list[str], embeddings: np.ndarray | None = None) -> Prediction:
        candidates = [self.descriptions[label] for label in self.labels]
        probs = np.zeros((len(texts), len(self.labels)), dtype=np.float32)
        results = self.pipe(texts, candidate_labels=candidates, batch_size=self.batch_size)
        for row, result in enumerate(results if isinstance(results, list) else [results]):
            for label_text, score in zip(result["labels"], result["scores"]):
                probs[row, candidates.index(label_text)] = score
        return Prediction(self.labels, probs)


def _builtin_head(task: str) -> LinearHead:
    """The shipped head for ``task``, or one trained now from the project's own data."""
    shipped = BUILTIN_HEADS_DIR / f"{task}.json"
    cached = models_dir() / "heads" / f"{task}.json"
    if not shipped.is_file() and not cached.is_file():
        from nlp import builtin

        log.warning("built-in %s head not found; training it from the project's own data", task)
        builtin.build_head(task, out_path=cached)
    path = shipped if shipped.is_file() else cached
    head = LinearHead.load(path)
    head.version = local_version(path)  # content fingerprint: a retrained head is a new version
    return head


def _is_nli(spec: ModelSpec) -> bool:
    from transformers import AutoConfig

    try:
        config = AutoConfig.from_pretrained(spec.model, revision=spec.revision)
    except Exception:  # noqa: BLE001 - the classifier load reports the real error
        return False
    return any("entail" in str(name).lower() for name in (config.id2label or {}).values())


def classifier_for(task: str, models: ModelsConfig, encoder):
    """Load the classifier of ``task`` (sentiment, emotion or category) for this config."""
    spec: ModelSpec = getattr(models, task)
    key = (task, spec.model_dump_json(), json.dumps(models.categories, sort_keys=True), encoder.name)
    with _LOCK:
        if key in _CLASSIFIERS:
            return _CLASSIFIERS[key]
    classifier = _load_classifier(task, spec, models, encoder)
    with _LOCK:
        _CLASSIFIERS[key] = classifier
    return classifier


_CLASSIFIERS: dict[tuple, object] = {}


def _descriptions(task: str, models: ModelsConfig) -> dict[str, str]:
    if task == "category":
        return label_sets.category_descriptions(models.categories)
    if task == "emotion":
        return dict(label_sets.EMOTION_DESCRIPTIONS)
    return dict(SENTIMENT_DESCRIPTIONS)


def _load_classifier(task: str, spec: ModelSpec, models: ModelsConfig, encoder):
    descriptions = _descriptions(task, models)
    wanted = list(descriptions) if task == "category" else TASK_LABELS[task]
    if spec.model.startswith("builtin:"):
        if spec.model not in (f"builtin:{task}", f"builtin:{task}-zero-shot"):
            raise ModelError(f"models.{task}: unknown built-in model '{spec.model}' (use builtin:{task})")
        head = None if spec.model.endswith("zero-shot") else _builtin_head(task)
        if head is not None and head.encoder == encoder.name and head.labels == wanted:
            return HeadClassifier(head, f"{head.name}@{head.version}")
        if head is not None:
            why = "another encoder" if head.encoder != encoder.name else "other labels"
            log.info("built-in %s head was trained for %s: using zero-shot label descriptions", task, why)
        zero = zero_shot_head(task, descriptions, encoder)
        return HeadClassifier(zero, f"zero-shot-{task}@{encoder.name}")
    path = Path(spec.model)
    if is_head_dir(path):
        try:
            head = LinearHead.load(path)
        except HeadError as exc:
            raise ModelError(f"models.{task}: {exc}") from None
        if head.encoder != encoder.name:
            raise ModelError(f"models.{task}: head {path} was trained on embeddings of '{head.encoder}', "
                             f"but models.embeddings is '{encoder.name}'; retrain it with crisiswatch nlp train")
        return HeadClassifier(head, f"{head.name}@{local_version(path) if path.is_dir() else head.version}")
    try:
        if task == "category" and _is_nli(spec):
            return NliZeroShotClassifier(spec, descriptions)
        return SequenceClassifier(task, spec, wanted if task != "category" else list(descriptions))
    except OSError as exc:
        raise ModelError(f"models.{task}: cannot load '{spec.model}': {exc}") from None


def clear_cache() -> None:
    """Forget loaded models (tests switch between tiny and real models)."""
    clear_encoder_cache()
    with _LOCK:
        _CLASSIFIERS.clear()
