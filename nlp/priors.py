"""Class priors of the stream being read, re-estimated on unlabelled posts (Saerens et al. 2002).

Why: the heads are trained with balanced classes, so they assume every emotion is equally
common. In a real stream most posts are neutral or mildly negative and rage or panic is
rare; a balanced head then calls far too many posts "fear" or "anger", and alarms built on
those labels are mostly false. The EM procedure of Saerens, Latinne & Decaestecker (2002,
"Adjusting the outputs of a classifier to new a priori probabilities") estimates the
stream's priors from the head's own posteriors on unlabelled posts, then rescales each
posterior by new prior / training prior. No labels are needed.

``PriorState`` keeps a running estimate per deployment (under the data dir, like the topic
model), so a small batch is corrected with the priors of everything read before it and a
single post is never used to estimate anything on its own.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

MIN_POSTS = 200
"""Posts the running estimate must rest on before it is applied."""
MEMORY = 5000
"""The running estimate weighs at most this many earlier posts against a new batch (drifts with the stream)."""
FLOOR = 0.02
"""No class prior below this: EM on a small or skewed stream can otherwise drive a class to zero forever."""
_LOCK = threading.Lock()


def adjust(probs: np.ndarray, train_priors: np.ndarray, new_priors: np.ndarray) -> np.ndarray:
    """Posteriors under ``new_priors``: p'(y|x) ∝ p(y|x) · new(y) / train(y)."""
    scaled = probs * (np.asarray(new_priors) / np.clip(np.asarray(train_priors, dtype=float), 1e-6, None))[None, :]
    return scaled / np.clip(scaled.sum(axis=1, keepdims=True), 1e-12, None)


def with_temperature(probs: np.ndarray, temperature: float) -> np.ndarray:
    """Posteriors at another softmax temperature (p ** (1/T), renormalised): the head's
    cross-validated calibration (``nlp.heads.cross_validated_temperature``), applied before EM."""
    if abs(temperature - 1.0) < 1e-9:
        return probs
    logs = np.log(np.clip(probs, 1e-12, None)) / temperature
    scaled = np.exp(logs - logs.max(axis=1, keepdims=True))
    return scaled / scaled.sum(axis=1, keepdims=True)


def em_priors(probs: np.ndarray, train_priors: np.ndarray | None = None, *, start: np.ndarray | None = None,
              max_iter: int = 200, tol: float = 1e-6, floor: float = FLOOR) -> np.ndarray:
    """The class priors that make the adjusted posteriors' mean equal the priors themselves."""
    n_classes = probs.shape[1]
    train = np.full(n_classes, 1.0 / n_classes) if train_priors is None else np.asarray(train_priors, dtype=float)
    priors = train.copy() if start is None else np.asarray(start, dtype=float)
    if len(probs) == 0:
        return priors
    for _ in range(max_iter):
        updated = adjust(probs, train, priors).mean(axis=0)
        updated = np.clip(updated, floor, None)
        updated /= updated.sum()
        if np.abs(updated - priors).max() < tol:
            priors = updated
            break
        priors = updated
    return priors


@dataclass
class PriorState:
    """Running prior estimate per task and head, saved as JSON."""

    path: Path
    tasks: dict[str, dict] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> "PriorState":
        try:
            return cls(Path(path), json.loads(Path(path).read_text(encoding="utf-8")))
        except (FileNotFoundError, json.JSONDecodeError):
            return cls(Path(path))

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(self.tasks, indent=1), encoding="utf-8")
        tmp.replace(self.path)

    def update(self, task: str, head_id: str, labels: list[str], probs: np.ndarray,
               train_priors: np.ndarray) -> tuple[np.ndarray, int]:
        """Fold a batch's EM estimate into the running one; returns (priors, posts it rests on)."""
        entry = self.tasks.get(task)
        if not entry or entry.get("head") != head_id or entry.get("labels") != labels:
            entry = {"head": head_id, "labels": labels, "priors": list(map(float, train_priors)), "n": 0}
        previous, n_old = np.asarray(entry["priors"]), int(entry["n"])
        batch = em_priors(probs, train_priors, start=previous if n_old else None)
        n_new = len(probs)
        weight_old = min(n_old, MEMORY)
        merged = (previous * weight_old + batch * n_new) / max(weight_old + n_new, 1)
        entry.update(priors=[round(float(p), 5) for p in merged], n=n_old + n_new)
        self.tasks[task] = entry
        return merged, n_old + n_new


def correct_stream(state_path: Path, task: str, head_id: str, labels: list[str], probs: np.ndarray,
                   train_priors: np.ndarray, temperature: float = 1.0) -> tuple[np.ndarray, str | None]:
    """Posteriors (calibrated with the head's ``temperature``) corrected to the stream's priors,
    and a short version tag (None: not applied yet, the posteriors are returned as they came)."""
    raw = probs
    probs = with_temperature(probs, temperature)
    with _LOCK:
        state = PriorState.load(state_path)
        priors, n = state.update(task, head_id, labels, probs, train_priors)
        state.save()
    if n < MIN_POSTS:
        return raw, None
    tag = "priors-" + "-".join(f"{p:.2f}" for p in priors)
    return adjust(probs, train_priors, priors), tag
