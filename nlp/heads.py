"""Classification heads that read the shared sentence embedding.

A head is a softmax layer over the encoder's embedding: a few kilobytes of JSON that say
which encoder they were trained on, their labels, their weights and how they were made.
Many heads can share one encoder pass, which is what makes enrichment cheap. Zero-shot
heads are the same thing with the label descriptions' embeddings as weights.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

HEAD_FILE = "crisiswatch_head.json"
FORMAT = "crisiswatch-head/1"


class HeadError(ValueError):
    """A head file is missing, malformed or made for another encoder."""


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


@dataclass
class LinearHead:
    """``probs = softmax(emb @ weights.T + bias)``."""

    task: str
    labels: list[str]
    encoder: str
    weights: np.ndarray  # (n_labels, dim)
    bias: np.ndarray  # (n_labels,)
    name: str = "head"
    version: str = "1"
    info: dict[str, Any] = field(default_factory=dict)
    features: list[str] = field(default_factory=list)
    """Lexicon feature blocks (``nlp.lexicon``) appended to the embedding, e.g. ``["vader"]``."""

    def predict_proba(self, embeddings: np.ndarray, texts: list[str] | None = None) -> np.ndarray:
        if self.features:
            if texts is None:
                raise HeadError(f"head '{self.name}' reads lexicon features {self.features}: pass the texts")
            from nlp.lexicon import features

            embeddings = np.hstack([embeddings, features(self.features, texts)])
        if embeddings.shape[1] != self.weights.shape[1]:
            raise HeadError(f"head '{self.name}' expects {self.weights.shape[1]}-dim inputs (embeddings of "
                            f"'{self.encoder}' + {self.features or 'no'} features), got {embeddings.shape[1]}")
        return softmax(embeddings @ self.weights.T + self.bias)

    @property
    def model_id(self) -> str:
        return f"{self.name}@{self.version}"

    # -- persistence -------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, "task": self.task, "name": self.name, "version": self.version,
                "labels": self.labels, "encoder": self.encoder, "features": self.features,
                "weights": np.round(self.weights, 6).tolist(), "bias": np.round(self.bias, 6).tolist(),
                "info": self.info}

    def save(self, path: Path) -> Path:
        """Write to ``path`` (a directory gets ``crisiswatch_head.json`` inside)."""
        path = Path(path)
        target = path / HEAD_FILE if path.suffix != ".json" else path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(self.to_json(), ensure_ascii=False), encoding="utf-8")
        return target

    @classmethod
    def load(cls, path: Path) -> "LinearHead":
        path = Path(path)
        target = path / HEAD_FILE if path.is_dir() else path
        try:
            data = json.loads(target.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise HeadError(f"{target}: no head file") from None
        except json.JSONDecodeError as exc:
            raise HeadError(f"{target}: not valid JSON ({exc})") from None
        if data.get("format") != FORMAT:
            raise HeadError(f"{target}: not a crisiswatch head (format {data.get('format')!r})")
        weights = np.asarray(data["weights"], dtype=np.float32)
        bias = np.asarray(data["bias"], dtype=np.float32)
        if weights.shape[0] != len(data["labels"]) or bias.shape != (len(data["labels"]),):
            raise HeadError(f"{target}: weights do not match the {len(data['labels'])} labels")
        return cls(task=data["task"], labels=list(data["labels"]), encoder=data["encoder"], weights=weights,
                   bias=bias, name=data.get("name", "head"), version=str(data.get("version", "1")),
                   info=data.get("info", {}), features=list(data.get("features", [])))


def is_head_dir(path: str | Path) -> bool:
    candidate = Path(path)
    return (candidate / HEAD_FILE).is_file() or (candidate.suffix == ".json" and candidate.is_file())


def zero_shot_head(task: str, descriptions: dict[str, str], encoder, temperature: float = 0.02) -> LinearHead:
    """A head whose weights are the label descriptions' embeddings (cosine / temperature).

    E5 wants ``passage:`` for the documents matched against a ``query:``; the descriptions
    play the document role here, so they are encoded with that prefix.
    """
    labels = list(descriptions)
    original_prefix = encoder.prefix
    encoder.prefix = "passage: " if original_prefix.startswith("query: ") else original_prefix
    try:
        vectors = encoder.encode([descriptions[label] for label in labels])
    finally:
        encoder.prefix = original_prefix
    return LinearHead(task=task, labels=labels, encoder=encoder.name, weights=vectors / temperature,
                      bias=np.zeros(len(labels), dtype=np.float32), name=f"zero-shot-{task}", version="1",
                      info={"kind": "zero-shot", "temperature": temperature, "descriptions": descriptions})


def fit_linear_head(task: str, embeddings: np.ndarray, labels: list[str], *, encoder: str, label_order: list[str]
                    | None = None, c: float = 2.0, sample_weight: np.ndarray | None = None, name: str = "head",
                    info: dict[str, Any] | None = None, features: list[str] | None = None,
                    texts: list[str] | None = None) -> LinearHead:
    """Multinomial logistic regression (scikit-learn) on frozen embeddings, balanced classes.

    With ``features`` (lexicon feature names), ``texts`` give the lexicon scores appended
    to each embedding."""
    from sklearn.linear_model import LogisticRegression

    if features:
        from nlp.lexicon import features as lexicon_features

        embeddings = np.hstack([embeddings, lexicon_features(features, texts or [])])

    order = label_order or sorted(set(labels))
    unknown = sorted(set(labels) - set(order))
    if unknown:
        raise HeadError(f"labels {unknown} are not in the task's label list {order}")
    present = [label for label in order if label in set(labels)]
    if len(present) < 2:
        raise HeadError("training needs at least two different labels")
    model = LogisticRegression(C=c, max_iter=2000, class_weight="balanced")
    model.fit(embeddings, labels, sample_weight=sample_weight)
    weights = np.full((len(order), embeddings.shape[1]), 0.0, dtype=np.float32)
    bias = np.full(len(order), -30.0, dtype=np.float32)  # labels absent from training never win
    for row, label in enumerate(model.classes_):
        index = order.index(label)
        if len(model.classes_) == 2:  # scikit-learn keeps one row for two classes
            sign = 1.0 if row == 1 else -1.0
            weights[index] = sign * model.coef_[0] / 2
            bias[index] = sign * model.intercept_[0] / 2
        else:
            weights[index] = model.coef_[row]
            bias[index] = model.intercept_[row]
    # the class priors the head assumes (balanced training: each class's weighted share after
    # scikit-learn's class weights); nlp.priors rescales from these to the stream's priors
    y = np.asarray(labels)
    w = np.ones(len(labels)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    balanced = {label: len(labels) / (len(present) * int((y == label).sum())) for label in present}
    mass = np.array([float((w[y == label]).sum() * balanced[label]) if label in balanced else 0.0
                     for label in order])
    train_priors = np.where(mass > 0, mass / mass.sum(), 0.0)
    meta = {"kind": "logistic-regression", "C": c, "n_train": int(len(labels)),
            "train_priors": [round(float(p), 5) for p in train_priors],
            "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    meta.update(info or {})
    return LinearHead(task=task, labels=order, encoder=encoder, weights=weights, bias=bias, name=name, info=meta,
                      features=list(features or []))


def cross_validated_temperature(embeddings: np.ndarray, labels: list[str], *, label_order: list[str], c: float,
                                sample_weight: np.ndarray | None = None, groups: list | None = None,
                                folds: int = 5) -> float:
    """The softmax temperature that best fits the head's out-of-fold predictions on its own
    training rows (Guo et al. 2017 temperature scaling; ``groups`` keep copies of one text in
    one fold). Below 1: the regularised head is less sure than its accuracy warrants.

    It does not change any label (argmax is the same at every temperature); ``nlp.priors``
    reads it, because EM re-estimation of the stream's priors on too flat posteriors has
    nothing to hold on to and drifts to one class (measured; see the model card)."""
    from scipy.optimize import minimize_scalar
    from sklearn.model_selection import StratifiedGroupKFold

    y = np.asarray(labels)
    weights = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    groups = np.arange(len(y)) if groups is None else np.asarray(groups)
    logits = np.zeros((len(y), len(label_order)))
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=0)
    for train, test in splitter.split(embeddings, y, groups):
        head = fit_linear_head("cv", embeddings[train], list(y[train]), encoder="cv", label_order=label_order, c=c,
                               sample_weight=weights[train])
        logits[test] = embeddings[test] @ head.weights.T + head.bias
    gold = np.array([label_order.index(label) for label in y])

    def nll(temperature: float) -> float:
        probs = softmax(logits / temperature)[np.arange(len(y)), gold]
        return float(-(weights * np.log(probs + 1e-12)).sum() / weights.sum())

    return float(minimize_scalar(nll, bounds=(0.05, 20.0), method="bounded").x)
