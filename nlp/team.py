"""The team's own heads: learnt from the labels the team gives posts, versioned, reversible.

Why: the built-in heads know a few hundred written examples; a team that corrects labels in
the console (or imports a CSV of them) should get heads that read its own stream. The labels
live in the store (``Store.save_labels``), so they survive re-enrichment and are shared by
every worker. ``train_team_head``:

* holds out a stratified part of the team's labels (never trained on) and scores the head in
  use now ("before") and the new head ("after") on it;
* trains on the rest plus the built-in head's own training data for that task (so 50 labels
  refine the built-in head instead of replacing it with a 50-example one); each team label
  weighs ``TEAM_WEIGHT`` times a built-in example. Team labels outside the built-in label
  set (a custom category list) train on the team's labels alone;
* writes ``<data_dir>/nlp/team/<task>/v<N>/`` (the head and its report) and makes it current.

``rollback`` makes the previous version current (or the built-in head, before v1); the
enrichment records ``team-<task>@v<N>`` as the model of every label such a head produced.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from crisiswatch.core.config import Config
from crisiswatch.core.store.base import Store, TeamLabel
from nlp import labels as label_sets
from nlp.heads import LinearHead, fit_linear_head
from nlp.paths import state_dir
from nlp.textprep import clean, model_text
from nlp.train import TASKS, TrainingDataError, _normalise_label

TEAM_WEIGHT = 8.0
"""A team label counts as much as two seed posts: it is from the stream the head will read."""
MIN_LABELS = 10
_ID_KEYS = ("post_id", "id", "post")


def team_dir(config: Config, task: str) -> Path:
    return state_dir(config) / "team" / task


def versions(config: Config, task: str) -> list[int]:
    folder = team_dir(config, task)
    return sorted(int(p.name[1:]) for p in folder.glob("v*") if p.name[1:].isdigit() and (p / "crisiswatch_head.json").is_file())


def current_version(config: Config, task: str) -> int | None:
    """The version in use, or None for the built-in head."""
    pointer = team_dir(config, task) / "CURRENT"
    try:
        text = pointer.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return int(text[1:]) if text.startswith("v") and text[1:].isdigit() else None


def _set_current(config: Config, task: str, version: int | None, why: str) -> None:
    folder = team_dir(config, task)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / "CURRENT.tmp"
    tmp.write_text(f"v{version}\n" if version else "builtin\n", encoding="utf-8")
    tmp.replace(folder / "CURRENT")
    with open(folder / "history.log", "a", encoding="utf-8") as log:
        log.write(f"{datetime.now(timezone.utc).isoformat(timespec='seconds')}\t{'v%d' % version if version else 'builtin'}\t{why}\n")


def current_head(config: Config, task: str) -> tuple[LinearHead, str] | None:
    """The team's current head for ``task`` and its model id (``team-<task>@v<N>``), or None."""
    version = current_version(config, task)
    if version is None:
        return None
    path = team_dir(config, task) / f"v{version}"
    head = _load_cached(str(path), (path / "crisiswatch_head.json").stat().st_mtime_ns)
    return head, f"team-{task}@v{version}"


_HEADS: dict[tuple[str, int], LinearHead] = {}


def _load_cached(path: str, mtime: int) -> LinearHead:
    if (path, mtime) not in _HEADS:
        _HEADS[(path, mtime)] = LinearHead.load(Path(path))
    return _HEADS[(path, mtime)]


def rollback(config: Config, task: str) -> str:
    """Make the version before the current one current; returns what is in use now."""
    current = current_version(config, task)
    if current is None:
        raise TrainingDataError(f"{task}: the built-in head is already in use; nothing to roll back")
    older = [v for v in versions(config, task) if v < current]
    target = older[-1] if older else None
    _set_current(config, task, target, f"rollback from v{current}")
    return f"team-{task}@v{target}" if target else f"built-in {task} head"


# ---- importing labels -----------------------------------------------------------------
@dataclass
class ImportReport:
    imported: int
    unknown_posts: list[str]
    by_task: dict[str, int]


def import_labels(store: Store, path: Path, source: str = "import") -> ImportReport:
    """Read ``post_id,task,label`` rows (CSV with a header) into the store as the team's labels.

    Every row is checked before anything is stored: a bad task or label fails with the file
    and line; labels of posts the store does not hold are reported and left out."""
    path = Path(path)
    if not path.is_file():
        raise TrainingDataError(f"{path}: file not found")
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t" if path.suffix.lower() == ".tsv" else ",")
        fields = {str(f).strip().lower(): f for f in reader.fieldnames or []}
        id_key = next((fields[k] for k in _ID_KEYS if k in fields), None)
        if id_key is None or "task" not in fields or "label" not in fields:
            raise TrainingDataError(f"{path}:1: the header needs post_id, task and label columns "
                                    f"(found {', '.join(fields) or 'none'})")
        pending: list[TeamLabel] = []
        now = datetime.now(timezone.utc)
        for number, row in enumerate(reader, start=2):
            post_id, task, label = (str(row.get(id_key) or "").strip(), str(row.get(fields["task"]) or "").strip().lower(),
                                    str(row.get(fields["label"]) or "").strip())
            if not post_id and not label:
                continue
            if task not in TASKS:
                raise TrainingDataError(f"{path}:{number}: task '{task}' is not one of {', '.join(TASKS)}")
            if not post_id or not label:
                raise TrainingDataError(f"{path}:{number}: needs a post id and a label")
            pending.append(TeamLabel(post_id, task, _normalise_label(label, task, f"{path}:{number}"), source, now))
    known = {post.id for post in store.get_posts(sorted({label.post_id for label in pending}))}
    kept = [label for label in pending if label.post_id in known]
    store.save_labels(kept)
    by_task: dict[str, int] = {}
    for label in kept:
        by_task[label.task] = by_task.get(label.task, 0) + 1
    return ImportReport(len(kept), sorted({l.post_id for l in pending} - known), by_task)


# ---- training -------------------------------------------------------------------------
@dataclass
class TeamTrainReport:
    task: str
    version: int
    out_dir: Path
    n_train: int
    n_test: int
    before: dict
    after: dict
    before_model: str

    def table(self) -> str:
        labels = sorted(set(self.before["per_class"]) | set(self.after["per_class"]))
        lines = [f"held-out team labels: {self.n_test} (trained on {self.n_train})",
                 f"{'label':<18} {'F1 before':>9} {'F1 after':>9} {'n':>5}"]
        for label in labels:
            b, a = self.before["per_class"].get(label, {}), self.after["per_class"].get(label, {})
            lines.append(f"{label:<18} {b.get('f1', 0):>9.3f} {a.get('f1', 0):>9.3f} {int(a.get('support', b.get('support', 0))):>5}")
        lines.append(f"accuracy  {self.before['accuracy']:.3f} -> {self.after['accuracy']:.3f}   "
                     f"macro-F1 {self.before['macro_f1']:.3f} -> {self.after['macro_f1']:.3f}   "
                     f"(before: {self.before_model}; after: team-{self.task}@v{self.version})")
        return "\n".join(lines)


def _scores(gold: list[str], predicted: list[str]) -> dict:
    from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

    present = sorted(set(gold))
    p, r, f, s = precision_recall_fscore_support(gold, predicted, labels=present, zero_division=0)
    return {"accuracy": round(float(accuracy_score(gold, predicted)), 4),
            "macro_f1": round(float(f1_score(gold, predicted, labels=present, average="macro", zero_division=0)), 4),
            "per_class": {label: {"precision": round(float(a), 4), "recall": round(float(b), 4), "f1": round(float(c), 4),
                                  "support": int(d)} for label, a, b, c, d in zip(present, p, r, f, s)}}


def base_training_data(task: str, encoder, allowed: set[str]) -> tuple[np.ndarray, list[str], np.ndarray, list[str]]:
    """The built-in head's training rows for ``task`` embedded by ``encoder`` (cached on disk)."""
    from nlp.builtin import training_set
    from nlp.embcache import cached_embeddings

    texts, labels, weights, order = training_set(task)
    if not set(allowed) <= set(order):
        return np.zeros((0, encoder.dim), np.float32), [], np.zeros(0, np.float32), []
    return cached_embeddings(encoder, texts, f"builtin-{task}"), list(labels), weights, texts


def fit_team_head(task: str, encoder, team_texts: list[str], team_labels: list[str], *,
                  base: tuple | None = None, c: float | None = None) -> LinearHead:
    """A head on the built-in training rows plus the team's rows (weighted ``TEAM_WEIGHT``)."""
    from nlp.builtin import SENTIMENT_C

    embeddings = encoder.encode(team_texts) if team_texts else np.zeros((0, encoder.dim), np.float32)
    base = base if base is not None else base_training_data(task, encoder, set(team_labels))
    base_emb, base_labels, base_weights, base_texts = base
    order = (label_sets.SENTIMENTS if task == "sentiment" else label_sets.EMOTIONS if task == "emotion"
             else list(label_sets.CATEGORY_DESCRIPTIONS) if base_labels else sorted(set(team_labels)))
    features = ["vader", "weibo_emoticons"] if task == "sentiment" else []
    all_emb = np.vstack([base_emb, embeddings]) if len(base_labels) else embeddings
    all_labels = list(base_labels) + list(team_labels)
    all_weights = np.concatenate([np.asarray(base_weights, dtype=np.float32),
                                  np.full(len(team_labels), TEAM_WEIGHT, dtype=np.float32)])
    c = c if c is not None else (SENTIMENT_C if task == "sentiment" else 1.0)
    head = fit_linear_head(task, all_emb, all_labels, encoder=encoder.name, label_order=order, c=c,
                           sample_weight=all_weights, name=f"team-{task}", features=features,
                           texts=list(base_texts) + list(team_texts),
                           info={"data": "the team's labels + the built-in head's training data",
                                 "team_labels": len(team_labels), "team_weight": TEAM_WEIGHT})
    if task != "sentiment" and len(set(all_labels)) >= 2:
        # the same calibration as the built-in heads (nlp.priors reads it before EM); it changes no label
        head.info["temperature"] = round(team_temperature(all_emb, all_labels, order, c, all_weights), 4)
    return head


def team_temperature(embeddings: np.ndarray, labels: list[str], order: list[str], c: float,
                     weights: np.ndarray) -> float:
    """The head's cross-validated softmax temperature, or 1.0 where a label has too few rows for
    the folds (a team's first handful of labels of a new category)."""
    from nlp.heads import cross_validated_temperature

    counts = {label: labels.count(label) for label in set(labels)}
    folds = min(5, min(counts.values()))
    if folds < 2:
        return 1.0
    return cross_validated_temperature(embeddings, labels, label_order=order, c=c, sample_weight=weights,
                                       folds=folds)


def train_team_head(store: Store, config: Config, task: str, *, test_size: float = 0.2, seed: int = 0,
                    activate: bool = True) -> TeamTrainReport:
    from sklearn.model_selection import train_test_split

    from nlp import registry

    if task not in TASKS:
        raise TrainingDataError(f"task must be one of {', '.join(TASKS)}")
    labels = store.get_labels(task)
    posts = {post.id: post for post in store.get_posts([label.post_id for label in labels])}
    rows = [(model_text(clean(posts[l.post_id].text, posts[l.post_id].title)), l.label) for l in labels
            if l.post_id in posts]
    if len(rows) < MIN_LABELS:
        raise TrainingDataError(f"{task}: the team has {len(rows)} labels of posts in the store; "
                                f"at least {MIN_LABELS} are needed (crisiswatch nlp labels import FILE.csv)")
    gold_all = [label for _, label in rows]
    counts = {label: gold_all.count(label) for label in set(gold_all)}
    if len(counts) < 2:
        raise TrainingDataError(f"{task}: the team's labels name only {sorted(counts)}; two labels at least")
    stratify = gold_all if min(counts.values()) >= 2 else None
    train_idx, test_idx = train_test_split(np.arange(len(rows)), test_size=test_size, random_state=seed,
                                           stratify=stratify)
    encoder = registry.encoder_for(config.models.embeddings)
    test_texts = [rows[i][0] for i in test_idx]
    gold = [rows[i][1] for i in test_idx]
    test_emb = encoder.encode(test_texts)

    current = current_head(config, task)
    if current is not None:
        before_head, before_model = current
        before_probs = before_head.predict_proba(test_emb, test_texts)
        before_labels = before_head.labels
    else:
        classifier = registry.classifier_for(task, config.models, encoder)
        prediction = classifier.predict(test_texts, test_emb if classifier.uses_embeddings else None)
        before_probs, before_labels, before_model = prediction.probs, prediction.labels, classifier.model_id
    before = _scores(gold, [before_labels[i] for i in before_probs.argmax(axis=1)])

    head = fit_team_head(task, encoder, [rows[i][0] for i in train_idx], [rows[i][1] for i in train_idx])
    after = _scores(gold, [head.labels[i] for i in head.predict_proba(test_emb, test_texts).argmax(axis=1)])
    version = (versions(config, task) or [0])[-1] + 1
    head.version = f"v{version}"
    head.info.update({"held_out": {"n": len(test_idx), "before": before, "after": after, "before_model": before_model},
                      "test_size": test_size, "seed": seed})
    out_dir = team_dir(config, task) / f"v{version}"
    head.save(out_dir)
    report = TeamTrainReport(task, version, out_dir, len(train_idx), len(test_idx), before, after, before_model)
    (out_dir / "report.json").write_text(json.dumps({"before_model": before_model, "before": before, "after": after,
                                                     "n_train": len(train_idx), "n_test": len(test_idx)}, indent=1),
                                         encoding="utf-8")
    if activate:
        _set_current(config, task, version, f"trained on {len(train_idx)} team labels")
    return report
