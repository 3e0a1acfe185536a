"""``crisiswatch nlp train``: a head for a team's own labelled posts and categories.

The file is CSV (with a header) or JSON Lines; the text is in ``text`` (or ``content``,
``review``, ``x``), the label in ``label`` (or the task's name). A stratified split is held
out, the head is fitted on the rest, and accuracy and per-class F1 on the held-out part are
printed and saved with the head. The saved directory is what ``models.<task>.model`` points
at; it only works with the embeddings model it was trained on (the file records which).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from crisiswatch.core.config import Config
from nlp import labels as label_sets
from nlp.heads import LinearHead, fit_linear_head
from nlp.textprep import clean, model_text, skip_reason

TASKS = ("sentiment", "emotion", "category")
_TEXT_KEYS = ("text", "content", "review", "x", "sentence")


class TrainingDataError(ValueError):
    """The labelled file cannot be used; the message says where and why."""


@dataclass
class TrainReport:
    head: LinearHead
    out_dir: Path
    n_train: int
    n_test: int
    accuracy: float
    macro_f1: float
    per_class: dict[str, dict[str, float]]
    skipped: int

    def table(self) -> str:
        lines = [f"{'label':<20} {'precision':>9} {'recall':>7} {'f1':>6} {'n':>5}"]
        for label, row in self.per_class.items():
            lines.append(f"{label:<20} {row['precision']:>9.3f} {row['recall']:>7.3f} {row['f1']:>6.3f} "
                         f"{int(row['support']):>5}")
        lines.append(f"accuracy={self.accuracy:.3f} macro_f1={self.macro_f1:.3f} "
                     f"(held out {self.n_test}, trained on {self.n_train}, skipped {self.skipped})")
        return "\n".join(lines)


def _pick(row: dict, keys: tuple[str, ...]) -> str | None:
    lowered = {str(k).strip().lower(): v for k, v in row.items() if k is not None}
    for key in keys:
        if key in lowered and lowered[key] not in (None, ""):
            return str(lowered[key])
    return None


def read_labelled(path: Path, task: str) -> tuple[list[tuple[str, str]], int]:
    """(text, label) pairs and the number of rows skipped for empty text or label."""
    path = Path(path)
    if not path.is_file():
        raise TrainingDataError(f"{path}: file not found")
    label_keys = ("label", task, "labels", "y")
    rows: list[tuple[int, dict]] = []
    if path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        for number, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise TrainingDataError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
            if not isinstance(record, dict):
                raise TrainingDataError(f"{path}:{number}: each line must be a JSON object")
            rows.append((number, record))
    elif path.suffix.lower() in (".csv", ".tsv"):
        with open(path, encoding="utf-8-sig", newline="") as handle:
            delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
            reader = csv.DictReader(handle, delimiter=delimiter)
            if not reader.fieldnames or not _pick({f: "x" for f in reader.fieldnames}, _TEXT_KEYS):
                raise TrainingDataError(f"{path}:1: the header needs a text column ({', '.join(_TEXT_KEYS)})")
            if not _pick({f: "x" for f in reader.fieldnames}, label_keys):
                raise TrainingDataError(f"{path}:1: the header needs a label column ({', '.join(label_keys)})")
            rows = [(number, row) for number, row in enumerate(reader, start=2)]
    else:
        raise TrainingDataError(f"{path}: use a .csv, .tsv or .jsonl file")
    pairs, skipped = [], 0
    for number, row in rows:
        text, label = _pick(row, _TEXT_KEYS), _pick(row, label_keys)
        if text is None or label is None or skip_reason(clean(text)):
            skipped += 1
            continue
        pairs.append((text, _normalise_label(label, task, f"{path}:{number}")))
    return pairs, skipped


def _normalise_label(label: str, task: str, where: str) -> str:
    if task == "category":
        return label.strip()
    allowed = label_sets.SENTIMENTS if task == "sentiment" else label_sets.EMOTIONS
    mapped = label_sets.canonical_label(label, allowed)
    if mapped is None:
        raise TrainingDataError(f"{where}: label '{label}' is not one of {', '.join(allowed)}")
    return mapped


def train(task: str, data: Path, out_dir: Path, config: Config, *, test_size: float = 0.2, seed: int = 0,
          c: float = 2.0) -> TrainReport:
    from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support
    from sklearn.model_selection import train_test_split

    from nlp.encoder import encoder_for

    if task not in TASKS:
        raise TrainingDataError(f"task must be one of {', '.join(TASKS)}")
    pairs, skipped = read_labelled(data, task)
    labels = [label for _, label in pairs]
    counts = {label: labels.count(label) for label in sorted(set(labels))}
    if len(counts) < 2:
        raise TrainingDataError(f"{data}: needs at least two different labels, found {sorted(counts)}")
    if len(pairs) < 10:
        raise TrainingDataError(f"{data}: needs at least 10 labelled rows, found {len(pairs)}")
    stratify = labels if min(counts.values()) >= 2 else None
    train_idx, test_idx = train_test_split(np.arange(len(pairs)), test_size=test_size, random_state=seed,
                                           stratify=stratify)
    encoder = encoder_for(config.models.embeddings)
    embeddings = encoder.encode([model_text(clean(text)) for text, _ in pairs])
    order = (label_sets.SENTIMENTS if task == "sentiment" else label_sets.EMOTIONS if task == "emotion"
             else sorted(counts))
    head = fit_linear_head(task, embeddings[train_idx], [labels[i] for i in train_idx], encoder=encoder.name,
                           label_order=order, c=c, name=f"{task}-{Path(data).stem}",
                           info={"data": str(Path(data).name), "counts": counts, "test_size": test_size,
                                 "seed": seed})
    probs = head.predict_proba(embeddings[test_idx])
    predicted = [head.labels[i] for i in probs.argmax(axis=1)]
    gold = [labels[i] for i in test_idx]
    present = [label for label in order if label in set(gold) | set(predicted)]
    precision, recall, f1, support = precision_recall_fscore_support(gold, predicted, labels=present,
                                                                     zero_division=0)
    per_class = {label: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
                 for label, p, r, f, s in zip(present, precision, recall, f1, support)}
    accuracy = float(accuracy_score(gold, predicted))
    macro = float(f1_score(gold, predicted, labels=present, average="macro", zero_division=0))
    head.info["held_out"] = {"n": len(test_idx), "accuracy": round(accuracy, 4), "macro_f1": round(macro, 4),
                             "per_class": per_class}
    out_dir = Path(out_dir)
    head.save(out_dir)
    return TrainReport(head, out_dir, len(train_idx), len(test_idx), accuracy, macro, per_class, skipped)
